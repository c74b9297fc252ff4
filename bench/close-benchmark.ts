import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import type { Context as ActivityContext } from '@temporalio/activity';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type ActivityInboundCallsInterceptor,
  type WorkerInterceptors,
} from '@temporalio/worker';
import type pg from 'pg';
import { publishedTerms } from '../terms/index.ts';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import { repositoryRoot, type ServiceEndpoints } from '../config/services.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { trialBalance } from '../db/queries/journal.ts';
import { usageAggregateWithEventSetQuery } from '../db/queries/usage-aggregates.ts';
import type { Invoice } from '../contracts/invoice.ts';
import { billingPeriod } from '../domain/period.ts';
import { LEGACY_CSV_HEADER, legacyLinesFromInvoice } from '../domain/shadow/index.ts';
import { importLegacyFile } from '../shadow/import-legacy-file.ts';
import type { shadowRunWorkflow } from '../workflows/shadow-run.ts';
import { usageAggregationPlan } from '../domain/rating/index.ts';
import { removeStackData, startService, startStack, stopService, type StackLayout } from '../stack/index.ts';
import { runBillingWorker } from '../workers/billing-worker.ts';
import { startPeriodWorkflow } from '../activities/period-workflows.ts';
import type { customerPeriodWorkflow, CustomerPeriodResult } from '../workflows/customer-period.ts';
import {
  CALCULATION_VERSION,
  closeNowSignal,
  customerPeriodWorkflowId,
  decideUpdate,
  shadowRunWorkflowId,
  statusQuery,
  type CustomerPeriodInput,
  type ShadowRunInput,
} from '../workflows/definitions.ts';
import { runBackfillPhase, type BackfillPhaseResult } from './backfill-phase.ts';
import { benchCustomers, loadCloseDataset, prepareCloseDataset, publishBenchTerms } from './close-dataset.ts';
import type { skeletonCloseWorkflow } from './skeleton-workflow.ts';

export interface CloseBenchOptions {
  readonly customers: number;
  readonly events: number;
  readonly period: string;
  readonly seed: number;
  /** Ports from here: Postgres base, Temporal base+3 (see stack/local-stack.ts). */
  readonly portBase: number;
  readonly toolsDir: string;
  /** The billing worker's TALLY_MAX_CONCURRENT_ACTIVITIES. */
  readonly concurrency: number;
  /** Customer-period workflows started and not yet finished, at most. */
  readonly inFlight: number;
  /** Leave the stack running with its data (to inspect it) instead of stopping and deleting it. */
  readonly keepStack: boolean;
  /** After the close, a shadow run of the same customer-periods against a legacy file made from the issued invoices (SPEC §6). */
  readonly shadow?: boolean;
  /** Write a CPU profile of this process's main thread during the close phase (open it in a browser's devtools). */
  readonly cpuProfileFile?: string;
  /** Also plan and run a backfill of the closed month (default true). */
  readonly backfill?: boolean;
  readonly log: (line: string) => void;
}

/** What one activity type cost over the close: executions, time executing, time waiting to start. */
export interface StepTiming {
  readonly activity: string;
  readonly count: number;
  readonly executeMs: number;
  readonly scheduleToStartMs: number;
}

/** CPU seconds over an interval: this process, the Temporal server, Postgres, all cores of the machine; and the cores × wall seconds available. */
export interface CpuSeconds {
  readonly node: number;
  readonly temporal: number;
  readonly postgres: number;
  readonly machineBusy: number;
  readonly wallCores: number;
}

