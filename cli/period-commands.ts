import os from 'node:os';
import type { Command } from 'commander';
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { billingPeriod } from '../domain/period.ts';
import { liveInvoiceId } from '../domain/period-rerun.ts';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import {
  CALCULATION_VERSION,
  customerPeriodWorkflowId,
  statusQuery,
  type CustomerPeriodInput,
  type PeriodRerun,
  type PeriodStatus,
} from '../workflows/definitions.ts';
import { startPeriodWorkflow } from '../activities/period-workflows.ts';
import type { CustomerPeriodResult } from '../workflows/customer-period.ts';
import { currentLiveInvoice, findInvoice, type InvoiceRecord } from '../db/queries/invoices.ts';
import { periodOutcome } from '../db/queries/customer-periods.ts';
import { periodReruns } from '../db/queries/period-reruns.ts';
import { latestContractPublication } from '../db/queries/contract-publications.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { connectTemporal, ensureServices, printTable, withDatabase } from './services.ts';

/** A close that could never bill, refused before any workflow starts. */
class PeriodCloseRefused extends TallyError {
  constructor(code: string, message: string) {
    super(code, message, { permanent: true });
  }
}

/** How long `period status` waits for one workflow to answer its status query. */
const STATUS_QUERY_TIMEOUT_MS = 3_000;

