import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { InvalidArgumentError, type Command } from 'commander';
import type pg from 'pg';
import { pino } from 'pino';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import { parseIngestWorkerEnv } from '../config/ingest-worker.ts';
import { parseStripeEnv } from '../config/stripe.ts';
import { createPool } from '../db/pool.ts';
import { findInvoice, listInvoices } from '../db/queries/invoices.ts';
import { listReviewExceptions, type ReviewExceptionRecord } from '../db/queries/review-exceptions.ts';
import { DEFAULT_PUBLISHER_OPTIONS, EventPublisher } from '../ingest/event-publisher.ts';
import { runBillingWorker } from '../workers/billing-worker.ts';
import { startIngestWorker, type IngestWorker } from '../workers/ingest-worker.ts';
import type { CustomerPeriodResult, customerPeriodWorkflow } from '../workflows/customer-period.ts';
import { CALCULATION_VERSION, statusQuery, type CustomerPeriodInput } from '../workflows/definitions.ts';
import { formatTable } from './journal-commands.ts';
import {
  lateCustomers,
  lateUsage,
  monthOfUsage,
  publishBatch,
  waitForIngest,
  type DemoBatch,
  type PublishReport,
} from './demo-usage.ts';
import {
  formatAdjustments,
  formatInvoiceList,
  formatRejected,
  formatTieOuts,
  formatTrialBalance,
  readDemoReport,
} from './demo-report.ts';
import {
  DEMO_MIXED_CREDITS_CUSTOMER,
  DEMO_NEXT_PERIOD,
  DEMO_PERIOD,
  DEMO_REVIEWED_CUSTOMER,
  demoAcceptWindow,
  DemoError,
  demoGraceMs,
  prepareDemoWorkspace,
  type DemoWorkspace,
} from './demo-workspace.ts';
import { requestPeriodClose } from './period-commands.ts';
import { printException, sendReviewDecision } from './review-commands.ts';
import { connectTemporal, ensureServices } from './services.ts';

interface DemoOptions {
  readonly customers: number;
  readonly scale: number;
}

const REVIEWER = 'demo';
/** Waits inside the demo's workflows (workflow inputs): one attempt of a database step, a review before it escalates. */
const STEP_TIMEOUT_MS = 30_000;
const REVIEW_TIMEOUT_MS = 10 * 60_000;
/** How long closing a period may take before the demo reports which workflows are stuck, and where. */
const CLOSE_DEADLINE_MS = 120_000;

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .option('--customers <n>', 'how many customers (at least 6: the sample contracts)', wholeNumber, 20)
    .option('--scale <factor>', 'usage per customer (1 ≈ 60-700 events a month)', positiveFactor, 2)
    .action(async (options: DemoOptions) => {
      await runDemo(options);
    });
}

function wholeNumber(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number.parseInt(text, 10) < 6)
    throw new InvalidArgumentError('a whole number, at least 6');
  return Number.parseInt(text, 10);
}

function positiveFactor(text: string): number {
  const value = Number(text);
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(text) || value <= 0)
    throw new InvalidArgumentError('a positive number such as 0.5 or 2');
  return value;
}

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const indent = (text: string): string =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => `   ${line}`)
    .join('\n');
const count = (value: number): string => value.toLocaleString('en-US');

/** Prints a numbered step header; `done` prints how long the step took. */
function step(number: number, title: string): { done: () => void } {
  const startedMs = Date.now();
  out(`\n${number}. ${title}`);
  return { done: () => out(`   (${((Date.now() - startedMs) / 1000).toFixed(1)} s)`) };
}

/**
 * `tally demo`: the whole pipeline on the embedded stack, in one process. The ingest and billing
 * workers run in-process on this run's database, stream and task queue; the demo publishes a month of
 * signed usage through JetStream, closes the period for every customer, approves the one exception
 * through the `decide` update, sends late usage and bills it as adjustments on November, and checks
 * the books (trial balance, usage tie-out). Fails, non-zero, when any of it does not add up.
 */