export interface CloseBenchResult {
  readonly customerPeriods: number;
  readonly events: number;
  readonly generateMs: number;
  readonly loadMs: number;
  readonly closeMs: number;
  readonly perSecond: number;
  /** The shadow run after the close, same customers and period, same worker: wall time, customer-periods/s, matches. */
  readonly shadow?: {
    readonly runMs: number;
    readonly perSecond: number;
    readonly matches: number;
    readonly customers: number;
  };
  /** Σ over customer-periods of start request → result received. */
  readonly lifetimeMs: number;
  /** Σ activity execution time in the worker. */
  readonly activityMs: number;
  /** Σ statement execution + planning time in Postgres during the close (pg_stat_statements). */
  readonly postgresMs: number;
  readonly postgresCalls: number;
  /** Shares of the summed lifetime: Postgres statements; Temporal (lifetime outside any activity); Node inside activities. */
  readonly postgresShare: number;
  readonly temporalShare: number;
  readonly nodeShare: number;
  readonly steps: readonly StepTiming[];
  readonly topStatements: readonly { query: string; calls: number; totalMs: number; meanMs: number }[];
  /** CPU seconds during the close, by process. */
  readonly cpuSeconds: CpuSeconds;
  readonly peakRssMb: number;
  readonly approvals: number;
  /** The Temporal baseline: N skeleton workflows (same shape, activities that do nothing). */
  readonly skeletonMs: number;
  readonly skeletonCpuSeconds: CpuSeconds;
  /** The Postgres baseline: one count(*) per customer-period over the same index range. */
  readonly countBaselineMs: number;
  readonly plan: string;
  readonly journalBalanced: boolean;
  /** The backfill over the same customer-periods after a price correction (absent with `backfill: false`). */
  readonly backfill?: BackfillPhaseResult;
}

const TASK_QUEUE = 'bench-close';
const SKELETON_TASK_QUEUE = 'bench-close-skeleton';
const STEP_ORDER = [
  'loadPeriodTerms',
  'snapshotPeriod',
  'rateDraftInvoice',
  'settleBillingAuthority',
  'evaluateReview',
  'drawDownCredits',
  'issueInvoice',
  'syncInvoice',
  'postJournal',
];

/**
 * The period-close benchmark: its own Temporal dev server and Postgres, N customers' month of events
 * loaded as ingest stores them (without JetStream: this measures the close), then every
 * customer-period closed through the real billing worker (in-process, period opener off) with
 * signal-with-start `closeNow`, a bounded number in flight. Verifies every invoice is issued, synced
 * and journaled, the snapshots hold every event and the journal balances.
 */
