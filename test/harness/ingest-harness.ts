import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { IngestWorkerConfig } from '../../config/ingest-worker.ts';
import type { SourceKeys } from '../../contracts/source-keys.ts';
import { EventPublisher } from '../../ingest/event-publisher.ts';
import { ensureUsageStream } from '../../ingest/usage-stream.ts';
import { startIngestWorker, type IngestWorker } from '../../workers/ingest-worker.ts';
import { testPool, testStack } from './services.ts';
import { testLogFile } from './quiet-temporal.ts';
import type { ProvidedStack } from './test-stack.ts';

/** A name unique to this test run, usable as a stream name, subject token and id prefix. */
function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/**
 * One isolated ingest set-up on the shared test stack: its own stream, subject prefix and consumer
 * (test files run in parallel on one NATS server), its own sources (the tables are shared and
 * append-only, so tests count rows by their sources).
 */
export interface IngestTestbed {
  /** The stack it runs on: the run's shared one, or a private one for tests that restart services. */
  readonly stack: ProvidedStack;
  readonly name: string;
  readonly keys: SourceKeys;
  readonly sources: readonly string[];
  readonly keysFile: string;
  readonly directory: string;
  readonly config: IngestWorkerConfig;
  /** Environment for a worker child process (`node bin/tally.mjs ingest`) on this testbed. */
  readonly childEnv: Record<string, string>;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly publisher: EventPublisher;
  close(): Promise<void>;
}

export async function createIngestTestbed(
  options: { sources?: number; config?: Partial<IngestWorkerConfig>; stack?: ProvidedStack } = {},
): Promise<IngestTestbed> {
  const stack = options.stack ?? testStack();
  const name = uniqueName('t');
  const sources = Array.from({ length: options.sources ?? 2 }, (_, index) => `${name}-src${index}`);
  const keys: SourceKeys = Object.fromEntries(sources.map((source) => [source, `secret-${source}-0123456789`]));
  const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-ingest-'));
  const keysFile = path.join(directory, 'keys.json');
  await writeFile(keysFile, JSON.stringify(keys));
  const config: IngestWorkerConfig = {
    sourceKeysFile: keysFile,
    apiKeysFile: undefined,
    subjectPrefix: `${name}usage`,
    streamName: `${name.toUpperCase()}_USAGE`,
    consumerName: 'ingest',
    duplicateWindowMs: 120_000,
    streamMaxAgeMs: 0,
    streamMaxBytes: undefined,
    lagAlertMs: 60_000,
    batchSize: 500,
    batchMaxWaitMs: 20,
    writers: 2,
    maxAckPending: 4000,
    ackWaitMs: 30_000,
    nakDelayMs: 500,
    parkAfterDeliveries: 10,
    acceptPastMs: 35 * 86_400_000,
    acceptFutureMs: 5 * 60_000,
    httpPort: undefined,
    httpHost: '127.0.0.1',
    httpMaxBodyBytes: 1024 * 1024,
    httpMaxEvents: 1000,
    httpHeadersTimeoutMs: 10_000,
    httpRequestTimeoutMs: 60_000,
    httpMaxConnections: 256,
    httpEventsPerSecondPerKey: 1_000_000,
    metricsPort: undefined,
    logLevel: process.env.TALLY_TEST_VERBOSE ? 'debug' : 'warn',
    ...options.config,
  };
  const { endpoints } = stack;
  const nc = await connect({ servers: endpoints.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const jsm = await jetstreamManager(nc);
  await ensureUsageStream(jsm, {
    streamName: config.streamName,
    subjectPrefix: config.subjectPrefix,
    duplicateWindowMs: config.duplicateWindowMs,
    maxAgeMs: config.streamMaxAgeMs,
  });
  const js = jetstream(nc);
  const childEnv: Record<string, string> = {
    NATS_URL: endpoints.natsUrl,
    DATABASE_URL: endpoints.databaseUrl,
    TEMPORAL_ADDRESS: endpoints.temporalAddress,
    TALLY_SOURCE_KEYS_FILE: keysFile,
    TALLY_INGEST_STREAM: config.streamName,
    TALLY_INGEST_SUBJECT_PREFIX: config.subjectPrefix,
    TALLY_INGEST_CONSUMER: config.consumerName,
    TALLY_INGEST_STREAM_MAX_AGE: '0ms',
    TALLY_INGEST_BATCH_SIZE: String(config.batchSize),
    TALLY_INGEST_BATCH_WAIT: `${config.batchMaxWaitMs}ms`,
    TALLY_INGEST_WRITERS: String(config.writers),
    TALLY_INGEST_MAX_ACK_PENDING: String(config.maxAckPending),
    TALLY_INGEST_ACK_WAIT: `${config.ackWaitMs}ms`,
    TALLY_INGEST_NAK_DELAY: `${config.nakDelayMs}ms`,
    TALLY_LOG_LEVEL: config.logLevel,
  };
  const publisher = new EventPublisher(nc, { maxInFlight: 500, maxAttempts: 20, ackTimeoutMs: 5000 });
  return {
    stack,
    name,
    keys,
    sources,
    keysFile,
    directory,
    config,
    childEnv,
    nc,
    js,
    jsm,
    publisher,
    close: async () => {
      await publisher.close();
      await jsm.streams.delete(config.streamName).catch(() => undefined);
      await nc.close();
    },
  };
}

export async function startTestWorker(
  testbed: IngestTestbed,
  overrides: Partial<IngestWorkerConfig> = {},
): Promise<IngestWorker> {
  const { endpoints } = testbed.stack;
  // The worker's warnings in these tests are the injected faults' (a killed Postgres, a NATS restart):
  // they go to the run's log file, not the terminal, so a passing run stays quiet.
  const logger = pino(
    { level: testbed.config.logLevel },
    pino.destination({ dest: testLogFile('ingest-worker'), sync: true }),
  );
  return startIngestWorker({ ...testbed.config, ...overrides }, endpoints, logger);
}

/** Polls until `check` returns true; gives up (and throws) after `timeoutMs`. A wait, not a timed assertion. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The usual set-up of an ingest test file: registers beforeAll/afterAll that create a fresh testbed
 * (own stream, consumer and sources) with a running worker, and stop both and the shared test pool.
 * `testbed` and `worker` are there from beforeAll on.
 */
export function ingestWorkerSuite(): {
  readonly pool: pg.Pool;
  readonly testbed: IngestTestbed;
  readonly worker: IngestWorker;
} {
  const pool = testPool();
  let testbed: IngestTestbed | undefined;
  let worker: IngestWorker | undefined;
  beforeAll(async () => {
    testbed = await createIngestTestbed();
    worker = await startTestWorker(testbed);
  });
  afterAll(async () => {
    await worker?.stop();
    await testbed?.close();
    await pool.end();
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the ingest ${what} is created in beforeAll`);
    return value;
  };
  return {
    pool,
    get testbed() {
      return started(testbed, 'testbed');
    },
    get worker() {
      return started(worker, 'worker');
    },
  };
}
