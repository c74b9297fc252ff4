import { Client } from '@temporalio/client';
import { GracefulShutdownPeriodExpiredError, Worker, type WorkerInterceptors } from '@temporalio/worker';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../connections/nats.ts';
import { connectTemporalClient, connectTemporalWorker } from '../connections/temporal.ts';
import pino from 'pino';
import {
  checkActivityContracts,
  checkChangedUsageAlerts,
  createBackfillActivities,
  createBillingActivities,
  createShadowRunActivities,
  createMarketplaceActivities,
  createAnomalyActivities,
  deliverNotification,
  ensureAnomalySchedule,
  type ContractSweepState,
  ensureMarketplaceSchedule,
  publishedMarketplaceCustomers,
  openPendingPeriods,
  tallyActivityInterceptors,
} from '../activities/index.ts';
import { anomalyDependencies, parseAnomalyEnv, type AnomalyConfig } from '../config/anomalies.ts';
import type { BillingWorkerConfig } from '../config/billing-worker.ts';
import {
  marketplaceAdapterOptions,
  marketplaceSettings,
  parseMarketplaceEnv,
  type MarketplaceConfig,
} from '../config/marketplace.ts';
import { workflowsEntry } from '../config/paths.ts';
import type { StripeConnection } from '../config/stripe.ts';
import type { ServiceEndpoints } from '../config/services.ts';
import { loadProductSignals } from '../config/signals.ts';
import { migrateAtStart } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { listUndeliveredNotifications } from '../db/queries/notifications.ts';
import { createBillingProviders } from '../providers/index.ts';
import { createMarketplaceAdapters } from '../providers/marketplaces/index.ts';
import { createWebhookNotifier } from '../providers/webhook-notifier.ts';
import { readIngestWatermark } from '../ingest/ingest-watermark.ts';
import { createRevenueActivities, ensureRevenueSchedule } from '../revenue/index.ts';
import { publishedTerms } from '../terms/index.ts';

export interface BillingWorkerOptions {
  readonly config: BillingWorkerConfig;
  readonly endpoints: ServiceEndpoints;
  /** Set when contracts sync to Stripe (parseStripeEnv). */
  readonly stripe?: StripeConnection;
  /** Marketplace endpoints, credentials and windows (parseMarketplaceEnv); default: none configured. */
  readonly marketplace?: MarketplaceConfig;
  /** Daily anomaly detection (parseAnomalyEnv); default: its activities run, no schedule is kept. */
  readonly anomalies?: AnomalyConfig;
  /** Stop when this signal aborts (SIGTERM/SIGINT in `tally worker`). */
  readonly signal: AbortSignal;
  /** Where the worker logs; default JSON on stdout at TALLY_LOG_LEVEL (the demo keeps stdout for its report). */
  readonly logger?: pino.Logger;
  /**
   * Run the period opener (default). Off when another party starts the workflows itself, as the
   * close benchmark does to control how many are in flight.
   */
  readonly openPeriods?: boolean;
  /** Temporal worker interceptors (the close benchmark times each activity with one). */
  readonly interceptors?: WorkerInterceptors;
}

const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** After the grace, how much longer the Temporal worker, the loops and each connection get to stop. */
const SHUTDOWN_FORCE_AFTER_GRACE_MS = 5_000;
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * The longest a billing worker takes to stop once asked, whatever its workflows and steps do: the
 * grace, then the forced stop of the Temporal worker, then the loops and the connections, each
 * bounded. `tally worker` exits by then (a step blocked in a query is abandoned: its workflow
 * retries it elsewhere, every step being idempotent).
 */
export function shutdownBoundMs(config: Pick<BillingWorkerConfig, 'shutdownGraceMs'>): number {
  return (config.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS) + SHUTDOWN_FORCE_AFTER_GRACE_MS + 2 * CLOSE_TIMEOUT_MS;
}
/**
 * The billing worker: the Temporal worker for the customer-period workflows and their activities,
 * the period opener (outbox relay from `customer_periods`), and redelivery of notifications whose
 * webhook failed. Drains on abort: stops polling, lets running activities finish for the shutdown
 * grace, then cancels them (and stops regardless after a bounded time), closes the pool.
 */