async function runDemo(options: DemoOptions): Promise<void> {
  const startedMs = Date.now();
  const now = new Date();
  const services = await ensureServices();
  const { endpoints } = services;
  if (parseStripeEnv() !== undefined) {
    out(
      "note: STRIPE_API_KEY is set, but the demo's customers exist only in this run (Tally never creates Stripe customers): the demo syncs to the ledger sink.",
    );
  }

  const prepare = step(1, 'Workspace');
  const workspace = await prepareDemoWorkspace({
    stackDir: services.env.TALLY_STACK_DIR,
    serverDatabaseUrl: endpoints.databaseUrl,
    customerCount: options.customers,
    now,
    natsUrl: endpoints.natsUrl,
    temporalAddress: endpoints.temporalAddress,
    temporalNamespace: endpoints.temporalNamespace,
  });
  const idOf = (sampleId: string): string => `${sampleId}-${workspace.runId}`;
  const currencies = new Map<string, number>();
  for (const customer of workspace.customers)
    currencies.set(customer.contract.currency, (currencies.get(customer.contract.currency) ?? 0) + 1);
  out(
    `   run ${workspace.runId}: ${workspace.customers.length} customers (${[...currencies].map(([currency, n]) => `${n} ${currency}`).join(', ')}), contracts in ${workspace.contractsDir}`,
  );
  out(
    `   database ${workspace.databaseName} (migrated), stream ${workspace.streamName}, task queue ${workspace.taskQueue}, provider: the Postgres ledger sink`,
  );
  out(
    `   ${idOf(DEMO_REVIEWED_CUSTOMER)} has any invoice above EUR 100 reviewed; ${idOf(DEMO_MIXED_CREDITS_CUSTOMER)} holds a promotional and a prepaid credit`,
  );
  prepare.done();

  const resources = new DemoResources();
  const interrupt = (): void => {
    resources.interrupted = true;
    resources.stopBillingWorker.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    await runSteps(workspace, options, resources, endpoints, now);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await resources.close();
  }
  out(`\nexplore this run: set -a; . ${workspace.envFile}; set +a; npx tally invoice list`);
  out(`demo finished in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
}

/** Everything the run opened, closed in reverse order whatever happens. */
class DemoResources {
  interrupted = false;
  readonly stopBillingWorker = new AbortController();
  billingWorker: Promise<void> | undefined;
  billingWorkerError: unknown;
  ingest: IngestWorker | undefined;
  nats: NatsConnection | undefined;
  temporal: { client: Client; close: () => Promise<void> } | undefined;
  pool: pg.Pool | undefined;

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
    await this.ingest?.stop().catch(() => undefined);
    await this.nats?.drain().catch(() => undefined);
    await this.temporal?.close().catch(() => undefined);
    await this.pool?.end().catch(() => undefined);
  }
}

async function runSteps(
  workspace: DemoWorkspace,
  options: DemoOptions,
  resources: DemoResources,
  endpoints: Awaited<ReturnType<typeof ensureServices>>['endpoints'],
  now: Date,
): Promise<void> {
  const logger = pino({ name: 'tally-demo', level: 'warn' }, pino.destination(2));
  const graceMinutes = Math.ceil(demoGraceMs(now) / 60_000);
  const periodInput = (customerId: string, period: string): CustomerPeriodInput => ({
    customerId,
    period,
    mode: 'live',
    calculationVersion: CALCULATION_VERSION,
    graceMs: graceMinutes * 60_000,
    reviewTimeoutMs: REVIEW_TIMEOUT_MS,
    stepTimeoutMs: STEP_TIMEOUT_MS,
  });

  // 2. Workers, in-process on this run's database, stream and task queue.
  const workers = step(2, 'Workers (in-process)');
  const window = demoAcceptWindow(now);
  const ingestEnv = {
    TALLY_SOURCE_KEYS_FILE: workspace.sourceKeysFile,
    TALLY_INGEST_STREAM: workspace.streamName,
    TALLY_INGEST_SUBJECT_PREFIX: workspace.subjectPrefix,
    TALLY_INGEST_STREAM_MAX_AGE: '1d',
    TALLY_INGEST_ACCEPT_PAST: `${Math.ceil(window.pastMs / 60_000)}m`,
    TALLY_INGEST_ACCEPT_FUTURE: `${Math.ceil(window.futureMs / 60_000)}m`,
    TALLY_LOG_LEVEL: 'warn',
  };
  const ingestConfig = parseIngestWorkerEnv(ingestEnv);
  resources.temporal = await reach('Temporal', endpoints.temporalAddress, () => connectTemporal(endpoints));
  const client = resources.temporal.client;
  resources.ingest = await reach('NATS', endpoints.natsUrl, () =>
    startIngestWorker(ingestConfig, { natsUrl: endpoints.natsUrl, databaseUrl: workspace.databaseUrl }, logger),
  );
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // A runtime exists already in this process; its logger stays.
  }
  const billingEnv = parseBillingWorkerEnv({
    TALLY_CONTRACTS_DIR: workspace.contractsDir,
    TALLY_TASK_QUEUE: workspace.taskQueue,
    TALLY_PERIOD_OPENER_INTERVAL: '500ms',
    TALLY_OPENER_GRACE: `${graceMinutes}m`,
    TALLY_OPENER_REVIEW_TIMEOUT: `${REVIEW_TIMEOUT_MS}ms`,
    TALLY_OPENER_STEP_TIMEOUT: `${STEP_TIMEOUT_MS}ms`,
    TALLY_LOG_LEVEL: 'warn',
  });
  // Bundling the workflows takes a few seconds: the worker starts now and polls by the time periods close.
  resources.billingWorker = runBillingWorker({
    env: billingEnv,
    endpoints: { ...endpoints, databaseUrl: workspace.databaseUrl },
    signal: resources.stopBillingWorker.signal,
    logger,
  }).catch((error: unknown) => {
    resources.billingWorkerError = error ?? new Error('failed');
  });
  resources.pool = createPool(workspace.databaseUrl, { max: 4, applicationName: 'tally-demo' });
  const pool = resources.pool;
  resources.nats = await connect({
    servers: endpoints.natsUrl,
    name: 'tally-demo-producer',
    maxReconnectAttempts: -1,
    timeout: 5000,
  });
  const jsm = await jetstreamManager(resources.nats);
  const publisher = new EventPublisher(resources.nats, { ...DEFAULT_PUBLISHER_OPTIONS, maxInFlight: 1000 });
  const ingest = resources.ingest;
  out(
    `   ingest worker: consumer ${ingestConfig.consumerName} on ${workspace.streamName}, ${ingestConfig.writers} writers × batches of ${ingestConfig.batchSize}; accept window ${Math.ceil(window.pastMs / 86_400_000)} days back, ${Math.ceil(window.futureMs / 86_400_000)} ahead (widened to take the sample months)`,
  );
  out(
    `   billing worker: task queue ${workspace.taskQueue}, period opener every 0.5 s; workflows wait for the demo's closeNow`,
  );
  workers.done();

  // 3. A month of signed usage through JetStream, with repeats and broken messages.
  const usage = step(3, 'October usage → JetStream → ingest → Postgres');
  const month = monthOfUsage(workspace, { scale: options.scale, duplicateEvery: 20 });
  const published = await publishBatch(publisher, month, () => ingest.consumer.totals.messages, 'October');
  out(`   ${describePublish(month, published)}`);
  const ingestStartedMs = Date.now();
  await waitForIngest(jsm, workspace.streamName, ingestConfig.consumerName);
  const totals = ingest.consumer.totals;
  out(
    `   ingest committed everything (consumer lag 0, ${((Date.now() - ingestStartedMs) / 1000).toFixed(1)} s after the last publish): ${count(totals.accepted)} events stored, ${count(totals.duplicates)} repeats found in Postgres`,
  );
  out(
    `   rejected ${count(sumValues(totals.rejected))}: ${formatRejected(totals.rejected)} (kept with their raw bytes in rejected_events)`,
  );
  checkIngest(month, totals, 0);
  usage.done();

  // 4. Close October for every customer; one invoice waits for a person.
  const close = step(
    4,
    `Close ${DEMO_PERIOD} for ${workspace.customers.length} customers (closeNow, like tally period close)`,
  );
  resources.assertRunning();
  const october = await Promise.all(
    workspace.customers.map((customer) =>
      requestPeriodClose(client, workspace.taskQueue, periodInput(customer.customerId, DEMO_PERIOD)),
    ),
  );
  const octoberRun = new PeriodRun(october);
  let waiting = await octoberRun.settle(pool, resources);
  out(`   ${octoberRun.finishedCount} issued, ${waiting.length} waiting for review`);
  const decided: ReviewExceptionRecord[] = [];
  while (waiting.length > 0) {
    for (const exception of waiting) {
      await decide(client, octoberRun, exception, resources);
      decided.push(exception);
    }
    waiting = await octoberRun.settle(pool, resources);
  }
  const octoberResults = await octoberRun.results();
  const octoberInvoices = await listInvoices(pool, { period: DEMO_PERIOD, status: 'issued' });
  out(
    `\n   ${octoberResults.filter((result) => result.stage === 'completed').length} workflows completed: issued, synced to the ledger, journaled`,
  );
  out(indent(formatInvoiceList(octoberInvoices)));
  close.done();

  // 5. Late usage for October, billed as adjustments on November.
  const late = step(5, `Late usage: ${DEMO_PERIOD} events after close, billed on ${DEMO_NEXT_PERIOD}`);
  const lateBatch = lateUsage(workspace, { scale: 0.25 });
  const committedBefore = { ...ingest.consumer.totals, rejected: { ...ingest.consumer.totals.rejected } };
  const latePublished = await publishBatch(
    publisher,
    lateBatch,
    () => ingest.consumer.totals.messages,
    'Late + November',
  );
  await waitForIngest(jsm, workspace.streamName, ingestConfig.consumerName);
  const lateStored = ingest.consumer.totals.late - committedBefore.late;
  out(`   ${describePublish(lateBatch, latePublished)}`);
  out(
    `   ${lateBatch.lateEvents} events of ${DEMO_PERIOD} arrived after its invoices were issued: stored, marked late (${lateStored}), never added to an issued invoice`,
  );
  if (lateStored !== lateBatch.lateEvents)
    throw new DemoError(`expected ${lateBatch.lateEvents} late events, ingest marked ${lateStored}`);
  checkIngest(lateBatch, ingest.consumer.totals, committedBefore.accepted);
  resources.assertRunning();
  const november = await Promise.all(
    lateCustomers(workspace).map((customer) =>
      requestPeriodClose(client, workspace.taskQueue, periodInput(customer.customerId, DEMO_NEXT_PERIOD)),
    ),
  );
  const novemberRun = new PeriodRun(november);
  for (
    let open = await novemberRun.settle(pool, resources);
    open.length > 0;
    open = await novemberRun.settle(pool, resources)
  ) {
    for (const exception of open) {
      await decide(client, novemberRun, exception, resources);
      decided.push(exception);
    }
  }
  await novemberRun.results();
  const novemberInvoices = await listInvoices(pool, { period: DEMO_NEXT_PERIOD, status: 'issued' });
  const numbers = new Map(octoberInvoices.map((invoice) => [invoice.invoiceId, invoice.invoiceNumber]));
  out(
    `   ${DEMO_NEXT_PERIOD} closed for ${novemberInvoices.map((invoice) => invoice.customerId).join(', ')}; the late usage is on it as adjustment lines:`,
  );
  out(indent(formatAdjustments(novemberInvoices, (invoiceId) => numbers.get(invoiceId))));
  if (
    !novemberInvoices.some((invoice) =>
      invoice.document.lines.some((line) => line.kind === 'adjustment' && line.corrects_period === DEMO_PERIOD),
    )
  ) {
    throw new DemoError(`no adjustment line for the late usage of ${DEMO_PERIOD} on the ${DEMO_NEXT_PERIOD} invoices`);
  }
  for (const invoice of octoberInvoices) {
    const now = await findInvoice(pool, invoice.invoiceId);
    if (JSON.stringify(now?.document) !== JSON.stringify(invoice.document))
      throw new DemoError(`issued invoice ${invoice.invoiceId} changed after late usage`);
  }
  out(`   the ${octoberInvoices.length} issued ${DEMO_PERIOD} invoices are unchanged`);
  late.done();

  // 6. What happened, and whether the books add up.
  const summary = step(6, 'Summary');
  const report = await readDemoReport(pool, [DEMO_PERIOD, DEMO_NEXT_PERIOD]);
  out(
    `   invoices issued: ${report.invoices.length} (${report.totalsByCurrency.map((total) => `${total.invoices} ${total.currency}, total ${total.total}`).join('; ')})`,
  );
  out(
    `   provider sync: ${report.syncedToLedger} of ${report.invoices.length} invoices synced to the ledger sink, once each`,
  );
  out(
    `   usage: ${count(report.storedEvents)} events stored (${report.lateEvents} late), ${count(month.duplicates + lateBatch.duplicates)} repeats sent (${count(published.droppedAsDuplicates + latePublished.droppedAsDuplicates)} dropped by JetStream as duplicates, ${count(ingest.consumer.totals.duplicates)} by Postgres)`,
  );
  out(`   rejected events by reason: ${formatRejected(report.rejected)}`);
  for (const exception of report.exceptions) {
    out(
      `   exception ${exception.exceptionId}: ${exception.breaches.map((breach) => breach.rule).join(', ')}, ${exception.status} by ${exception.reviewer ?? '?'}`,
    );
  }
  out('\n   journal trial balance (debits = credits per currency):');
  out(indent(formatTrialBalance(report.trialBalance)));
  out('\n   reconciliation tie-out (Σ usage lines = usage revenue recognized):');
  out(indent(formatTieOuts(report.tieOuts)));
  const differences = report.tieOuts.reduce((sum, tieOut) => sum + tieOut.differences.length, 0);
  out(`   ${differences} differences`);
  summary.done();

  const problems: string[] = [];
  if (!report.trialBalance.balanced) problems.push('the journal does not balance');
  if (differences > 0) {
    problems.push(
      `the tie-out found ${differences} differences: ${report.tieOuts
        .flatMap((tieOut) => tieOut.differences.map((difference) => difference.detail))
        .slice(0, 5)
        .join('; ')}`,
    );
  }
  if (report.syncedToLedger !== report.invoices.length)
    problems.push(`${report.invoices.length - report.syncedToLedger} issued invoices are not synced`);
  if (report.invoices.length !== workspace.customers.length + november.length) {
    problems.push(
      `expected ${workspace.customers.length + november.length} issued invoices, found ${report.invoices.length}`,
    );
  }
  if (problems.length > 0) throw new DemoError(`the demo run does not add up: ${problems.join('; ')}`);
}