/** Ops' view of the customer-period workflows: close early, see where each one stands. */
export function registerPeriodCommands(program: Command): void {
  const period = program.command('period');

  period
    .command('close <customer> <period>')
    .description('close the period now instead of at period end + grace (starts the workflow if needed)')
    .action(async (customerId: string, periodName: string) => {
      // Refused before anything starts: a period outside the years Tally bills (0026-10 is not 1926-10)...
      billingPeriod(periodName);
      const { endpoints } = await ensureServices();
      const { final, contract } = await withDatabase(async (pool) => ({
        // The live invoice that stands: a re-run's, once one replaced the held draft.
        final:
          (await currentLiveInvoice(pool, customerId, periodName)) ??
          (await findInvoice(pool, `inv:${customerId}:${periodName}`)),
        contract: await latestContractPublication(pool, customerId),
      }));
      // A period that has ended is final: closing it again changes nothing, and says so.
      if (final !== undefined && final.status !== 'draft') {
        process.stdout.write(`${describeFinal(customerId, periodName, final)}\n`);
        return;
      }
      // ...and a customer no contract covers, whose close could only stop and wait.
      if (contract === undefined)
        throw new PeriodCloseRefused(
          'unknown_customer',
          `customer ${customerId} has no published contract: there are no terms to bill ${periodName} under. Publish one first (tally contracts publish FILE); usage already received is kept, and its periods open once a contract covers them`,
        );
      const temporal = await connectTemporal(endpoints);
      try {
        const input: CustomerPeriodInput = {
          customerId,
          period: periodName,
          mode: 'live',
          calculationVersion: CALCULATION_VERSION,
        };
        const handle = await startPeriodWorkflow(temporal.client, {
          taskQueue: parseBillingWorkerEnv().taskQueue,
          input,
          closeNow: true,
        });
        if (handle === undefined) {
          process.stdout.write(
            `${customerId} ${periodName} is already closed: its workflow ${customerPeriodWorkflowId(input)} has finished (tally period status ${customerId} ${periodName})\n`,
          );
          return;
        }
        process.stdout.write(`close requested: ${handle.workflowId}\n`);
      } finally {
        await temporal.close();
      }
    });

  period
    .command('rerun <customer> <period>')
    .description('re-rate a held period (review rejected) as a new draft that goes through review again')
    .requiredOption('--reason <text>', 'why it is re-run (recorded in the audit log)')
    .option('--by <name>', 'who asks (default: the OS user)')
    .action(async (customerId: string, periodName: string, options: { reason: string; by?: string }) => {
      billingPeriod(periodName);
      const reason = options.reason.trim();
      if (reason === '') throw new PeriodCloseRefused('reason_required', '--reason must say why the period is re-run');
      const requestedBy = options.by ?? os.userInfo().username;
      const { endpoints } = await ensureServices();
      const { current, outcome, reruns } = await withDatabase(async (pool) => ({
        current: await currentLiveInvoice(pool, customerId, periodName),
        outcome: await periodOutcome(pool, customerId, periodName),
        reruns: await periodReruns(pool, customerId, periodName),
      }));
      const last = reruns.at(-1);
      const held = current?.status === 'held' || (current === undefined && outcome === 'held');
      if (!held) {
        // A re-run already under way or done: the same request again (a retried command) is answered
        // with it; anything else is refused, saying what stands.
        if (last !== undefined && (current === undefined || current.invoiceId === last.rerunInvoiceId)) {
          const standing = `re-run ${last.rerunNumber} of ${customerId} ${periodName} (${last.workflowId}), asked by ${last.requestedBy} at ${last.requestedAt}: ${last.reason}; its draft ${last.rerunInvoiceId} is ${current?.status ?? 'not rated yet'}`;
          if (last.reason === reason && last.requestedBy === requestedBy) {
            process.stdout.write(`already requested: ${standing}\n`);
            return;
          }
          throw new PeriodCloseRefused('period_not_held', `${customerId} ${periodName} is not held: ${standing}`);
        }
        throw new PeriodCloseRefused(
          'period_not_held',
          current === undefined
            ? `${customerId} ${periodName} is not held: it has no invoice yet (tally period status ${customerId} ${periodName})`
            : `${customerId} ${periodName} is not held: ${describeFinal(customerId, periodName, current)}`,
        );
      }
      const rerun: PeriodRerun = {
        number: (last?.rerunNumber ?? 0) + 1,
        ...(current === undefined ? {} : { heldInvoiceId: current.invoiceId }),
        reason,
        requestedBy,
      };
      const input: CustomerPeriodInput = {
        customerId,
        period: periodName,
        mode: 'live',
        calculationVersion: CALCULATION_VERSION,
        rerun,
      };
      const workflowId = customerPeriodWorkflowId(input);
      const temporal = await connectTemporal(endpoints);
      try {
        try {
          // One workflow per re-run number: a second request while it runs (or a retried command)
          // starts nothing; a re-run that failed (refused: the period was no longer held) may start again.
          await temporal.client.workflow.start('customerPeriodWorkflow', {
            taskQueue: parseBillingWorkerEnv().taskQueue,
            workflowId,
            args: [input],
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
            staticSummary: `${customerId} · ${periodName} · re-run ${rerun.number}`,
          });
        } catch (error) {
          if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
          process.stdout.write(
            `already requested: re-run ${rerun.number} of ${customerId} ${periodName} is under way (${workflowId})\n`,
          );
          return;
        }
        process.stdout.write(
          `${describeRerunStart(customerId, periodName, rerun, current)}\n  workflow ${workflowId}; follow it with tally period status, decide with tally review\n`,
        );
      } finally {
        await temporal.close();
      }
    });

  period
    .command('status [customer] [period]')
    .description('where each customer-period workflow stands')
    .option('--json', 'machine-readable output')
    .action(async (customerId: string | undefined, periodName: string | undefined, options: { json?: boolean }) => {
      const { endpoints } = await ensureServices();
      const temporal = await connectTemporal(endpoints);
      try {
        const ids: string[] = [];
        if (customerId !== undefined && periodName !== undefined) {
          ids.push(
            customerPeriodWorkflowId({
              customerId,
              period: periodName,
              mode: 'live',
              calculationVersion: CALCULATION_VERSION,
            }),
          );
          // And its re-runs (`tally period rerun`), which carry the same search attributes.
          const reruns = [
            "WorkflowType = 'customerPeriodWorkflow'",
            "RunMode = 'live'",
            `CustomerId = '${customerId.replace(/'/g, '')}'`,
            `BillingPeriod = '${periodName.replace(/'/g, '')}'`,
          ];
          for await (const execution of temporal.client.workflow.list({ query: reruns.join(' AND ') }))
            if (execution.workflowId.includes(':rerun:')) ids.push(execution.workflowId);
        } else {
          const clauses = ["WorkflowType = 'customerPeriodWorkflow'", "RunMode = 'live'"];
          if (customerId !== undefined) clauses.push(`CustomerId = '${customerId.replace(/'/g, '')}'`);
          for await (const execution of temporal.client.workflow.list({ query: clauses.join(' AND ') }))
            ids.push(execution.workflowId);
        }
        const statuses = [];
        // A running workflow answers its status through a worker: ask only where one polls, not for
        // long, and not again on a queue that left a question unanswered.
        const polled = new Map<string, Promise<boolean>>();
        const queuePolled = (taskQueue: string): Promise<boolean> => {
          let answer = polled.get(taskQueue);
          if (answer === undefined) {
            answer = workersPoll(temporal.client, taskQueue);
            polled.set(taskQueue, answer);
          }
          return answer;
        };
        const unserved = new Set<string>();
        for (const workflowId of [...new Set(ids)].sort()) {
          const handle = temporal.client.workflow.getHandle(workflowId);
          try {
            const description = await handle.describe();
            const running = description.status.name === 'RUNNING';
            const taskQueue = description.taskQueue;
            let status: PeriodStatus | undefined;
            if (running && !unserved.has(taskQueue) && (await queuePolled(taskQueue))) {
              status = await temporal.client.connection
                .withDeadline(Date.now() + STATUS_QUERY_TIMEOUT_MS, () => handle.query(statusQuery))
                .catch((error: unknown) => {
                  // No answer in time, or the server could not reach a worker (one listed as polling a
                  // moment ago may have stopped): the stage is unknown, not an error of this command.
                  if (!isDeadlineExceeded(error) && !(error instanceof ServiceError)) throw error;
                  return undefined;
                });
            }
            if (running && status === undefined) unserved.add(taskQueue);
            // A finished close says how it ended (completed, held, skipped, or legacy: the legacy
            // biller had the billing authority and Tally issued nothing); its result is in the history.
            const ended =
              description.status.name === 'COMPLETED'
                ? ((await handle.result()) as CustomerPeriodResult).stage
                : undefined;
            statuses.push({
              workflowId,
              execution: description.status.name,
              stage: status?.stage ?? ended ?? (running ? '(no worker)' : '-'),
              closesAt: status?.closesAt ?? '-',
              openException: status?.openExceptionId ?? '-',
            });
          } catch (error) {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
            statuses.push({ workflowId, execution: 'NOT_STARTED', stage: '-', closesAt: '-', openException: '-' });
          }
        }
        if (options.json) process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
        else printTable(statuses, ['workflowId', 'execution', 'stage', 'closesAt', 'openException']);
        for (const taskQueue of unserved)
          process.stderr.write(
            `tally: no worker polls the task queue ${taskQueue} (none answered within ${STATUS_QUERY_TIMEOUT_MS / 1000} s): running workflows there cannot say their stage; start one with \`tally worker\` (TALLY_TASK_QUEUE=${taskQueue})\n`,
          );
      } finally {
        await temporal.close();
      }
    });
}