export async function runCloseBench(options: CloseBenchOptions): Promise<CloseBenchResult> {
  const { log } = options;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Installed already in this process (Runtime.install may run once).
  }
  // Deleted at the end unless --keep-stack (bench/README.md).
  const layout: StackLayout = {
    dataDir: path.join(repositoryRoot, '.tally', `bench-close-${options.portBase}`),
    toolsDir: options.toolsDir,
    portBase: options.portBase,
    temporalUi: false,
    namespace: 'billing',
  };
  const quiet = (): void => undefined;
  await stopService(layout, 'nats', quiet);
  await stopService(layout, 'temporal', quiet);
  await stopService(layout, 'postgres', quiet);
  await removeStackData(layout);
  // NATS too: the billing worker reads the ingest consumer's watermark before a close (none exists
  // here, since events are loaded directly, so no close waits for it).
  log(`starting Temporal, Postgres and NATS under ${layout.dataDir} (ports from ${options.portBase})`);
  const endpoints = await startStack(layout, quiet, ['postgres', 'temporal', 'nats']);
  await enableStatementStatistics(layout, endpoints);
  const pool = createPool(endpoints.databaseUrl, {
    max: Math.max(4, options.concurrency),
    applicationName: 'tally-bench-close',
  });
  const connection = await Connection.connect({ address: endpoints.temporalAddress });
  const client = new Client({ connection, namespace: endpoints.temporalNamespace });
  try {
    await migrate(pool);
    const dataset = await prepareCloseDataset({
      customers: options.customers,
      events: options.events,
      period: options.period,
      seed: options.seed,
      cacheDir: path.join(repositoryRoot, '.tally', 'bench-close-data'),
      log,
    });
    const customers = benchCustomers(options.customers);
    await publishBenchTerms(pool, customers);
    const { loadMs } = await loadCloseDataset(pool, dataset, log);
    const customerIds = customers.map((customer) => customer.customerId);

    // Baseline 1 (Temporal): the same orchestration with activities that do nothing.
    log(`baseline: ${customerIds.length} skeleton workflows (8 no-op activities each), ${options.inFlight} in flight`);
    const skeletonCpuBefore = readCpu(layout);
    const skeletonMs = await runSkeletonBaseline(client, endpoints, customerIds, options);
    const skeletonCpu = cpuBetween(skeletonCpuBefore, readCpu(layout), skeletonMs);
    log(
      `  ${(skeletonMs / 1000).toFixed(1)} s = ${(customerIds.length / (skeletonMs / 1000)).toFixed(1)} workflows/s; CPU: node ${skeletonCpu.node.toFixed(1)} s, ` +
        `temporal ${skeletonCpu.temporal.toFixed(1)} s, postgres ${skeletonCpu.postgres.toFixed(1)} s; machine busy ${skeletonCpu.machineBusy.toFixed(0)} of ${skeletonCpu.wallCores.toFixed(0)} core-seconds`,
    );

    // The close.
    const timings = new Map<string, { count: number; executeMs: number; scheduleToStartMs: number }>();
    const workerAbort = new AbortController();
    const config = {
      ...parseBillingWorkerEnv({}),
      taskQueue: TASK_QUEUE,
      maxConcurrentActivities: options.concurrency,
      logLevel: 'warn' as const,
    };
    const workerRun = runBillingWorker({
      config,
      endpoints,
      signal: workerAbort.signal,
      openPeriods: false,
      interceptors: timingInterceptors(timings),
    });
    let workerFailure: unknown;
    workerRun.catch((error: unknown) => {
      workerFailure = error;
    });
    await waitForPollers(client, endpoints.temporalNamespace, TASK_QUEUE, () => workerFailure);
    log(
      `close: ${customerIds.length} customer-periods of ${options.period}, ${dataset.manifest.totalEvents} events; ` +
        `${options.concurrency} concurrent activities, ${options.inFlight} workflows in flight`,
    );

    await pool.query('SELECT pg_stat_statements_reset()');
    const cpuBefore = readCpu(layout);
    const threadsBefore = threadCpu();
    const rss = sampleRss();
    const profiler = options.cpuProfileFile === undefined ? undefined : await startProfiler();
    const startedMs = performance.now();
    let approvals = 0;
    let finished = 0;
    let lastReportMs = startedMs;
    const lifetimes = await mapBounded(customerIds, options.inFlight, async (customerId) => {
      const input: CustomerPeriodInput = {
        customerId,
        period: options.period,
        mode: 'live',
        calculationVersion: CALCULATION_VERSION,
      };
      const openedMs = performance.now();
      const handle = await startPeriodWorkflow(client, { taskQueue: TASK_QUEUE, input, closeNow: true });
      if (handle === undefined)
        throw new Error(`${customerPeriodWorkflowId(input)} had already finished before the benchmark`);
      const outcome = await resultApprovingReviews(handle, () => {
        approvals += 1;
      });
      if (outcome.stage !== 'completed' || outcome.invoiceNumber === undefined) {
        throw new Error(`${handle.workflowId} ended ${outcome.stage} without an issued invoice`);
      }
      finished += 1;
      if (performance.now() - lastReportMs > 10_000) {
        lastReportMs = performance.now();
        log(
          `  ${finished} / ${customerIds.length} closed (${(finished / ((lastReportMs - startedMs) / 1000)).toFixed(1)}/s)`,
        );
      }
      return performance.now() - openedMs;
    });
    const closeMs = performance.now() - startedMs;
    if (profiler !== undefined && options.cpuProfileFile !== undefined) {
      await writeFile(options.cpuProfileFile, await profiler.stop());
      log(`  CPU profile of the close: ${options.cpuProfileFile}`);
    }
    const cpuAfter = readCpu(layout);
    const threadsAfter = threadCpu();
    log(
      `  node threads: ${[...threadsAfter].map(([name, seconds]) => `${name} ${(seconds - (threadsBefore.get(name) ?? 0)).toFixed(1)} s`).join(', ')}`,
    );
    const peakRssMb = rss.stop();
    const statements = await readStatementStatistics(pool);
    // The close's step timings, before the shadow run and the backfill add their own. The shadow run
    // goes first: it compares the month as it was closed, which the backfill then reprices.
    const closeTimings = new Map([...timings].map(([name, timing]) => [name, { ...timing }]));
    const shadow =
      options.shadow === false ? undefined : await runShadowPhase(pool, client, options, customerIds.length);
    // The backfill (issue 14): a price correction of the month just closed, planned and run on the
    // same worker, stack and data, so its rate compares with the close's measured in this run.
    const backfill =
      options.backfill === false
        ? undefined
        : await runBackfillPhase({
            pool,
            client,
            taskQueue: TASK_QUEUE,
            period: options.period,
            customerPeriods: customerIds.length,
            planConcurrency: options.concurrency,
            runConcurrency: options.inFlight,
            log,
          });
    if (backfill !== undefined)
      log(
        `backfill: ${backfill.customerPeriods} customer-periods in ${((backfill.planMs + backfill.runMs) / 1000).toFixed(1)} s (plan ${(backfill.planMs / 1000).toFixed(1)} s + run ${(backfill.runMs / 1000).toFixed(1)} s) = ${backfill.perSecond.toFixed(1)}/s = ${(backfill.perSecond / (customerIds.length / (closeMs / 1000))).toFixed(2)}× the close rate`,
      );
    workerAbort.abort();
    await workerRun;
    // The outbox rows, as the period opener marks them once their workflow is started.
    await pool.query(
      'UPDATE customer_periods SET workflow_started_at = now() WHERE period = $1 AND workflow_started_at IS NULL',
      [options.period],
    );

    // Verify: every invoice issued and synced, every event in a snapshot, the journal balanced.
    const {
      rows: [check],
    } = await pool.query<{ issued: string; synced: string; snapshot_events: string; entries: string }>(
      `SELECT (SELECT count(*) FROM invoices WHERE period = $1 AND mode = 'live' AND status = 'issued') AS issued,
              (SELECT count(*) FROM provider_ledger_invoices WHERE period = $1) AS synced,
              (SELECT coalesce(sum(event_count), 0) FROM period_snapshots WHERE period = $1 AND mode = 'live') AS snapshot_events,
              (SELECT count(DISTINCT invoice_id) FROM journal_entries WHERE service_period = $1) AS entries`,
      [options.period],
    );
    const expectedCount = String(customerIds.length);
    if (
      check?.issued !== expectedCount ||
      check.synced !== expectedCount ||
      check.entries !== expectedCount ||
      check.snapshot_events !== String(dataset.manifest.totalEvents)
    ) {
      throw new Error(
        `close incomplete: ${JSON.stringify(check)}; expected ${expectedCount} invoices and ${dataset.manifest.totalEvents} events`,
      );
    }
    const balance = await trialBalance(pool);
    if (!balance.balanced) throw new Error(`the journal does not balance: ${JSON.stringify(balance.totals)}`);
    log(
      `verified: ${check.issued} invoices issued, synced to the ledger and journaled; snapshots hold all ${check.snapshot_events} events; ` +
        `journal balanced in ${balance.totals.map((total) => `${total.currency} (${total.debit})`).join(', ')}`,
    );

    // Baseline 2 (Postgres): one bare count(*) per customer-period over the same index range.
    const countBaselineMs = await runCountBaseline(pool, customerIds, options, dataset.manifest.eventsByCustomer);
    log(
      `baseline: count(*) over each customer's index range, ${options.concurrency} at a time: ${(countBaselineMs / 1000).toFixed(1)} s`,
    );

    // The snapshot query's plan for the largest customer.
    const plan = await explainSnapshotQuery(pool, options.period, dataset.manifest.eventsByCustomer);

    const lifetimeMs = lifetimes.reduce((sum, value) => sum + value, 0);
    const steps = STEP_ORDER.map((activity) => ({
      activity,
      ...(closeTimings.get(activity) ?? { count: 0, executeMs: 0, scheduleToStartMs: 0 }),
    }));
    const activityMs = [...closeTimings.values()].reduce((sum, timing) => sum + timing.executeMs, 0);
    const wallSeconds = closeMs / 1000;
    return {
      customerPeriods: customerIds.length,
      events: dataset.manifest.totalEvents,
      generateMs: dataset.manifest.generateMs,
      loadMs,
      closeMs,
      perSecond: customerIds.length / wallSeconds,
      ...(shadow === undefined ? {} : { shadow }),
      lifetimeMs,
      activityMs,
      postgresMs: statements.totalMs,
      postgresCalls: statements.calls,
      postgresShare: statements.totalMs / lifetimeMs,
      temporalShare: (lifetimeMs - activityMs) / lifetimeMs,
      nodeShare: (activityMs - statements.totalMs) / lifetimeMs,
      steps,
      topStatements: statements.top,
      cpuSeconds: cpuBetween(cpuBefore, cpuAfter, closeMs),
      peakRssMb,
      approvals,
      skeletonMs,
      skeletonCpuSeconds: skeletonCpu,
      countBaselineMs,
      plan,
      journalBalanced: balance.balanced,
      ...(backfill === undefined ? {} : { backfill }),
    };
  } finally {
    await connection.close();
    await pool.end();
    if (!options.keepStack) {
      await stopService(layout, 'nats', quiet);
      await stopService(layout, 'temporal', quiet);
      await stopService(layout, 'postgres', quiet);
      await removeStackData(layout);
    }
  }
}