/** A service the demo cannot reach is named with its address, not as a stack trace. */
async function reach<T>(service: string, address: string, connectTo: () => Promise<T>): Promise<T> {
  try {
    return await connectTo();
  } catch (error) {
    throw new DemoError(
      `cannot reach ${service} at ${address}: ${error instanceof Error ? error.message : String(error)} (is the stack up? tally stack status)`,
    );
  }
}

function describePublish(batch: DemoBatch, report: PublishReport): string {
  return (
    `published ${count(report.messages)} messages in ${report.seconds.toFixed(1)} s (${count(report.messagesPerSecond)} messages/s): ` +
    `${count(batch.events)} events, ${count(batch.duplicates)} exact repeats (${count(report.droppedAsDuplicates)} dropped by JetStream), ${count(sumValues(batch.rejected))} broken`
  );
}

function sumValues(record: Readonly<Partial<Record<string, number>>>): number {
  return Object.values(record).reduce<number>((sum, value) => sum + (value ?? 0), 0);
}

/** The ingest worker stored what the batch holds: every valid event once, every broken message under its reason. */
function checkIngest(batch: DemoBatch, totals: IngestWorker['consumer']['totals'], acceptedBefore: number): void {
  const accepted = totals.accepted - acceptedBefore;
  if (accepted !== batch.events)
    throw new DemoError(`ingest stored ${accepted} events, the demo sent ${batch.events} distinct ones`);
  for (const [reason, expected] of Object.entries(batch.rejected)) {
    if ((totals.rejected[reason as keyof typeof totals.rejected] ?? 0) < (expected ?? 0))
      throw new DemoError(
        `expected ${expected} ${reason} rejections, ingest recorded ${totals.rejected[reason as keyof typeof totals.rejected] ?? 0}`,
      );
  }
}

