import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { durationMsFromEnv, parseEnv } from './parse-env.ts';
import { repositoryRoot, ServicesEnvSchema } from './services.ts';
import { StripeEnvSchema } from './stripe.ts';

/**
 * The billing worker (`tally worker`): Temporal worker for the period workflows, plus the period
 * opener. Stripe settings (config/stripe.ts) are needed only for contracts whose provider is Stripe.
 */
export const BillingWorkerEnvSchema = ServicesEnvSchema.extend({
  /** Finance's rate cards: `<dir>/<ratecard>/<effective_from>.yaml`. */
  TALLY_RATECARDS_DIR: z.string().min(1).default(path.join(repositoryRoot, 'ratecards')),
  /** Customer terms: `<dir>/<customer_id>.yaml` (SPEC §3). */
  TALLY_CONTRACTS_DIR: z.string().min(1).default(path.join(repositoryRoot, 'customers')),
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
  TALLY_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
}).extend(StripeEnvSchema.shape);

/** What the billing worker runs with: parsed from the environment by `tally worker`, built directly by the demo and tests. */
export interface BillingWorkerConfig {
  readonly ratecardsDir: string;
  readonly contractsDir: string;
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
  };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export function parseBillingWorkerEnv(env: Record<string, string | undefined> = process.env): BillingWorkerConfig {
  const parsed = parseEnv(BillingWorkerEnvSchema, env);
  return {
    ratecardsDir: parsed.TALLY_RATECARDS_DIR,
    contractsDir: parsed.TALLY_CONTRACTS_DIR,
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
    },
    logLevel: parsed.TALLY_LOG_LEVEL,
  };
}

/**
 * Four steps at once per core: the steps are mostly Postgres work, and more of them at once only
 * makes them contend (on two cores, 8 closed 1,000 customer-periods faster than 16; BENCHMARKS.md).
 */
export function defaultActivityConcurrency(cores: number = os.availableParallelism()): number {
  return Math.max(4, 4 * cores);
}
