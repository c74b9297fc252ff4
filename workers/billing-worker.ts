import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerInterceptors } from '@temporalio/worker';
import pino from 'pino';
import { createBillingActivities, deliverNotification, fileTermsLoader, openPendingPeriods } from '../activities/index.ts';
import type { BillingWorkerEnv } from '../config/billing-worker.ts';
import type { StripeConnection } from '../config/stripe.ts';
import type { ServiceEndpoints } from '../config/services.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { listUndeliveredNotifications } from '../db/queries/notifications.ts';
import { createBillingProviders } from '../providers/index.ts';
import { createWebhookNotifier } from '../providers/webhook-notifier.ts';

export interface BillingWorkerOptions {
  readonly env: BillingWorkerEnv;
  readonly endpoints: ServiceEndpoints;
  /** Set when contracts sync to Stripe (parseStripeEnv). */
  readonly stripe?: StripeConnection;
  /** Stop when this signal aborts (SIGTERM/SIGINT in `tally worker`). */
  readonly signal: AbortSignal;
  /**
   * Run the period opener (default). Off when another party starts the workflows itself, as the
   * close benchmark does to control how many are in flight.
   */
  readonly openPeriods?: boolean;
  /** Temporal worker interceptors (the close benchmark times each activity with one). */
  readonly interceptors?: WorkerInterceptors;
}


/**
 * The billing worker: the Temporal worker for the customer-period workflows and their activities,
 * the period opener (outbox relay from `customer_periods`), and redelivery of notifications whose
 * webhook failed. Drains on abort: stops polling, lets running activities finish, closes the pool.
 */
export async function runBillingWorker(options: BillingWorkerOptions): Promise<void> {
  const { env, endpoints, stripe } = options;
  const logger = pino({ name: 'tally-billing-worker', level: env.TALLY_LOG_LEVEL });
  const pool = createPool(endpoints.databaseUrl, { max: Math.max(10, env.TALLY_MAX_CONCURRENT_ACTIVITIES + 4), applicationName: 'tally-billing-worker' });
  await migrate(pool);
  const notifier = createWebhookNotifier(env.TALLY_WEBHOOK_URL);
  const activities = createBillingActivities({
    pool,
    loadTerms: fileTermsLoader({ contractsDir: env.TALLY_CONTRACTS_DIR, ratecardsDir: env.TALLY_RATECARDS_DIR }),
    providers: createBillingProviders({ pool, ...(stripe === undefined ? {} : { stripe }) }),
    notifier,
  });
  const workerConnection = await NativeConnection.connect({ address: endpoints.temporalAddress });
  const clientConnection = await Connection.connect({ address: endpoints.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: endpoints.temporalNamespace });
  const worker = await Worker.create({
    connection: workerConnection,
    namespace: endpoints.temporalNamespace,
    taskQueue: env.TALLY_TASK_QUEUE,
    workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
    activities,
    maxConcurrentActivityTaskExecutions: env.TALLY_MAX_CONCURRENT_ACTIVITIES,
    ...(options.interceptors === undefined ? {} : { interceptors: options.interceptors }),
  });

  const stopLoops = new AbortController();
  const loops = [
    options.openPeriods === false ? Promise.resolve() : repeat(logger, env.TALLY_PERIOD_OPENER_INTERVAL, stopLoops.signal, async () => {
      const opened = await openPendingPeriods(pool, client, {
        taskQueue: env.TALLY_TASK_QUEUE,
        overrides: {
          ...(env.TALLY_OPENER_GRACE === undefined ? {} : { graceMs: env.TALLY_OPENER_GRACE }),
          ...(env.TALLY_OPENER_REVIEW_TIMEOUT === undefined ? {} : { reviewTimeoutMs: env.TALLY_OPENER_REVIEW_TIMEOUT }),
          ...(env.TALLY_OPENER_STEP_TIMEOUT === undefined ? {} : { stepTimeoutMs: env.TALLY_OPENER_STEP_TIMEOUT }),
        },
      });
      if (opened > 0) logger.info({ opened }, 'started period workflows');
    }),
    repeat(logger, 30_000, stopLoops.signal, async () => {
      for (const notification of await listUndeliveredNotifications(pool, 50)) {
        await deliverNotification({ pool, notifier }, notification.notificationKey, notification.payload);
      }
    }),
  ];
  options.signal.addEventListener('abort', () => {
    logger.info('draining');
    stopLoops.abort();
    worker.shutdown();
  }, { once: true });
  logger.info({ taskQueue: env.TALLY_TASK_QUEUE, temporal: endpoints.temporalAddress }, 'billing worker running');
  try {
    await worker.run();
  } finally {
    stopLoops.abort();
    await Promise.all(loops);
    await clientConnection.close();
    await workerConnection.close();
    await pool.end();
    logger.info('stopped');
  }
}

/** Runs `work` every `intervalMs` until aborted; a failure is logged and tried again next time. */
async function repeat(logger: pino.Logger, intervalMs: number, signal: AbortSignal, work: () => Promise<void>): Promise<void> {
  while (!signal.aborted) {
    try {
      await work();
    } catch (error) {
      logger.warn({ err: error }, 'background step failed; retrying');
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}
