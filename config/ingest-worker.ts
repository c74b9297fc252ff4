import { z } from 'zod';
import { durationMsFromEnv, parseEnv, portFromEnv } from './parse-env.ts';

const wholeNumber = z
  .string()
  .regex(/^\d+$/, 'must be a whole number')
  .transform((text) => Number.parseInt(text, 10))
  .refine((value) => value > 0, 'must be at least 1');
const positiveInteger = (fallback: number) => wholeNumber.default(fallback);

/** Where usage events are published: shared by the worker and the producers (`tally send`, the bench). */
export const UsageStreamEnvSchema = z.object({
  TALLY_INGEST_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a stream name')
    .default('USAGE_EVENTS'),
  /** Events are published to `<prefix>.<source>`. */
  TALLY_INGEST_SUBJECT_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'one subject token of [a-z0-9_-]')
    .default('usage'),
  /** JetStream drops a repeated message id inside this window (the publish hop only; Postgres dedupes the rest). */
  TALLY_INGEST_DUPLICATE_WINDOW: durationMsFromEnv.default(120_000),
  /** How long the stream keeps messages; 0ms keeps them until deleted. Must exceed the worst consumer lag. */
  TALLY_INGEST_STREAM_MAX_AGE: durationMsFromEnv.default(30 * 86_400_000),
  /** The stream's size limit in bytes; at it, publishes are refused (nothing stored is discarded). Unset: no limit of its own. */
  TALLY_INGEST_STREAM_MAX_BYTES: wholeNumber.optional(),
  /** Copies of the stream in a NATS cluster: 3 in production (SPEC §13), 1 on a single server. */
  TALLY_INGEST_STREAM_REPLICAS: wholeNumber.refine((value) => value <= 5, 'at most 5').default(1),
  /** The ingest worker's durable consumer. */
  TALLY_INGEST_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a consumer name')
    .default('ingest'),
});

export interface UsageStreamConfig {
  readonly streamName: string;
  readonly subjectPrefix: string;
  readonly consumerName: string;
  readonly duplicateWindowMs: number;
  readonly maxAgeMs: number;
  readonly maxBytes: number | undefined;
  readonly replicas: number;
}

export function parseUsageStreamEnv(env: Record<string, string | undefined> = process.env): UsageStreamConfig {
  const parsed = parseEnv(UsageStreamEnvSchema, env);
  return {
    streamName: parsed.TALLY_INGEST_STREAM,
    subjectPrefix: parsed.TALLY_INGEST_SUBJECT_PREFIX,
    consumerName: parsed.TALLY_INGEST_CONSUMER,
    duplicateWindowMs: parsed.TALLY_INGEST_DUPLICATE_WINDOW,
    maxAgeMs: parsed.TALLY_INGEST_STREAM_MAX_AGE,
    maxBytes: parsed.TALLY_INGEST_STREAM_MAX_BYTES,
    replicas: parsed.TALLY_INGEST_STREAM_REPLICAS,
  };
}

/**
 * The ingest worker's environment (beside the services of config/services.ts: NATS_URL,
 * DATABASE_URL, or the embedded stack's TALLY_PORT_BASE / TALLY_STACK_DIR).
 */