/** Loads pg_stat_statements (a restart: it must be preloaded) so the close's Postgres time is measured in the server. */
/**
 * A shadow run over the period just closed: the legacy file is the issued invoices' own lines (a
 * legacy biller that agrees), imported first (not timed); then one shadow-run workflow closes every
 * customer in shadow, `inFlight` at once like the close, and compares each. Timed from its start to
 * its result.
 */
async function runShadowPhase(
  pool: pg.Pool,
  client: Client,
  options: CloseBenchOptions,
  customerPeriods: number,
): Promise<NonNullable<CloseBenchResult['shadow']>> {
  const { rows } = await pool.query<{ document: Invoice }>(
    `SELECT document FROM invoices WHERE period = $1 AND mode = 'live' ORDER BY invoice_id`,
    [options.period],
  );
  const csv = [
    LEGACY_CSV_HEADER.join(','),
    ...rows.flatMap((row) =>
      legacyLinesFromInvoice(row.document).map((line) =>
        [line.customer_id, line.period, line.price_id, line.quantity ?? '', line.amount, line.currency].join(','),
      ),
    ),
  ].join('\n');
  await importLegacyFile(pool, { file: 'bench-legacy.csv', text: csv, source: 'bench', importedBy: 'bench' });
  options.log(
    `shadow: ${customerPeriods} customer-periods of ${options.period} against ${rows.length} legacy invoices`,
  );
  const input: ShadowRunInput = {
    source: 'bench',
    period: options.period,
    runId: `bench-${options.period}`,
    calculationVersion: CALCULATION_VERSION,
    concurrency: options.inFlight,
  };
  const startedMs = performance.now();
  const handle = await client.workflow.start<typeof shadowRunWorkflow>('shadowRunWorkflow', {
    taskQueue: TASK_QUEUE,
    workflowId: shadowRunWorkflowId(input.runId as string),
    args: [input],
  });
  const result = await handle.result();
  const runMs = performance.now() - startedMs;
  if (result.customers !== customerPeriods)
    throw new Error(`the shadow run compared ${result.customers} customers, expected ${customerPeriods}`);
  options.log(
    `  ${(runMs / 1000).toFixed(1)} s = ${(customerPeriods / (runMs / 1000)).toFixed(1)} customer-periods/s; ${result.matches} match, ${result.exceptions} exceptions`,
  );
  return { runMs, perSecond: customerPeriods / (runMs / 1000), matches: result.matches, customers: result.customers };
}

