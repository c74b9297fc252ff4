import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { durationMsFromEnv, parseEnv } from './parse-env.ts';

/**
 * Marketplace metering (SPEC §12) for the processes that report usage: the billing worker (its
 * hourly schedule) and `tally marketplace submit`. A marketplace with no endpoint or credentials
 * here is not sent to (its buckets wait, and its window check raises exceptions as they age).
 * Windows are configuration: the marketplaces have changed them before.
 */
export const MarketplaceEnvSchema = z.object({
  /** AWS Marketplace Metering endpoint (an emulator in tests); unset with credentials set: the SDK's regional endpoint. */
  TALLY_MARKETPLACE_AWS_ENDPOINT: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  TALLY_MARKETPLACE_AWS_REGION: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region like us-east-1')
    .default('us-east-1'),
  /** Static credentials of the seller account's metering role; unset: the SDK's default chain. */
  TALLY_MARKETPLACE_AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  TALLY_MARKETPLACE_AWS_SECRET_ACCESS_KEY_FILE: z.string().min(1).optional(),
  TALLY_MARKETPLACE_AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Attempts of one call by the AWS SDK itself (throttling, 5xx, lost answers: it resends the same records). */
  TALLY_MARKETPLACE_AWS_MAX_ATTEMPTS: z
    .string()
    .regex(/^[1-9]\d?$/, 'a whole number 1-99')
    .transform((text) => Number.parseInt(text, 10))
    .default(3),
  /** The product the records bill, when a contract names none (it groups calls: one product per call). */
  TALLY_MARKETPLACE_AWS_PRODUCT_CODE: z.string().min(1).max(255).optional(),
  /** Azure metering API base URL (default: the marketplace's own). */
  TALLY_MARKETPLACE_AZURE_ENDPOINT: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .default('https://marketplaceapi.microsoft.com'),
  /** The bearer token of the publisher's app, or a file holding it (read per call, so it can be rotated). */
  TALLY_MARKETPLACE_AZURE_TOKEN: z.string().min(1).optional(),
  TALLY_MARKETPLACE_AZURE_TOKEN_FILE: z.string().min(1).optional(),
  /** Decimals an Azure quantity may have (what is finer is carried to the next hour). */
  TALLY_MARKETPLACE_AZURE_QUANTITY_DECIMALS: z
    .string()
    .regex(/^([0-9]|1[0-2])$/, '0-12')
    .transform((text) => Number.parseInt(text, 10))
    .default(6),
  /** Google Service Control base URL (default: Google's own). */
  TALLY_MARKETPLACE_GCP_ENDPOINT: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .default('https://servicecontrol.googleapis.com'),
  TALLY_MARKETPLACE_GCP_TOKEN: z.string().min(1).optional(),
  TALLY_MARKETPLACE_GCP_TOKEN_FILE: z.string().min(1).optional(),
  /** The Service Control service of the listing, when a contract names none. */
  TALLY_MARKETPLACE_GCP_SERVICE_NAME: z.string().min(1).max(255).optional(),
  TALLY_MARKETPLACE_REQUEST_TIMEOUT: durationMsFromEnv.default(30_000),
  /** Report windows (documented today: AWS 24 h with month-end grace to 06:00 UTC on the 1st, Azure 24 h, Google 1 h). */
  TALLY_MARKETPLACE_AWS_WINDOW: durationMsFromEnv.default(24 * 3_600_000),
  TALLY_MARKETPLACE_AWS_MONTH_END_GRACE: durationMsFromEnv.default(6 * 3_600_000),
  TALLY_MARKETPLACE_AZURE_WINDOW: durationMsFromEnv.default(24 * 3_600_000),
  TALLY_MARKETPLACE_GCP_WINDOW: durationMsFromEnv.default(3_600_000),
  /** How long after an hour ends before it is sealed: usage still in flight through ingest arrives meanwhile. */
  TALLY_MARKETPLACE_SETTLE: durationMsFromEnv.default(5 * 60_000),
  /**
   * How far back a late event or a correction can still change an hour (at least ingest's accept
   * window, 35 days by default): older hours are settled and not read again.
   */
  TALLY_MARKETPLACE_RESTATEMENT_WINDOW: durationMsFromEnv.default(36 * 86_400_000),
  /**
   * The hourly Temporal Schedule that sends due buckets: `auto` (default: on when a marketplace is
   * configured here), `on`, or `off` (e.g. a worker that should not own it).
   */
  TALLY_MARKETPLACE_SCHEDULE: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Minute past the hour the schedule fires (after the settle time). */
  TALLY_MARKETPLACE_SCHEDULE_MINUTE: z
    .string()
    .regex(/^[0-5]?\d$/, '0-59')
    .transform((text) => Number.parseInt(text, 10))
    .default(6),
});

/** What the marketplace adapters and the sender need, resolved from the environment. */
export interface MarketplaceConfig {
  readonly aws?: {
    readonly endpoint?: string;
    readonly region: string;
    /** Read per call (a secret file can be rotated under a running worker). */
    readonly credentials?: () => Promise<{ accessKeyId: string; secretAccessKey: string }>;
    readonly maxAttempts: number;
  };
  readonly azure?: { readonly endpoint: string; readonly token: () => Promise<string> };
  readonly gcp?: { readonly endpoint: string; readonly token: () => Promise<string> };
  readonly requestTimeoutMs: number;
  readonly defaults: { readonly awsProductCode?: string; readonly gcpServiceName?: string };
  readonly windows: {
    readonly awsWindowMs: number;
    readonly awsMonthEndGraceMs: number;
    readonly azureWindowMs: number;
    readonly gcpWindowMs: number;
  };
  readonly azureQuantityScale: number;
  readonly settleMs: number;
  readonly restatementMs: number;
  readonly schedule: { readonly enabled: boolean; readonly minute: number };
}

