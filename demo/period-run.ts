import type { Client, WorkflowHandle } from '@temporalio/client';
import type pg from 'pg';
import { textTable } from '../views/text-table.ts';
import { authenticatePassword, decideException } from '../access/index.ts';
import { previousInvoiceCurrencies, printException } from '../cli/review-commands.ts';
import { listReviewExceptions, type ReviewExceptionRecord } from '../db/queries/review-exceptions.ts';
import type { CustomerPeriodResult, customerPeriodWorkflow } from '../workflows/customer-period.ts';
import { statusQuery, type CustomerPeriodInput } from '../workflows/definitions.ts';
import { startPeriodWorkflow } from '../activities/period-workflows.ts';
import { out, type DemoRun } from './demo-run.ts';
import { DemoError } from './workspace.ts';

/** Closes a customer-period now, as `tally period close` does; a period that has finished is a mistake here. */
export async function closePeriodNow(
  client: Client,
  taskQueue: string,
  input: CustomerPeriodInput,
): Promise<WorkflowHandle<typeof customerPeriodWorkflow>> {
  const handle = await startPeriodWorkflow(client, { taskQueue, input, closeNow: true });
  if (handle === undefined) throw new DemoError(`${input.customerId} ${input.period} was closed before this run`);
  return handle;
}

/** How long closing a period may take before the demo reports which workflows are stuck, and where. */
const CLOSE_DEADLINE_MS = 120_000;

/**
 * Shows the exception as a reviewer sees it and approves it as the demo's console user, through the
 * same path as `tally review approve` and the console (`decideException`: the workflow's `decide`
 * update, recorded under the authenticated user and audited).
 */
export async function approveAsReviewer(
  client: Client,
  periods: PeriodRun,
  exception: ReviewExceptionRecord,
  run: DemoRun,
): Promise<void> {
  // The row exists once the activity committed; the workflow takes the decision once it is waiting on that exception.
  await periods.waitUntilAwaiting(exception, run);
  const { pool } = run.connected;
  out('');
  printException(exception, { contract: false, invoiceCurrencies: await previousInvoiceCurrencies(pool, exception) });
  const { reviewer } = run.workspace;
  const user = await authenticatePassword(pool, { username: reviewer.username, password: reviewer.password });
  const outcome = await decideException({ pool, temporal: client }, user, exception.exceptionId, {
    kind: 'approve',
    note: 'demo: launch-month usage, expected',
  });
  out(`\n   tally review approve ${exception.exceptionId} --as ${user.username}: ${outcome.message}`);
}

/** The workflows of one close: which finished, which wait for a person. */
export class PeriodRun {
  private readonly finished = new Map<string, CustomerPeriodResult>();
  private readonly failed = new Map<string, unknown>();
  private readonly all: Promise<unknown>;

  constructor(private readonly handles: readonly WorkflowHandle<typeof customerPeriodWorkflow>[]) {
    this.all = Promise.all(
      handles.map((handle) =>
        handle.result().then(
          (result) => void this.finished.set(handle.workflowId, result),
          (error: unknown) => void this.failed.set(handle.workflowId, error),
        ),
      ),
    );
  }

  get finishedCount(): number {
    return this.finished.size;
  }

  /** Waits until every workflow has finished or waits on an exception; returns the waiting exceptions. */
  async settle(pool: pg.Pool, run: DemoRun): Promise<ReviewExceptionRecord[]> {
    const ids = new Set(this.handles.map((handle) => handle.workflowId));
    const deadline = Date.now() + CLOSE_DEADLINE_MS;
    for (;;) {
      run.assertRunning();
      this.assertNoFailure();
      const waiting = (await listReviewExceptions(pool, { status: 'waiting' })).filter(
        (exception) => ids.has(exception.workflowId) && !this.finished.has(exception.workflowId),
      );
      if (this.finished.size + waiting.length >= this.handles.length) return waiting;
      if (Date.now() > deadline)
        throw new DemoError(
          `workflows not finished after ${CLOSE_DEADLINE_MS / 1000} s: ${await this.describeUnfinished()}`,
        );
      await sleep(200);
    }
  }

  async waitUntilAwaiting(exception: ReviewExceptionRecord, run: DemoRun): Promise<void> {
    const handle = this.handles.find((candidate) => candidate.workflowId === exception.workflowId);
    if (handle === undefined)
      throw new DemoError(`exception ${exception.exceptionId} belongs to no workflow of this close`);
    const deadline = Date.now() + 30_000;
    while ((await handle.query(statusQuery)).openExceptionId !== exception.exceptionId) {
      run.assertRunning();
      if (Date.now() > deadline)
        throw new DemoError(`workflow ${handle.workflowId} is not waiting on ${exception.exceptionId}`);
      await sleep(100);
    }
  }

  async results(): Promise<CustomerPeriodResult[]> {
    await this.all;
    this.assertNoFailure();
    return this.handles.map((handle) => this.finished.get(handle.workflowId) as CustomerPeriodResult);
  }

  private assertNoFailure(): void {
    for (const [workflowId, error] of this.failed) {
      throw new DemoError(
        `workflow ${workflowId} failed: ${error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}` : String(error)}`,
      );
    }
  }

  private async describeUnfinished(): Promise<string> {
    const rows = await Promise.all(
      this.handles
        .filter((handle) => !this.finished.has(handle.workflowId))
        .map(async (handle) => {
          const stage = await handle.query(statusQuery).then(
            (status) => status.stage,
            (error: unknown) => `unknown (${error instanceof Error ? error.message : String(error)})`,
          );
          return [handle.workflowId, stage];
        }),
    );
    return `\n${textTable(['workflow', 'stage'], rows)}`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