async function enableStatementStatistics(layout: StackLayout, endpoints: ServiceEndpoints): Promise<void> {
  const admin = createPool(endpoints.databaseUrl, { max: 1, applicationName: 'tally-bench-close' });
  try {
    await admin.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  } finally {
    await admin.end();
  }
  await stopService(layout, 'postgres', () => undefined);
  await startService(layout, 'postgres', () => undefined);
  const pool = createPool(endpoints.databaseUrl, { max: 1, applicationName: 'tally-bench-close' });
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await pool.query("ALTER SYSTEM SET pg_stat_statements.track_planning = 'on'");
    await pool.query('SELECT pg_reload_conf()');
  } finally {
    await pool.end();
  }
}

async function readStatementStatistics(
  pool: pg.Pool,
): Promise<{ totalMs: number; calls: number; top: CloseBenchResult['topStatements'] }> {
  const { rows } = await pool.query<{ query: string; calls: string; total_ms: number }>(
    `SELECT query, calls::text AS calls, total_exec_time + total_plan_time AS total_ms FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
      ORDER BY total_ms DESC`,
  );
  const totalMs = rows.reduce((sum, row) => sum + row.total_ms, 0);
  const calls = rows.reduce((sum, row) => sum + Number.parseInt(row.calls, 10), 0);
  const top = rows.slice(0, 8).map((row) => {
    const count = Number.parseInt(row.calls, 10);
    return {
      query: row.query.replace(/\s+/g, ' ').trim().slice(0, 110),
      calls: count,
      totalMs: row.total_ms,
      meanMs: row.total_ms / Math.max(1, count),
    };
  });
  return { totalMs, calls, top };
}