export function parseMarketplaceEnv(env: Record<string, string | undefined> = process.env): MarketplaceConfig {
  const parsed = parseEnv(MarketplaceEnvSchema, env);
  const secret = (value: string | undefined, file: string | undefined): (() => Promise<string>) | undefined => {
    if (value !== undefined) return async () => value;
    if (file !== undefined) return async () => (await readFile(file, 'utf8')).trim();
    return undefined;
  };
  const awsSecret = secret(
    parsed.TALLY_MARKETPLACE_AWS_SECRET_ACCESS_KEY,
    parsed.TALLY_MARKETPLACE_AWS_SECRET_ACCESS_KEY_FILE,
  );
  const awsKeyId = parsed.TALLY_MARKETPLACE_AWS_ACCESS_KEY_ID;
  const azureToken = secret(parsed.TALLY_MARKETPLACE_AZURE_TOKEN, parsed.TALLY_MARKETPLACE_AZURE_TOKEN_FILE);
  const gcpToken = secret(parsed.TALLY_MARKETPLACE_GCP_TOKEN, parsed.TALLY_MARKETPLACE_GCP_TOKEN_FILE);
  const awsConfigured =
    parsed.TALLY_MARKETPLACE_AWS_ENDPOINT !== undefined || parsed.TALLY_MARKETPLACE_AWS_ACCESS_KEY_ID !== undefined;
  return {
    ...(awsConfigured
      ? {
          aws: {
            ...(parsed.TALLY_MARKETPLACE_AWS_ENDPOINT === undefined
              ? {}
              : { endpoint: parsed.TALLY_MARKETPLACE_AWS_ENDPOINT }),
            region: parsed.TALLY_MARKETPLACE_AWS_REGION,
            ...(awsKeyId !== undefined && awsSecret !== undefined
              ? { credentials: async () => ({ accessKeyId: awsKeyId, secretAccessKey: await awsSecret() }) }
              : {}),
            maxAttempts: parsed.TALLY_MARKETPLACE_AWS_MAX_ATTEMPTS,
          },
        }
      : {}),
    ...(azureToken === undefined
      ? {}
      : { azure: { endpoint: parsed.TALLY_MARKETPLACE_AZURE_ENDPOINT, token: azureToken } }),
    ...(gcpToken === undefined ? {} : { gcp: { endpoint: parsed.TALLY_MARKETPLACE_GCP_ENDPOINT, token: gcpToken } }),
    requestTimeoutMs: parsed.TALLY_MARKETPLACE_REQUEST_TIMEOUT,
    defaults: {
      ...(parsed.TALLY_MARKETPLACE_AWS_PRODUCT_CODE === undefined
        ? {}
        : { awsProductCode: parsed.TALLY_MARKETPLACE_AWS_PRODUCT_CODE }),
      ...(parsed.TALLY_MARKETPLACE_GCP_SERVICE_NAME === undefined
        ? {}
        : { gcpServiceName: parsed.TALLY_MARKETPLACE_GCP_SERVICE_NAME }),
    },
    windows: {
      awsWindowMs: parsed.TALLY_MARKETPLACE_AWS_WINDOW,
      awsMonthEndGraceMs: parsed.TALLY_MARKETPLACE_AWS_MONTH_END_GRACE,
      azureWindowMs: parsed.TALLY_MARKETPLACE_AZURE_WINDOW,
      gcpWindowMs: parsed.TALLY_MARKETPLACE_GCP_WINDOW,
    },
    azureQuantityScale: parsed.TALLY_MARKETPLACE_AZURE_QUANTITY_DECIMALS,
    settleMs: parsed.TALLY_MARKETPLACE_SETTLE,
    restatementMs: parsed.TALLY_MARKETPLACE_RESTATEMENT_WINDOW,
    schedule: {
      enabled:
        parsed.TALLY_MARKETPLACE_SCHEDULE === 'on' ||
        (parsed.TALLY_MARKETPLACE_SCHEDULE === 'auto' &&
          (awsConfigured || azureToken !== undefined || gcpToken !== undefined)),
      minute: parsed.TALLY_MARKETPLACE_SCHEDULE_MINUTE,
    },
  };
}

/** The adapters' options from the configuration (the composition roots build the adapters with them). */
export function marketplaceAdapterOptions(config: MarketplaceConfig) {
  return {
    ...(config.aws === undefined
      ? {}
      : {
          aws: {
            ...(config.aws.endpoint === undefined ? {} : { endpoint: config.aws.endpoint }),
            region: config.aws.region,
            ...(config.aws.credentials === undefined ? {} : { credentials: config.aws.credentials }),
            maxAttempts: config.aws.maxAttempts,
            requestTimeoutMs: config.requestTimeoutMs,
          },
        }),
    ...(config.azure === undefined ? {} : { azure: { ...config.azure, requestTimeoutMs: config.requestTimeoutMs } }),
    ...(config.gcp === undefined ? {} : { gcp: { ...config.gcp, requestTimeoutMs: config.requestTimeoutMs } }),
  };
}

/** The sealing and sending settings from the configuration. */
export function marketplaceSettings(config: MarketplaceConfig) {
  return {
    windows: config.windows,
    settleMs: config.settleMs,
    restatementMs: config.restatementMs,
    azureQuantityScale: config.azureQuantityScale,
    defaults: config.defaults,
  };
}