/** A query that ran out of time: gRPC DEADLINE_EXCEEDED (4), as the client reports it. */
function isDeadlineExceeded(error: unknown): boolean {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as { code?: unknown }).code === 4 || /deadline/i.test(cause.message)) return true;
  }
  return false;
}

/** Whether any worker polls `taskQueue` for workflow tasks (a running workflow's query needs one). */
async function workersPoll(client: Client, taskQueue: string): Promise<boolean> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    // TASK_QUEUE_KIND_NORMAL and TASK_QUEUE_TYPE_WORKFLOW (Temporal's API enums).
    taskQueue: { name: taskQueue, kind: 1 },
    taskQueueType: 1,
  });
  return (response.pollers ?? []).length > 0;
}

function describeFinal(customerId: string, period: string, invoice: InvoiceRecord): string {
  switch (invoice.status) {
    case 'issued':
      return `${customerId} ${period} is already closed: invoice ${invoice.invoiceNumber} issued ${invoice.issuedAt} (total ${invoice.document.total} ${invoice.document.currency})`;
    case 'held':
      return `${customerId} ${period} is already closed: held after review (${invoice.heldReason ?? 'rejected'}); tally period rerun re-rates it`;
    case 'skipped':
      return `${customerId} ${period} is already closed: all zero, and the contract wants no invoice for such a period`;
    case 'legacy':
      return `${customerId} ${period} is already closed: rated while the legacy biller had the billing authority, which invoices it; Tally issued nothing (total ${invoice.document.total} ${invoice.document.currency})`;
    case 'draft':
      return `${customerId} ${period} is being closed`;
    case 'voided':
      return `${customerId} ${period}: its draft ${invoice.invoiceId} was voided by a re-run`;
  }
}

function describeRerunStart(
  customerId: string,
  period: string,
  rerun: PeriodRerun,
  held: InvoiceRecord | undefined,
): string {
  const voided =
    held === undefined
      ? 'held before it had a draft'
      : `held draft ${held.invoiceId} (${held.document.total} ${held.document.currency}, ${held.heldReason ?? 'rejected'}) is voided and kept`;
  return `re-run ${rerun.number} of ${customerId} ${period} started: the ${voided}; the new draft ${liveInvoiceId(customerId, period, rerun.number)} goes through review again`;
}
