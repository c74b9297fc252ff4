import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { CliServices } from '../cli/services.ts';
import type { InvoiceRecord } from '../db/queries/invoices.ts';
import type { ReviewExceptionRecord } from '../db/queries/review-exceptions.ts';
import type { EventPublisher } from '../ingest/event-publisher.ts';
import type { IngestWorker } from '../workers/ingest-worker.ts';
import { CALCULATION_VERSION, type CustomerPeriodInput } from '../workflows/definitions.ts';
import type { DemoBatch, PublishReport } from './usage-batches.ts';
import { DemoError, demoGraceMs, type DemoWorkspace } from './workspace.ts';

export interface DemoOptions {
  readonly customers: number;
  readonly scale: number;
}

/** Waits inside the demo's workflows (workflow inputs): one attempt of a database step, a review before it escalates. */
export const STEP_TIMEOUT_MS = 30_000;
export const REVIEW_TIMEOUT_MS = 10 * 60_000;

/** What a step of the demo prints: numbered lines, indented three spaces under the step's title. */
export const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
export const indent = (text: string): string =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => `   ${line}`)
    .join('\n');
export const count = (value: number): string => value.toLocaleString('en-US');

/**
 * One run of `tally demo`: what it was asked, the services it runs on, what the steps set up (the
 * workspace, the in-process workers, the connections) and what earlier steps found that later ones
 * check. Everything it opens is closed by `close()`, whatever happens.
 */
export class DemoRun {
  readonly startedMs = Date.now();
  interrupted = false;
  readonly stopBillingWorker = new AbortController();
  billingWorker: Promise<void> | undefined;
  billingWorkerError: unknown;

  private workspaceValue: DemoWorkspace | undefined;
  private connections:
    | {
        readonly pool: pg.Pool;
        readonly temporal: { client: Client; close: () => Promise<void> };
        readonly nats: NatsConnection;
        readonly jsm: JetStreamManager;
        readonly publisher: EventPublisher;
        readonly ingest: IngestWorker;
        readonly consumerName: string;
        readonly streamName: string;
        readonly taskQueue: string;
      }
    | undefined;
  /** Opened before the workers step finishes, so `close()` finds them even when a later part fails. */
  readonly opened: { close: () => Promise<unknown> }[] = [];

  /** Found by the steps, for the steps after them. */
  readonly found: {
    /** The weeks before the billed month, and how many customers they cover. */
    history?: { batch: DemoBatch; published: PublishReport; customers: number };
    month?: { batch: DemoBatch; published: PublishReport };
    late?: { batch: DemoBatch & { lateEvents: number }; published: PublishReport };
    octoberInvoices?: readonly InvoiceRecord[];
    novemberCustomers?: readonly string[];
    /** The backfill over the corrected month: its plan, customer, and the adjustment lines it wrote. */
    backfill?: { planId: string; customerId: string; lines: number; total: string };
    decided: ReviewExceptionRecord[];
  } = { decided: [] };

  constructor(
    readonly options: DemoOptions,
    readonly now: Date,
    readonly services: CliServices,
  ) {}

  get workspace(): DemoWorkspace {
    if (this.workspaceValue === undefined) throw new DemoError('internal: the workspace step has not run');
    return this.workspaceValue;
  }

  set workspace(workspace: DemoWorkspace) {
    this.workspaceValue = workspace;
  }

  get connected(): NonNullable<DemoRun['connections']> {
    if (this.connections === undefined) throw new DemoError('internal: the workers step has not run');
    return this.connections;
  }

  set connected(connections: NonNullable<DemoRun['connections']>) {
    this.connections = connections;
  }

  /** The workflow input of one of the run's customer-periods (grace far enough that only the demo closes it). */
  periodInput(customerId: string, period: string): CustomerPeriodInput {
    const graceMinutes = Math.ceil(demoGraceMs(this.now) / 60_000);
    return {
      customerId,
      period,
      mode: 'live',
      calculationVersion: CALCULATION_VERSION,
      graceMs: graceMinutes * 60_000,
      reviewTimeoutMs: REVIEW_TIMEOUT_MS,
      stepTimeoutMs: STEP_TIMEOUT_MS,
    };
  }

  /** Throws when the in-process billing worker has stopped, or the user interrupted the demo. */
  assertRunning(): void {
    if (this.interrupted) throw new DemoError('interrupted');
    if (this.billingWorkerError !== undefined) {
      throw new DemoError(
        `the billing worker stopped: ${this.billingWorkerError instanceof Error ? this.billingWorkerError.message : String(this.billingWorkerError)}`,
      );
    }
  }

  async close(): Promise<void> {
    this.stopBillingWorker.abort();
    await this.billingWorker?.catch(() => undefined);
    for (const resource of [...this.opened].reverse()) await resource.close().catch(() => undefined);
  }
}