/** Times each activity execution and how long its task waited to start (dispatch and queueing). */
function timingInterceptors(
  timings: Map<string, { count: number; executeMs: number; scheduleToStartMs: number }>,
): WorkerInterceptors {
  return {
    activity: [
      (context: ActivityContext) => {
        const inbound: ActivityInboundCallsInterceptor = {
          async execute(input, next) {
            const startedMs = performance.now();
            const waitedMs = Math.max(0, Date.now() - context.info.currentAttemptScheduledTimestampMs);
            try {
              return await next(input);
            } finally {
              const entry = timings.get(context.info.activityType) ?? { count: 0, executeMs: 0, scheduleToStartMs: 0 };
              entry.count += 1;
              entry.executeMs += performance.now() - startedMs;
              entry.scheduleToStartMs += waitedMs;
              timings.set(context.info.activityType, entry);
            }
          },
        };
        return { inbound };
      },
    ],
  };
}

/** The workflow's result; a review stop (none is expected: the contracts have no thresholds) is approved through `decide`. */
async function resultApprovingReviews(
  handle: WorkflowHandle<typeof customerPeriodWorkflow>,
  onApproval: () => void,
): Promise<CustomerPeriodResult> {
  const result = handle.result();
  for (;;) {
    const timer = new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 30_000).unref());
    const outcome = await Promise.race([result, timer]);
    if (outcome !== 'waiting') return outcome;
    const status = await handle.query(statusQuery);
    if ((status.stage === 'awaiting_review' || status.stage === 'escalated') && status.openExceptionId !== undefined) {
      await handle.executeUpdate(decideUpdate, {
        args: [
          {
            kind: 'approve',
            exceptionId: status.openExceptionId,
            reviewer: 'bench-close',
            note: 'approved by the close benchmark',
          },
        ],
      });
      onApproval();
    }
  }
}

