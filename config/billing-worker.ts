import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { RevenueEnvSchema } from './revenue.ts';
import { durationMsFromEnv, parseEnv } from './parse-env.ts';
import { repositoryRoot, ServicesEnvSchema } from './services.ts';
import { UsageStreamEnvSchema } from './ingest-worker.ts';
import { SignalsEnvSchema } from './signals.ts';
import { StripeEnvSchema } from './stripe.ts';

/**
 * The billing worker (`tally worker`): Temporal worker for the period workflows, plus the period
 * opener. Stripe settings (config/stripe.ts) are needed only for contracts whose provider is Stripe.
 */
export const BillingWorkerEnvSchema = ServicesEnvSchema.extend({
  /**
   * Finance's rate-card files, `<dir>/<ratecard>/<effective_from>.yaml`, when this worker keeps them:
   * billing rates only published versions, and a file here that disagrees with the change log stops
   * the period for a person. Set it empty to keep none.
   */
  TALLY_RATECARDS_DIR: z.string().default(path.join(repositoryRoot, 'ratecards')),
  /** Where escalations and usage alerts are posted (JSON); unset keeps them on record only. */
  TALLY_WEBHOOK_URL: z.url().optional(),
  /**
   * Steps run at once by this worker, regular and local activities each (most steps are local:
   * docs/decisions/period-close.md); bounds the worker's load on Postgres. Default: four per core.
   */
  TALLY_MAX_CONCURRENT_ACTIVITIES: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .default(String(defaultActivityConcurrency()))
    .transform((text) => Number.parseInt(text, 10))
    .refine((value) => value > 0, 'must be at least 1'),
  /** How often the period opener looks for customer-periods without a workflow. */
  TALLY_PERIOD_OPENER_INTERVAL: durationMsFromEnv.default(2000),
  /** How often the usage-alert loop checks customer-periods whose running totals changed. */
  TALLY_USAGE_ALERT_INTERVAL: durationMsFromEnv.default(30_000),
  /** The Temporal task queue of the billing workflows (one per deployment; tests use their own). */
  TALLY_TASK_QUEUE: z
    .string()
    .regex(/^[\w.-]{1,200}$/, 'letters, digits, . _ -')
    .default('billing'),
  /** A grace or step timeout for workflows this worker opens, overriding the contracts' (demo, tests). */
  TALLY_OPENER_GRACE: durationMsFromEnv.optional(),
  TALLY_OPENER_REVIEW_TIMEOUT: durationMsFromEnv.optional(),
  TALLY_OPENER_STEP_TIMEOUT: durationMsFromEnv.optional(),
  TALLY_OPENER_RECHECK: durationMsFromEnv.optional(),
  /**
   * The period opener opens every period a published contract is active in, but none that ended more
   * than this many months before the contract was first published (close those by name).
   */
  TALLY_OPENER_BACKDATE_PERIODS: z
    .string()
    .regex(/^\d{1,3}$/, 'a whole number of months')
    .default('6')
    .transform((text) => Number.parseInt(text, 10)),
  /**
   * On SIGTERM, how long running steps get to finish before they are cancelled; the worker is gone
   * within this plus a fixed margin whatever its workflows do (docs/decisions/bad-input.md).
   */
  TALLY_WORKER_SHUTDOWN_GRACE: durationMsFromEnv.default(10_000),
  TALLY_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Daily revenue recognition's Temporal Schedule (SPEC §11), created or updated at start; `off` leaves it alone. */
  TALLY_REVENUE_SCHEDULE: z.enum(['on', 'off']).default('on'),
  /** When it fires, `HH:MM` UTC; it recognizes the day before. */
  TALLY_REVENUE_SCHEDULE_AT: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (UTC)')
    .default('00:30'),
})
  .extend(RevenueEnvSchema.shape)
  .extend(StripeEnvSchema.shape)
  .extend(UsageStreamEnvSchema.shape)
  .extend(SignalsEnvSchema.shape);