export const IngestWorkerEnvSchema = UsageStreamEnvSchema.extend({
  /** JSON `{ "<source>": "<signing secret>" }`: the producers whose events are accepted. */
  TALLY_SOURCE_KEYS_FILE: z.string().min(1, 'name the JSON file of source signing keys'),
  /** JSON `{ "keys": [ { id, token_sha256 | token, sources } ] }`; required when the HTTP endpoint runs. */
  TALLY_INGEST_API_KEYS_FILE: z.string().min(1).optional(),
  TALLY_INGEST_BATCH_SIZE: positiveInteger(2000).refine((value) => value <= 50_000, 'at most 50000'),
  TALLY_INGEST_BATCH_WAIT: durationMsFromEnv.default(50),
  TALLY_INGEST_WRITERS: positiveInteger(2).refine((value) => value <= 16, 'at most 16'),
  /** Unacked messages the server hands out; bounds the worker's memory. Default 4 × batch × writers. */
  TALLY_INGEST_MAX_ACK_PENDING: wholeNumber.optional(),
  TALLY_INGEST_ACK_WAIT: durationMsFromEnv.default(60_000),
  TALLY_INGEST_NAK_DELAY: durationMsFromEnv.default(2000),
  /** From this delivery on, a failing batch is written message by message and a message that still fails is parked. */
  TALLY_INGEST_PARK_AFTER: positiveInteger(10),
  /** The accept window around the receipt time (SPEC §1: 35 days back, 5 minutes ahead). */
  TALLY_INGEST_ACCEPT_PAST: durationMsFromEnv.default(35 * 86_400_000),
  TALLY_INGEST_ACCEPT_FUTURE: durationMsFromEnv.default(5 * 60_000),
  TALLY_INGEST_HTTP_PORT: portFromEnv.optional(),
  TALLY_INGEST_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  TALLY_INGEST_HTTP_MAX_BODY_BYTES: positiveInteger(5 * 1024 * 1024),
  TALLY_INGEST_HTTP_MAX_EVENTS: positiveInteger(10_000),
  /** A request's headers must arrive within this, and the whole request within the next (slow clients cannot hold sockets). */
  TALLY_INGEST_HTTP_HEADERS_TIMEOUT: durationMsFromEnv.default(10_000),
  TALLY_INGEST_HTTP_REQUEST_TIMEOUT: durationMsFromEnv.default(60_000),
  /** Open connections at once; more are refused at accept. */
  TALLY_INGEST_HTTP_MAX_CONNECTIONS: positiveInteger(256),
  /** Events per second per API key (a token bucket holding one second's worth); beyond it 429 with Retry-After. */
  TALLY_INGEST_HTTP_RATE_PER_KEY: positiveInteger(50_000),
  TALLY_INGEST_METRICS_PORT: portFromEnv.optional(),
  /** The worker warns (and /metrics shows) when its oldest uncommitted message is older than this; far below the stream's max age. */
  TALLY_INGEST_LAG_ALERT: durationMsFromEnv.default(15 * 60_000),
  TALLY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).superRefine((env, context) => {
  if (env.TALLY_INGEST_STREAM_MAX_AGE > 0 && env.TALLY_INGEST_LAG_ALERT * 10 > env.TALLY_INGEST_STREAM_MAX_AGE) {
    context.addIssue({
      code: 'custom',
      path: ['TALLY_INGEST_LAG_ALERT'],
      message: 'must be at most a tenth of TALLY_INGEST_STREAM_MAX_AGE, so lag is alerted long before messages age out',
    });
  }
  if (env.TALLY_INGEST_HTTP_PORT !== undefined && env.TALLY_INGEST_API_KEYS_FILE === undefined) {
    context.addIssue({
      code: 'custom',
      path: ['TALLY_INGEST_API_KEYS_FILE'],
      message: 'required when TALLY_INGEST_HTTP_PORT is set',
    });
  }
});

export interface IngestWorkerConfig {
  readonly sourceKeysFile: string;
  readonly subjectPrefix: string;
  readonly apiKeysFile: string | undefined;
  readonly streamName: string;
  readonly consumerName: string;
  readonly duplicateWindowMs: number;
  readonly streamMaxAgeMs: number;
  readonly streamMaxBytes: number | undefined;
  /** Stream copies (TALLY_INGEST_STREAM_REPLICAS); absent: 1. */
  readonly streamReplicas?: number;
  readonly lagAlertMs: number;
  readonly batchSize: number;
  readonly batchMaxWaitMs: number;
  readonly writers: number;
  readonly maxAckPending: number;
  readonly ackWaitMs: number;
  readonly nakDelayMs: number;
  readonly parkAfterDeliveries: number;
  readonly acceptPastMs: number;
  readonly acceptFutureMs: number;
  readonly httpPort: number | undefined;
  readonly httpHost: string;
  readonly httpMaxBodyBytes: number;
  readonly httpMaxEvents: number;
  readonly httpHeadersTimeoutMs: number;
  readonly httpRequestTimeoutMs: number;
  readonly httpMaxConnections: number;
  readonly httpEventsPerSecondPerKey: number;
  readonly metricsPort: number | undefined;
  readonly logLevel: string;
}

export function parseIngestWorkerEnv(env: Record<string, string | undefined> = process.env): IngestWorkerConfig {
  const parsed = parseEnv(IngestWorkerEnvSchema, env);
  return {
    sourceKeysFile: parsed.TALLY_SOURCE_KEYS_FILE,
    subjectPrefix: parsed.TALLY_INGEST_SUBJECT_PREFIX,
    apiKeysFile: parsed.TALLY_INGEST_API_KEYS_FILE,
    streamName: parsed.TALLY_INGEST_STREAM,
    consumerName: parsed.TALLY_INGEST_CONSUMER,
    duplicateWindowMs: parsed.TALLY_INGEST_DUPLICATE_WINDOW,
    streamMaxAgeMs: parsed.TALLY_INGEST_STREAM_MAX_AGE,
    streamMaxBytes: parsed.TALLY_INGEST_STREAM_MAX_BYTES,
    streamReplicas: parsed.TALLY_INGEST_STREAM_REPLICAS,
    lagAlertMs: parsed.TALLY_INGEST_LAG_ALERT,
    batchSize: parsed.TALLY_INGEST_BATCH_SIZE,
    batchMaxWaitMs: parsed.TALLY_INGEST_BATCH_WAIT,
    writers: parsed.TALLY_INGEST_WRITERS,
    maxAckPending:
      parsed.TALLY_INGEST_MAX_ACK_PENDING ?? 4 * parsed.TALLY_INGEST_BATCH_SIZE * parsed.TALLY_INGEST_WRITERS,
    ackWaitMs: parsed.TALLY_INGEST_ACK_WAIT,
    nakDelayMs: parsed.TALLY_INGEST_NAK_DELAY,
    parkAfterDeliveries: parsed.TALLY_INGEST_PARK_AFTER,
    acceptPastMs: parsed.TALLY_INGEST_ACCEPT_PAST,
    acceptFutureMs: parsed.TALLY_INGEST_ACCEPT_FUTURE,
    httpPort: parsed.TALLY_INGEST_HTTP_PORT,
    httpHost: parsed.TALLY_INGEST_HTTP_HOST,
    httpMaxBodyBytes: parsed.TALLY_INGEST_HTTP_MAX_BODY_BYTES,
    httpMaxEvents: parsed.TALLY_INGEST_HTTP_MAX_EVENTS,
    httpHeadersTimeoutMs: parsed.TALLY_INGEST_HTTP_HEADERS_TIMEOUT,
    httpRequestTimeoutMs: parsed.TALLY_INGEST_HTTP_REQUEST_TIMEOUT,
    httpMaxConnections: parsed.TALLY_INGEST_HTTP_MAX_CONNECTIONS,
    httpEventsPerSecondPerKey: parsed.TALLY_INGEST_HTTP_RATE_PER_KEY,
    metricsPort: parsed.TALLY_INGEST_METRICS_PORT,
    logLevel: parsed.TALLY_LOG_LEVEL,
  };
}