async function runSkeletonBaseline(
  client: Client,
  endpoints: ServiceEndpoints,
  customerIds: readonly string[],
  options: CloseBenchOptions,
): Promise<number> {
  const connection = await NativeConnection.connect({ address: endpoints.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      namespace: endpoints.temporalNamespace,
      taskQueue: SKELETON_TASK_QUEUE,
      workflowsPath: path.join(repositoryRoot, 'bench', 'skeleton-workflow.ts'),
      activities: { doNothing: async (step: string) => step },
      maxConcurrentActivityTaskExecutions: options.concurrency,
    });
    return await worker.runUntil(async () => {
      await waitForPollers(client, endpoints.temporalNamespace, SKELETON_TASK_QUEUE, () => undefined);
      const startedMs = performance.now();
      await mapBounded(customerIds, options.inFlight, async (customerId) => {
        const input: CustomerPeriodInput = {
          customerId,
          period: options.period,
          mode: 'live',
          calculationVersion: CALCULATION_VERSION,
        };
        const handle = await client.workflow.signalWithStart<typeof skeletonCloseWorkflow, []>(
          'skeletonCloseWorkflow',
          {
            taskQueue: SKELETON_TASK_QUEUE,
            workflowId: `skeleton:${customerPeriodWorkflowId(input)}`,
            args: [input],
            signal: closeNowSignal,
            signalArgs: [],
            workflowIdConflictPolicy: 'USE_EXISTING',
          },
        );
        if ((await handle.result()) !== 8) throw new Error(`${handle.workflowId} did not run its eight steps`);
      });
      return performance.now() - startedMs;
    });
  } finally {
    await connection.close();
  }
}

async function runCountBaseline(
  pool: pg.Pool,
  customerIds: readonly string[],
  options: CloseBenchOptions,
  expected: Readonly<Record<string, number>>,
): Promise<number> {
  const period = billingPeriod(options.period);
  const startedMs = performance.now();
  await mapBounded(customerIds, options.concurrency, async (customerId) => {
    const {
      rows: [row],
    } = await pool.query<{ count: string }>(
      'SELECT count(*)::text AS count FROM usage_events WHERE customer_id = $1 AND event_time >= $2 AND event_time < $3 AND NOT late',
      [customerId, period.start, period.end],
    );
    if (row?.count !== String(expected[customerId]))
      throw new Error(`count(*) of ${customerId} is ${row?.count}, expected ${expected[customerId]}`);
  });
  return performance.now() - startedMs;
}

/** EXPLAIN ANALYZE of the snapshot's query (aggregates and event-set fingerprint in one read) for the customer with the most events. */
async function explainSnapshotQuery(
  pool: pg.Pool,
  periodName: string,
  eventsByCustomer: Readonly<Record<string, number>>,
): Promise<string> {
  const [customerId] = Object.entries(eventsByCustomer).sort(([, a], [, b]) => b - a)[0] ?? [];
  if (customerId === undefined) throw new Error('no customer to explain');
  const terms = await publishedTerms(pool).current(customerId);
  const query = usageAggregateWithEventSetQuery(usageAggregationPlan(terms.versions, billingPeriod(periodName)), {
    customerId,
    lateEvents: 'exclude',
  });
  const { rows } = await pool.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${query.text}`,
    query.values,
  );
  const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
  if (/Seq Scan on usage_events/.test(plan) || !/Index Scan|Index Only Scan|Bitmap Index Scan/.test(plan)) {
    throw new Error(`the snapshot query does not read an index range:\n${plan}`);
  }
  return `${customerId} (${eventsByCustomer[customerId]} events):\n${plan}`;
}

/** Polls until a worker polls the task queue (its workflow bundle is built by then). */
async function waitForPollers(
  client: Client,
  namespace: string,
  taskQueue: string,
  failure: () => unknown,
): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const failed = failure();
    if (failed !== undefined) throw failed;
    const [workflowPollers, activityPollers] = await Promise.all(
      [1, 2].map(
        async (taskQueueType) =>
          (await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType }))
            .pollers?.length ?? 0,
      ),
    );
    if ((workflowPollers ?? 0) > 0 && (activityPollers ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error(`no worker polls ${taskQueue} after 3 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function startProfiler(): Promise<{ stop: () => Promise<string> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return JSON.stringify(profile);
    },
  };
}