export async function runBillingWorker(options: BillingWorkerOptions): Promise<void> {
  const { config, endpoints, stripe } = options;
  const logger = options.logger ?? pino({ name: 'tally-billing-worker', level: config.logLevel });
  const pool = createPool(endpoints, {
    max: Math.max(10, config.maxConcurrentActivities + 4),
    applicationName: 'tally-billing-worker',
  });
  // Whatever was opened is closed again, also when a step of the start fails (a caller that goes on,
  // like the demo, must not be left with open handles).
  const closers: Array<() => Promise<void>> = [() => pool.end()];
  const stopLoops = new AbortController();
  const loops: Promise<void>[] = [];
  // Usage alerts: where the last complete pass started (undefined: scan every total), and the
  // customers already reported as skipped (no usable contract), so each is logged once.
  let alertsSince: string | undefined;
  const contractSweep: ContractSweepState = { publicationId: undefined, period: undefined };
  const skippedCustomers = new Set<string>();
  try {
    await migrateAtStart(endpoints, pool);
    const notifier = createWebhookNotifier(config.webhookUrl);
    const terms = publishedTerms(pool, config.ratecardsDir === undefined ? {} : { ratecardsDir: config.ratecardsDir });
    // The close waits for the ingest consumer (its watermark, read from JetStream).
    const nats = await connectNats(endpoints, { name: 'tally-billing-worker', maxReconnectAttempts: -1 });
    closers.unshift(() => nats.close());
    const jsm = await jetstreamManager(nats);
    const billingActivities = createBillingActivities({
      pool,
      terms,
      productSignals: await loadProductSignals(config.signalsFile),
      providers: createBillingProviders({ pool, ...(stripe === undefined ? {} : { stripe }) }),
      notifier,
      ingestWatermark: () => readIngestWatermark(jsm, config.usageStream.streamName, config.usageStream.consumerName),
    });
    const activities = {
      ...billingActivities,
      // Backfills and shadow runs run on the same queue and pool: their steps are keyed database
      // writes like the close's.
      ...createBackfillActivities({ pool, terms }),
      ...createShadowRunActivities({ pool, terms }),
      ...createRevenueActivities({
        pool,
        terms,
        ...(config.accrualLatencyMs === undefined ? {} : { accrualLatencyMs: config.accrualLatencyMs }),
      }),
    };
    const workerConnection = await connectTemporalWorker(endpoints);
    closers.unshift(() => workerConnection.close());
    const clientConnection = await connectTemporalClient(endpoints);
    closers.unshift(() => clientConnection.close());
    const client = new Client({ connection: clientConnection, namespace: endpoints.temporalNamespace });
    const marketplace = options.marketplace ?? parseMarketplaceEnv({});
    const marketplaceActivities = createMarketplaceActivities({
      pool,
      listMarketplaceCustomers: publishedMarketplaceCustomers(pool),
      loadTerms: (customerId) => terms.current(customerId),
      adapters: createMarketplaceAdapters(marketplaceAdapterOptions(marketplace)),
      settings: marketplaceSettings(marketplace),
      temporal: { client, taskQueue: config.taskQueue },
    });
    const anomalies = options.anomalies ?? parseAnomalyEnv({ TALLY_ANOMALY_SCHEDULE: 'off' });
    const anomalyActivities = createAnomalyActivities({
      pool,
      ...anomalyDependencies(anomalies),
      notifierFor: (url) => createWebhookNotifier(url),
    });
    const worker = await Worker.create({
      connection: workerConnection,
      namespace: endpoints.temporalNamespace,
      taskQueue: config.taskQueue,
      workflowsPath: workflowsEntry,
      // Refuses to start with an activity that has no contract (contracts/activity-io.ts).
      activities: checkActivityContracts({ ...activities, ...marketplaceActivities, ...anomalyActivities }),
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      // Most steps are local activities; without this they would run as many at once as workflows are open.
      maxConcurrentLocalActivityExecutions: config.maxConcurrentActivities,
      // A stop waits this long for running steps, then cancels them; a step that ignores the
      // cancellation (blocked in a query) does not hold the worker: it stops anyway after the force time.
      shutdownGraceTime: config.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
      shutdownForceTime: (config.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS) + SHUTDOWN_FORCE_AFTER_GRACE_MS,
      interceptors: {
        ...options.interceptors,
        activity: [...tallyActivityInterceptors, ...(options.interceptors?.activity ?? [])],
      },
    });
    // Aborted while starting (bundling the workflows takes seconds): stop before polling.
    if (options.signal.aborted) return;
    if (marketplace.schedule.enabled) {
      const scheduleId = await ensureMarketplaceSchedule(client, {
        taskQueue: config.taskQueue,
        minute: marketplace.schedule.minute,
        ...(config.openerOverrides.stepTimeoutMs === undefined
          ? {}
          : { stepTimeoutMs: config.openerOverrides.stepTimeoutMs }),
      });
      logger.info({ scheduleId }, 'marketplace schedule in place');
    }
    if (config.revenueSchedule !== undefined) {
      const scheduleId = await ensureRevenueSchedule(client, {
        taskQueue: config.taskQueue,
        ...config.revenueSchedule,
        ...(config.openerOverrides.stepTimeoutMs === undefined
          ? {}
          : { stepTimeoutMs: config.openerOverrides.stepTimeoutMs }),
      });
      logger.info({ scheduleId }, 'revenue recognition schedule in place');
    }

    if (anomalies.schedule.enabled) {
      const scheduleId = await ensureAnomalySchedule(client, {
        taskQueue: config.taskQueue,
        hour: anomalies.schedule.hour,
        minute: anomalies.schedule.minute,
        ...(config.openerOverrides.stepTimeoutMs === undefined
          ? {}
          : { stepTimeoutMs: config.openerOverrides.stepTimeoutMs }),
      });
      logger.info({ scheduleId }, 'anomaly schedule in place');
    }

    loops.push(
      options.openPeriods === false
        ? Promise.resolve()
        : repeat(logger, config.periodOpenerIntervalMs, stopLoops.signal, async () => {
            const opened = await openPendingPeriods(pool, client, {
              taskQueue: config.taskQueue,
              overrides: config.openerOverrides,
              contracts: { backdatePeriods: config.backdatePeriods, state: contractSweep },
            });
            if (opened > 0) logger.info({ opened }, 'started period workflows');
          }),
      repeat(logger, config.usageAlertIntervalMs, stopLoops.signal, async () => {
        const scan = await checkChangedUsageAlerts({ pool, terms, notifier }, { since: alertsSince });
        alertsSince = scan.nextSince;
        for (const result of scan.results) {
          if (result.status === 'skipped' && !skippedCustomers.has(result.customerId)) {
            skippedCustomers.add(result.customerId);
            logger.warn(
              { customerId: result.customerId, period: result.period, reason: result.reason },
              'usage alerts skipped for this customer',
            );
          }
          if (result.status === 'checked' && result.alerts.length > 0) {
            logger.info(
              {
                customerId: result.customerId,
                period: result.period,
                alerts: result.alerts.map((alert) => `${alert.basis}:${alert.thresholdPct}`),
              },
              'usage alerts recorded',
            );
          }
        }
        for (const failure of scan.failures)
          logger.warn(
            { customerId: failure.customerId, period: failure.period, err: failure.error },
            'usage alert check failed; retrying',
          );
      }),
      repeat(logger, 30_000, stopLoops.signal, async () => {
        for (const notification of await listUndeliveredNotifications(pool, 50)) {
          await deliverNotification({ pool, notifier }, notification.notificationKey, notification.payload);
        }
      }),
    );
    options.signal.addEventListener(
      'abort',
      () => {
        logger.info('draining');
        stopLoops.abort();
        if (worker.getState() === 'RUNNING') worker.shutdown();
      },
      { once: true },
    );
    logger.info({ taskQueue: config.taskQueue, temporal: endpoints.temporalAddress }, 'billing worker running');
    try {
      await worker.run();
    } catch (error) {
      // A forced stop (steps that ignored their cancellation) can surface as the SDK's own error or as
      // a workflow thread torn down under it: either way the stop asked for has happened.
      if (!options.signal.aborted) throw error;
      logger.warn(
        { err: error instanceof GracefulShutdownPeriodExpiredError ? undefined : error },
        'steps still running after the shutdown grace were abandoned; their workflows retry them',
      );
    }
  } finally {
    stopLoops.abort();
    // A loop or connection stuck in a query (a locked table, a hung server) must not hold the stop.
    if (!(await within(Promise.all(loops), CLOSE_TIMEOUT_MS))) logger.warn('background loops abandoned at shutdown');
    if (!(await within(Promise.allSettled(closers.map((close) => close())), CLOSE_TIMEOUT_MS)))
      logger.warn('a connection did not close in time (a query still running?); abandoned');
    logger.info('stopped');
  }
}

/** Waits for `work` at most `timeoutMs`: true when it settled in time (its failure is only logged by callers). */
async function within(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = work.then(
    () => true,
    () => true,
  );
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `work` every `intervalMs` until aborted; a failure is logged and tried again next time. */
async function repeat(
  logger: pino.Logger,
  intervalMs: number,
  signal: AbortSignal,
  work: () => Promise<void>,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await work();
    } catch (error) {
      logger.warn({ err: error }, 'background step failed; retrying');
    }
    await new Promise<void>((resolve) => {
      // The listener goes when the wait ends either way: one per wait would pile up on the signal.
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, intervalMs);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