/** Shows the exception as a reviewer sees it and approves it through the same `decide` update as `tally review approve`. */
async function decide(
  client: Client,
  run: PeriodRun,
  exception: ReviewExceptionRecord,
  resources: DemoResources,
): Promise<void> {
  // The row exists once the activity committed; the workflow takes the decision once it is waiting on that exception.
  await run.waitUntilAwaiting(exception, resources);
  out('');
  printException(exception, { contract: false });
  const outcome = await sendReviewDecision(client, exception, {
    kind: 'approve',
    exceptionId: exception.exceptionId,
    reviewer: REVIEWER,
    note: 'demo: launch-month usage, expected',
  });
  out(
    `\n   tally review approve ${exception.exceptionId} --reviewer ${REVIEWER}: ${outcome.decision}${outcome.repeated ? ' (repeat)' : ''}`,
  );
}

/** The workflows of one close: which finished, which wait for a person. */
class PeriodRun {
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
  async settle(pool: pg.Pool, resources: DemoResources): Promise<ReviewExceptionRecord[]> {
    const ids = new Set(this.handles.map((handle) => handle.workflowId));
    const deadline = Date.now() + CLOSE_DEADLINE_MS;
    for (;;) {
      resources.assertRunning();
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

  async waitUntilAwaiting(exception: ReviewExceptionRecord, resources: DemoResources): Promise<void> {
    const handle = this.handles.find((candidate) => candidate.workflowId === exception.workflowId);
    if (handle === undefined)
      throw new DemoError(`exception ${exception.exceptionId} belongs to no workflow of this close`);
    const deadline = Date.now() + 30_000;
    while ((await handle.query(statusQuery)).openExceptionId !== exception.exceptionId) {
      resources.assertRunning();
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
    return `\n${formatTable(['workflow', 'stage'], rows)}`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