/** Runs `work` over `items` with at most `limit` at once; results in input order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

function sampleRss(): { stop: () => number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.round(Math.max(peak, process.memoryUsage().rss) / 1e6);
    },
  };
}

function cpuBetween(before: ReturnType<typeof readCpu>, after: ReturnType<typeof readCpu>, wallMs: number): CpuSeconds {
  return {
    node: after.node - before.node,
    temporal: after.temporal - before.temporal,
    postgres: after.postgres - before.postgres,
    machineBusy: after.machineBusy - before.machineBusy,
    wallCores: (wallMs / 1000) * after.cores,
  };
}

/** CPU seconds of this process's threads, by thread name (main JS thread, workflow threads, the Temporal core's runtime, GC). */
function threadCpu(): Map<string, number> {
  const byName = new Map<string, number>();
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const name = readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim();
      const text = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number.parseInt(fields[11] ?? '0', 10) + Number.parseInt(fields[12] ?? '0', 10)) / CLOCK_TICKS;
      byName.set(name, (byName.get(name) ?? 0) + seconds);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byName;
}

const CLOCK_TICKS = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10) || 100;

/**
 * CPU seconds used so far: this process; the Temporal server; Postgres (the postmaster with its
 * exited children plus every live backend); and the whole machine (busy time of all cores, from
 * /proc/stat), which shows how much the other users of the machine took meanwhile.
 */
function readCpu(layout: StackLayout): {
  node: number;
  temporal: number;
  postgres: number;
  machineBusy: number;
  cores: number;
} {
  const usage = process.cpuUsage();
  const pidOf = (service: string): number =>
    Number.parseInt(readFileSync(path.join(layout.dataDir, 'pids', `${service}.pid`), 'utf8').trim(), 10);
  const stat = (pid: number): { ppid: number; own: number; children: number } | undefined => {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const tick = (index: number): number => Number.parseInt(fields[index] ?? '0', 10);
      // After "(comm) ": state=0 ppid=1 … utime=11 stime=12 cutime=13 cstime=14.
      return { ppid: tick(1), own: (tick(11) + tick(12)) / CLOCK_TICKS, children: (tick(13) + tick(14)) / CLOCK_TICKS };
    } catch {
      return undefined;
    }
  };
  const temporal = stat(pidOf('temporal'));
  const postmasterPid = pidOf('postgres');
  const postmaster = stat(postmasterPid);
  let postgres = (postmaster?.own ?? 0) + (postmaster?.children ?? 0);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = stat(Number.parseInt(entry, 10));
    if (child?.ppid === postmasterPid) postgres += child.own;
  }
  const cpuLine = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const ticks = cpuLine
    .trim()
    .split(/\s+/)
    .slice(1)
    .map((value) => Number.parseInt(value, 10));
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const busy =
    ticks.reduce((sum, value, index) => (index === 3 || index === 4 || index > 7 ? sum : sum + value), 0) / CLOCK_TICKS;
  return {
    node: (usage.user + usage.system) / 1e6,
    temporal: (temporal?.own ?? 0) + (temporal?.children ?? 0),
    postgres,
    machineBusy: busy,
    cores: readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('processor')).length,
  };
}