/** What the billing worker runs with: parsed from the environment by `tally worker`, built directly by the demo and tests. */
export interface BillingWorkerConfig {
  /** Finance's rate-card files this worker keeps, to find drift from the change log; undefined: none. */
  readonly ratecardsDir: string | undefined;
  readonly webhookUrl: string | undefined;
  readonly maxConcurrentActivities: number;
  readonly periodOpenerIntervalMs: number;
  readonly usageAlertIntervalMs: number;
  readonly taskQueue: string;
  /** Waits for the workflows the period opener starts, overriding the contracts' (the demo and tests use seconds). */
  readonly openerOverrides: {
    readonly graceMs?: number;
    readonly reviewTimeoutMs?: number;
    readonly stepTimeoutMs?: number;
    readonly recheckMs?: number;
  };
  readonly backdatePeriods: number;
  /** The usage stream whose consumer a close waits for (SPEC: the month's tail belongs in its invoice). */
  readonly usageStream: { readonly streamName: string; readonly consumerName: string };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** After a stop is asked, how long running steps may finish before they are cancelled (default 10 s). */
  readonly shutdownGraceMs?: number;
  /** The daily revenue-recognition schedule, UTC; absent: the worker does not create it. */
  readonly revenueSchedule?: { readonly hour: number; readonly minute: number };
  /** Which SKUs are product signals (never billed, never a reason to stop the close); undefined: none. */
  readonly signalsFile?: string | undefined;
  /** The month-end accrual's latency window (config/revenue.ts); undefined: its default. */
  readonly accrualLatencyMs?: number;
}

export function parseBillingWorkerEnv(env: Record<string, string | undefined> = process.env): BillingWorkerConfig {
  const parsed = parseEnv(BillingWorkerEnvSchema, env);
  return {
    ratecardsDir: parsed.TALLY_RATECARDS_DIR === '' ? undefined : parsed.TALLY_RATECARDS_DIR,
    webhookUrl: parsed.TALLY_WEBHOOK_URL,
    maxConcurrentActivities: parsed.TALLY_MAX_CONCURRENT_ACTIVITIES,
    periodOpenerIntervalMs: parsed.TALLY_PERIOD_OPENER_INTERVAL,
    usageAlertIntervalMs: parsed.TALLY_USAGE_ALERT_INTERVAL,
    taskQueue: parsed.TALLY_TASK_QUEUE,
    openerOverrides: {
      ...(parsed.TALLY_OPENER_GRACE === undefined ? {} : { graceMs: parsed.TALLY_OPENER_GRACE }),
      ...(parsed.TALLY_OPENER_REVIEW_TIMEOUT === undefined
        ? {}
        : { reviewTimeoutMs: parsed.TALLY_OPENER_REVIEW_TIMEOUT }),
      ...(parsed.TALLY_OPENER_STEP_TIMEOUT === undefined ? {} : { stepTimeoutMs: parsed.TALLY_OPENER_STEP_TIMEOUT }),
      ...(parsed.TALLY_OPENER_RECHECK === undefined ? {} : { recheckMs: parsed.TALLY_OPENER_RECHECK }),
    },
    backdatePeriods: parsed.TALLY_OPENER_BACKDATE_PERIODS,
    usageStream: { streamName: parsed.TALLY_INGEST_STREAM, consumerName: parsed.TALLY_INGEST_CONSUMER },
    logLevel: parsed.TALLY_LOG_LEVEL,
    shutdownGraceMs: parsed.TALLY_WORKER_SHUTDOWN_GRACE,
    signalsFile: parsed.TALLY_SIGNALS_FILE === '' ? undefined : parsed.TALLY_SIGNALS_FILE,
    accrualLatencyMs: parsed.TALLY_REVENUE_ACCRUAL_LATENCY,
    ...(parsed.TALLY_REVENUE_SCHEDULE === 'off'
      ? {}
      : {
          revenueSchedule: {
            hour: Number.parseInt(parsed.TALLY_REVENUE_SCHEDULE_AT.slice(0, 2), 10),
            minute: Number.parseInt(parsed.TALLY_REVENUE_SCHEDULE_AT.slice(3), 10),
          },
        }),
  };
}

/**
 * Four steps at once per core: the steps are mostly Postgres work, and more of them at once only
 * makes them contend (on two cores, 8 closed 1,000 customer-periods faster than 16; BENCHMARKS.md).
 */
export function defaultActivityConcurrency(cores: number = os.availableParallelism()): number {
  return Math.max(4, 4 * cores);
}
