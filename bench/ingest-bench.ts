import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, openSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { repositoryRoot } from '../config/services.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { EventPublisher, type PublishOutcome } from '../ingest/event-publisher.ts';
import {
  batchUsageMessage,
  ensureUsageConsumer,
  ensureUsageStream,
  type OutgoingUsageMessage,
} from '../ingest/usage-stream.ts';
import { removeStackData, startStack, stopService, type StackLayout } from '../stack/index.ts';
import { generateMessage, type GeneratorOptions } from './event-generator.ts';

export interface IngestBenchOptions {
  readonly events: number;
  readonly portBase: number;
  readonly toolsDir: string;
  readonly writers: number;
  readonly batchSize: number;
  /** Seconds of the paced run (at half the measured maximum rate). */
  readonly pacedSeconds: number;
  /** Events per message in the batched runs (SPEC §1 batches). */
  readonly messageBatch: number;
  readonly log: (line: string) => void;
}

export interface IngestBenchResult {
  readonly events: number;
  /** The publisher alone into a scratch stream with no consumer: what the harness can offer. */
  readonly publishOnlyEventsPerSecond: number;
  /**
   * Publish, consume with a durable pull consumer and ack each message, all in this process, with no
   * validation and no database: the most the JetStream hop alone allows on this machine.
   */
  readonly transportOnlyEventsPerSecond: number;
  /**
   * CPU time per event of run 1 (user + system), by process: on a shared machine the rate depends on
   * the others' load, the CPU spent per event does not (much).
   */
  readonly cpuMicrosPerEvent: { readonly workerUs: number; readonly postgresUs: number; readonly natsUs: number };
  readonly e2eEventsPerSecond: number;
  readonly rawCopyRowsPerSecond: number;
  readonly ratio: number;
  readonly pacedEventsPerSecond: number;
  readonly pacedP99Ms: number;
  readonly maxRateP99Ms: number;
  readonly peakRssMb: number;
  readonly stored: number;
  readonly rejected: number;
  readonly serverDuplicates: number;
  readonly databaseDuplicates: number;
  /** The same measurements with `messageBatch` events per message (run 4 at maximum rate, run 5 paced at half of it). */
  readonly batched: {
    readonly eventsPerMessage: number;
    readonly e2eEventsPerSecond: number;
    readonly ratio: number;
    readonly pacedEventsPerSecond: number;
    readonly pacedP99Ms: number;
    readonly maxRateP99Ms: number;
    readonly peakRssMb: number;
    readonly cpuMicrosPerEvent: { readonly workerUs: number; readonly postgresUs: number; readonly natsUs: number };
  };
}

const SOURCES = ['api-gateway', 'batch-runner', 'search-edge', 'storage-meter', 'image-service', 'compute-agent'];
const STREAM = 'USAGE_EVENTS';
const SUBJECT_PREFIX = 'usage';

/**
 * The ingest benchmark: its own NATS and Postgres (fresh data, own ports), the real worker as a child
 * process (`tally ingest`), N signed events published through JetStream as fast as possible (a burst
 * far above what the worker can take: memory must stay bounded), then a run paced at half the
 * measured rate for latency, then the raw ceiling: COPY of the same rows into a table of the same shape.
 */
export async function runIngestBench(options: IngestBenchOptions): Promise<IngestBenchResult> {
  const { log } = options;
  const layout: StackLayout = {
    dataDir: path.join(repositoryRoot, '.tally', `bench-stack-${options.portBase}`),
    toolsDir: options.toolsDir,
    portBase: options.portBase,
    temporalUi: false,
    namespace: 'billing',
  };
  const quiet = (): void => undefined;
  await stopService(layout, 'nats', quiet);
  await stopService(layout, 'postgres', quiet);
  await removeStackData(layout);
  log(`starting NATS and Postgres under ${layout.dataDir} (ports from ${options.portBase})`);
  const endpoints = await startStack(layout, quiet, ['postgres', 'nats']);
  const pool = createPool(endpoints.databaseUrl, { max: 2, applicationName: 'tally-bench' });
  const nc = await connect({ servers: endpoints.natsUrl, name: 'tally-bench', maxReconnectAttempts: -1 });
  let worker: ChildProcess | undefined;
  let failed = false;
  try {
    await migrate(pool);
    const keys = Object.fromEntries(SOURCES.map((source) => [source, `bench-secret-${source}-0123456789`]));
    const keysFile = path.join(layout.dataDir, 'keys.json');
    await writeFile(keysFile, JSON.stringify(keys));
    const jsm = await jetstreamManager(nc);
    // A short duplicate window, so that most repeats get past the server and exercise Postgres's dedupe.
    await ensureUsageStream(jsm, {
      streamName: STREAM,
      subjectPrefix: SUBJECT_PREFIX,
      duplicateWindowMs: 1000,
      maxAgeMs: 0,
    });

    const nowMs = Date.now();
    const generator = (runTag: string): GeneratorOptions => ({
      sources: SOURCES,
      keys,
      customers: 5000,
      subjectPrefix: SUBJECT_PREFIX,
      spreadMs: 20 * 86_400_000,
      nowMs,
      duplicateDistance: Math.min(100_000, Math.max(1000, Math.floor(options.events / 4))),
      runTag,
    });
    const publisher = new EventPublisher(nc, { maxInFlight: 4000, maxAttempts: 10, ackTimeoutMs: 30_000 });

    // Messages are generated and signed before each timed phase: the producer's signing cost is not the worker's.
    log(`generating and signing ${options.events} messages`);
    const run1 = generateRun(options.events, generator('max'));

    // 0. The publisher alone (no consumer), into a scratch stream: the rate the harness can offer.
    const publishOnlyRate = await measurePublishOnly(jsm, publisher, run1.messages);
    log(`run 0: publisher alone ${Math.round(publishOnlyRate)} events/s into JetStream (scratch stream, no consumer)`);
    // 0b. The transport's own ceiling on this machine: publish + pull consumer + an ack per message, no work
    //     (this process publishes and consumes, as the publisher and the worker would in two).
    const transportOnlyRate = await measureTransportOnly(nc, jsm, publisher, run1.messages);
    log(
      `run 0b: transport alone ${Math.round(transportOnlyRate)} events/s (publish, consume, ack each; no validation, no database)`,
    );

    // The worker starts after the baselines, so that they have the machine to themselves.
    const metricsPort = options.portBase + 10;
    worker = spawnWorker(layout, endpoints.natsUrl, endpoints.databaseUrl, keysFile, metricsPort, options);
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    await waitFor(
      async () => (await fetch(metricsUrl).catch(() => undefined))?.ok === true,
      120_000,
      'the worker to start',
    );
    const rss = sampleRss(worker.pid as number);

    // 1. Maximum rate: publish everything as fast as the server takes it, with the worker running.
    log(`run 1: ${options.events} events at maximum rate (the worker runs throughout)`);
    const before1 = await readMetrics(metricsUrl);
    const cpuBefore = await stackCpu(layout, worker.pid as number);
    const started1 = Date.now();
    const published1 = await publishRun(publisher, run1, undefined, log);
    const publishedMs = Date.now() - started1;
    log(
      `  published in ${(publishedMs / 1000).toFixed(1)} s (${Math.round(options.events / (publishedMs / 1000))} events/s into JetStream); waiting for the worker`,
    );
    const finished1 = await waitDrained(jsm, metricsUrl, before1.processed + published1.reachedWorker);
    const e2eSeconds = (finished1 - started1) / 1000;
    const e2eRate = options.events / e2eSeconds;
    const after1 = await readMetrics(metricsUrl);
    const cpuAfter = await stackCpu(layout, worker.pid as number);
    const cpu = {
      workerUs: ((cpuAfter.worker - cpuBefore.worker) * 1e6) / options.events,
      postgresUs: ((cpuAfter.postgres - cpuBefore.postgres) * 1e6) / options.events,
      natsUs: ((cpuAfter.nats - cpuBefore.nats) * 1e6) / options.events,
    };
    log(
      `  CPU per event (run 1, publisher excluded): worker ${cpu.workerUs.toFixed(1)} µs, Postgres ${cpu.postgresUs.toFixed(1)} µs, nats-server ${cpu.natsUs.toFixed(1)} µs; load ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`,
    );
    const maxRateP99Ms = quantileMs(diffHistogram(after1.latency, before1.latency), 0.99);
    log(
      `  e2e ${Math.round(e2eRate)} events/s over ${e2eSeconds.toFixed(1)} s; p99 event→committed ${maxRateP99Ms} ms (queueing included); peak worker RSS ${rss.peakMb()} MB`,
    );

    // 2. Paced at half the maximum: latency when the worker keeps up.
    const pacedRate = Math.max(100, Math.floor(e2eRate / 2));
    const pacedEvents = Math.min(options.events, Math.max(1000, pacedRate * options.pacedSeconds));
    log(`run 2: ${pacedEvents} events paced at ${pacedRate} events/s`);
    const run2 = generateRun(pacedEvents, generator('paced'));
    const before2 = await readMetrics(metricsUrl);
    const published2 = await publishRun(publisher, run2, pacedRate, log);
    await waitDrained(jsm, metricsUrl, before2.processed + published2.reachedWorker);
    const after2 = await readMetrics(metricsUrl);
    const pacedP99Ms = quantileMs(diffHistogram(after2.latency, before2.latency), 0.99);
    log(`  p99 event→committed ${pacedP99Ms} ms; peak worker RSS ${rss.peakMb()} MB`);
    rss.stop();

    // 4. Batched messages (SPEC §1) at maximum rate: the same kind of events, `messageBatch` per message.
    const batchedRss = sampleRss(worker.pid as number);
    log(`run 4: generating ${options.events} events in messages of ${options.messageBatch}`);
    const run4 = batchRun(generateRun(options.events, generator('batched')), options.messageBatch, log);
    log(`run 4: ${options.events} events in ${run4.messages.length} batched messages at maximum rate`);
    const before4 = await readMetrics(metricsUrl);
    const cpuBefore4 = await stackCpu(layout, worker.pid as number);
    const started4 = Date.now();
    const published4 = await publishRun(publisher, run4, undefined, log);
    const finished4 = await waitDrained(jsm, metricsUrl, before4.processed + published4.reachedWorker);
    const batchedRate = options.events / ((finished4 - started4) / 1000);
    const after4 = await readMetrics(metricsUrl);
    const cpuAfter4 = await stackCpu(layout, worker.pid as number);
    const batchedCpu = {
      workerUs: ((cpuAfter4.worker - cpuBefore4.worker) * 1e6) / options.events,
      postgresUs: ((cpuAfter4.postgres - cpuBefore4.postgres) * 1e6) / options.events,
      natsUs: ((cpuAfter4.nats - cpuBefore4.nats) * 1e6) / options.events,
    };
    const batchedMaxP99Ms = quantileMs(diffHistogram(after4.latency, before4.latency), 0.99);
    log(
      `  e2e ${Math.round(batchedRate)} events/s; p99 event→committed ${batchedMaxP99Ms} ms (queueing included); CPU per event: worker ${batchedCpu.workerUs.toFixed(1)} µs, Postgres ${batchedCpu.postgresUs.toFixed(1)} µs, nats-server ${batchedCpu.natsUs.toFixed(1)} µs; peak worker RSS ${batchedRss.peakMb()} MB`,
    );
    // 5. Batched, paced at half that rate: latency when the worker keeps up.
    const batchedPacedRate = Math.max(100, Math.floor(batchedRate / 2));
    const batchedPacedEvents = Math.min(options.events, Math.max(1000, batchedPacedRate * options.pacedSeconds));
    log(
      `run 5: ${batchedPacedEvents} events in messages of ${options.messageBatch}, paced at ${batchedPacedRate} events/s`,
    );
    const run5 = batchRun(generateRun(batchedPacedEvents, generator('batched-paced')), options.messageBatch, log);
    const before5 = await readMetrics(metricsUrl);
    const published5 = await publishRun(publisher, run5, batchedPacedRate / options.messageBatch, log);
    await waitDrained(jsm, metricsUrl, before5.processed + published5.reachedWorker);
    const after5 = await readMetrics(metricsUrl);
    const batchedPacedP99Ms = quantileMs(diffHistogram(after5.latency, before5.latency), 0.99);
    log(`  p99 event→committed ${batchedPacedP99Ms} ms; peak worker RSS ${batchedRss.peakMb()} MB`);
    batchedRss.stop();

    worker.kill('SIGTERM');
    await new Promise((resolve) => worker?.once('exit', resolve));
    worker = undefined;

    const counts = await pool.query<{ stored: string; rejected: string }>(
      'SELECT (SELECT count(*) FROM usage_events) AS stored, (SELECT count(*) FROM rejected_events) AS rejected',
    );
    const stored = Number.parseInt(counts.rows[0]?.stored ?? '0', 10);
    const rejected = Number.parseInt(counts.rows[0]?.rejected ?? '0', 10);
    const expectedStored = published1.events + published2.events + run4.events + run5.events;
    const expectedRejected = published1.malformed + published2.malformed + run4.malformed + run5.malformed;
    log(
      `stored ${stored} events (expected ${expectedStored}), rejected ${rejected} (expected ${expectedRejected}); ` +
        `duplicates: ${published1.serverDuplicates + published2.serverDuplicates} dropped by the server, ${after5.duplicates - before1.duplicates} by Postgres`,
    );
    if (stored !== expectedStored || rejected !== expectedRejected)
      throw new Error('the benchmark lost or double-counted events');

    // 3. The raw ceiling: COPY the same rows into a table of the same shape (partitions and index included).
    log('run 3: raw COPY of the same rows into a table of the same shape');
    const rawRate = await measureRawCopy(pool, layout.dataDir);
    log(`  ${Math.round(rawRate)} rows/s`);

    return {
      events: options.events,
      publishOnlyEventsPerSecond: publishOnlyRate,
      transportOnlyEventsPerSecond: transportOnlyRate,
      cpuMicrosPerEvent: cpu,
      e2eEventsPerSecond: e2eRate,
      rawCopyRowsPerSecond: rawRate,
      ratio: e2eRate / rawRate,
      pacedEventsPerSecond: pacedRate,
      pacedP99Ms,
      maxRateP99Ms,
      peakRssMb: rss.peakMb(),
      stored,
      rejected,
      serverDuplicates: published1.serverDuplicates + published2.serverDuplicates,
      databaseDuplicates: after2.duplicates - before1.duplicates,
      batched: {
        eventsPerMessage: options.messageBatch,
        e2eEventsPerSecond: batchedRate,
        ratio: batchedRate / rawRate,
        pacedEventsPerSecond: batchedPacedRate,
        pacedP99Ms: batchedPacedP99Ms,
        maxRateP99Ms: batchedMaxP99Ms,
        peakRssMb: batchedRss.peakMb(),
        cpuMicrosPerEvent: batchedCpu,
      },
    };
  } catch (error) {
    failed = true;
    log(`the stack's data and logs are kept for a look: ${layout.dataDir}`);
    throw error;
  } finally {
    worker?.kill('SIGKILL');
    await nc.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await stopService(layout, 'nats', quiet);
    await stopService(layout, 'postgres', quiet);
    // A finished run leaves nothing behind (its figures are printed); a failed one keeps its logs.
    if (!failed) await removeStackData(layout);
  }
}

function spawnWorker(
  layout: StackLayout,
  natsUrl: string,
  databaseUrl: string,
  keysFile: string,
  metricsPort: number,
  options: IngestBenchOptions,
): ChildProcess {
  const output = openSync(path.join(layout.dataDir, 'logs', 'ingest-worker.log'), 'a');
  // TALLY_BENCH_WORKER_CPU_PROF=<dir>: the worker writes a V8 CPU profile there when it exits.
  const profileDir = process.env.TALLY_BENCH_WORKER_CPU_PROF;
  const nodeFlags = profileDir === undefined || profileDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  return spawn(
    process.execPath,
    [...nodeFlags, path.join(repositoryRoot, 'bin', 'tally.mjs'), 'ingest', '--metrics-port', String(metricsPort)],
    {
      env: {
        ...process.env,
        NATS_URL: natsUrl,
        DATABASE_URL: databaseUrl,
        TALLY_SOURCE_KEYS_FILE: keysFile,
        TALLY_INGEST_STREAM: STREAM,
        TALLY_INGEST_SUBJECT_PREFIX: SUBJECT_PREFIX,
        TALLY_INGEST_DUPLICATE_WINDOW: '1s',
        TALLY_INGEST_STREAM_MAX_AGE: '0ms',
        TALLY_INGEST_WRITERS: String(options.writers),
        TALLY_INGEST_BATCH_SIZE: String(options.batchSize),
        TALLY_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', output, output],
    },
  );
}

interface RunCounts {
  /** Messages the server stored (not dropped as duplicates): what the worker will process. */
  reachedWorker: number;
  events: number;
  malformed: number;
  serverDuplicates: number;
}

interface GeneratedRun {
  readonly messages: readonly OutgoingUsageMessage[];
  /** Valid events among them (duplicates not counted) and malformed ones. */
  readonly events: number;
  readonly malformed: number;
}

function generateRun(count: number, generator: GeneratorOptions): GeneratedRun {
  const messages: OutgoingUsageMessage[] = [];
  let events = 0;
  let malformed = 0;
  for (let position = 0; position < count; position++) {
    const generated = generateMessage(position, generator);
    if (generated.kind === 'event') events++;
    if (generated.kind === 'malformed') malformed++;
    messages.push(generated.message);
  }
  return { messages, events, malformed };
}

/** The run's messages grouped `eventsPerMessage` at a time into batched messages; counts stay those of the events. */
function batchRun(run: GeneratedRun, eventsPerMessage: number, log: (line: string) => void): GeneratedRun {
  const messages: OutgoingUsageMessage[] = [];
  for (let start = 0; start < run.messages.length; start += eventsPerMessage) {
    messages.push(batchUsageMessage(run.messages.slice(start, start + eventsPerMessage), SUBJECT_PREFIX));
    if (messages.length % 2000 === 0) log(`  … ${start + eventsPerMessage} events batched`);
  }
  return { messages, events: run.events, malformed: run.malformed };
}

const PUBLISH_ONLY_STREAM = 'BENCH_PUBLISH_ONLY';
const PUBLISH_ONLY_PREFIX = 'benchpublish';

/** Publishes the messages into a scratch stream nobody consumes (then deletes it); returns messages per second. */
async function measurePublishOnly(
  jsm: JetStreamManager,
  publisher: EventPublisher,
  messages: readonly OutgoingUsageMessage[],
): Promise<number> {
  await ensureUsageStream(jsm, {
    streamName: PUBLISH_ONLY_STREAM,
    subjectPrefix: PUBLISH_ONLY_PREFIX,
    duplicateWindowMs: 1000,
    maxAgeMs: 0,
  });
  const scratch = messages.map((message) => ({
    ...message,
    subject: `${PUBLISH_ONLY_PREFIX}${message.subject.slice(SUBJECT_PREFIX.length)}`,
  }));
  let failed = 0;
  const startedMs = performance.now();
  const chunkSize = 256;
  for (let start = 0; start < scratch.length; start += chunkSize) {
    await publisher.enqueueMany(scratch.slice(start, start + chunkSize), (outcome) => {
      if (outcome.status === 'failed') failed++;
    });
  }
  await publisher.flush();
  const seconds = (performance.now() - startedMs) / 1000;
  await jsm.streams.delete(PUBLISH_ONLY_STREAM);
  if (failed > 0) throw new Error(`${failed} publishes failed`);
  return scratch.length / seconds;
}

const TRANSPORT_ONLY_STREAM = 'BENCH_TRANSPORT_ONLY';
const TRANSPORT_ONLY_PREFIX = 'benchtransport';

async function measureTransportOnly(
  nc: NatsConnection,
  jsm: JetStreamManager,
  publisher: EventPublisher,
  messages: readonly OutgoingUsageMessage[],
): Promise<number> {
  await ensureUsageStream(jsm, {
    streamName: TRANSPORT_ONLY_STREAM,
    subjectPrefix: TRANSPORT_ONLY_PREFIX,
    duplicateWindowMs: 1000,
    maxAgeMs: 0,
  });
  // The worker's consumer settings (ensureUsageConsumer): explicit acks, a bounded number pending.
  await ensureUsageConsumer(jsm, TRANSPORT_ONLY_STREAM, {
    durableName: 'bench',
    ackWaitMs: 60_000,
    maxAckPending: 16_000,
  });
  const scratch = messages.map((message) => ({
    ...message,
    subject: `${TRANSPORT_ONLY_PREFIX}${message.subject.slice(SUBJECT_PREFIX.length)}`,
  }));
  let stored = 0;
  let failed = 0;
  let published = false;
  let consumed = 0;
  let allConsumed: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allConsumed = resolve;
  });
  const startedMs = performance.now();
  const consumer = await jetstream(nc).consumers.get(TRANSPORT_ONLY_STREAM, 'bench');
  const delivered = await consumer.consume({ max_messages: 4000 });
  const consuming = (async () => {
    for await (const message of delivered) {
      message.ack();
      consumed++;
      if (published && consumed >= stored) allConsumed();
    }
  })();
  const chunkSize = 256;
  for (let start = 0; start < scratch.length; start += chunkSize) {
    await publisher.enqueueMany(scratch.slice(start, start + chunkSize), (outcome) => {
      if (outcome.status === 'published') stored++;
      else if (outcome.status === 'failed') failed++;
    });
  }
  await publisher.flush();
  published = true;
  if (consumed >= stored) allConsumed();
  await done;
  const seconds = (performance.now() - startedMs) / 1000;
  delivered.stop();
  await consuming;
  await jsm.streams.delete(TRANSPORT_ONLY_STREAM);
  if (failed > 0) throw new Error(`${failed} publishes failed`);
  return scratch.length / seconds;
}

async function publishRun(
  publisher: EventPublisher,
  run: GeneratedRun,
  ratePerSecond: number | undefined,
  log: (line: string) => void,
): Promise<RunCounts> {
  const counts: RunCounts = { reachedWorker: 0, events: run.events, malformed: run.malformed, serverDuplicates: 0 };
  const startedMs = Date.now();
  let failed = 0;
  let lastLogMs = startedMs;
  const onDone = (outcome: PublishOutcome): void => {
    if (outcome.status === 'published') counts.reachedWorker++;
    else if (outcome.status === 'duplicate') counts.serverDuplicates++;
    else failed++;
  };
  // Paced runs send at most 50 ms worth of messages at once (a batched run at 16 messages/s would
  // otherwise send 256 messages, 25,600 events, in one burst and measure its queueing).
  const chunkSize = ratePerSecond === undefined ? 256 : Math.max(1, Math.min(256, Math.floor(ratePerSecond / 20)));
  const count = run.messages.length;
  for (let chunkStart = 0; chunkStart < count; chunkStart += chunkSize) {
    if (ratePerSecond !== undefined) {
      const waitMs = startedMs + (chunkStart / ratePerSecond) * 1000 - Date.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    const chunk = run.messages.slice(chunkStart, chunkStart + chunkSize);
    await publisher.enqueueMany(chunk, onDone);
    if (Date.now() - lastLogMs > 5000) {
      lastLogMs = Date.now();
      log(`  … ${chunkStart + chunk.length} published`);
    }
  }
  await publisher.flush();
  if (failed > 0) throw new Error(`${failed} publishes failed`);
  return counts;
}

interface WorkerMetrics {
  processed: number;
  duplicates: number;
  /** Cumulative histogram of event→committed: [upper bound in seconds, count]. */
  latency: Array<[number, number]>;
}

async function readMetrics(url: string): Promise<WorkerMetrics> {
  const text = await fetchText(url);
  let processed = 0;
  let duplicates = 0;
  const latency: Array<[number, number]> = [];
  for (const line of text.split('\n')) {
    const events = /^tally_ingest_events_total\{outcome="(\w+)"\} (\d+)/.exec(line);
    if (events) {
      processed += Number.parseInt(events[2] as string, 10);
      if (events[1] === 'duplicate') duplicates = Number.parseInt(events[2] as string, 10);
    }
    const bucket = /^tally_ingest_event_to_commit_seconds_bucket\{le="([^"]+)"\} (\d+)/.exec(line);
    if (bucket)
      latency.push([
        bucket[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number.parseFloat(bucket[1] as string),
        Number.parseInt(bucket[2] as string, 10),
      ]);
  }
  return { processed, duplicates, latency };
}

/**
 * GET with a few retries: after the bench's own event loop was busy for a while (generating a run),
 * a pooled keep-alive socket the worker already closed fails the first request.
 */
async function fetchText(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(url)).text();
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

function diffHistogram(after: Array<[number, number]>, before: Array<[number, number]>): Array<[number, number]> {
  return after.map(([bound, count], index) => [bound, count - (before[index]?.[1] ?? 0)]);
}

/** The quantile from a cumulative histogram, interpolated linearly inside its bucket, in ms. */
function quantileMs(histogram: Array<[number, number]>, quantile: number): number {
  const total = histogram[histogram.length - 1]?.[1] ?? 0;
  if (total === 0) return 0;
  const rank = quantile * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of histogram) {
    if (count >= rank) {
      if (!Number.isFinite(bound)) return Math.round(previousBound * 1000);
      const share = count === previousCount ? 1 : (rank - previousCount) / (count - previousCount);
      return Math.round((previousBound + (bound - previousBound) * share) * 1000);
    }
    previousBound = bound;
    previousCount = count;
  }
  return Math.round(previousBound * 1000);
}

/**
 * Waits until the consumer has nothing pending or unacked and the worker has processed `processed`
 * messages; returns when it saw that. Polls the (cheap) consumer info, and the worker's metrics only
 * once the consumer looks drained, so that the polling costs the worker nothing meanwhile.
 */
async function waitDrained(jsm: JetStreamManager, metricsUrl: string, processed: number): Promise<number> {
  for (;;) {
    const info = await jsm.consumers.info(STREAM, 'ingest');
    if (info.num_pending === 0 && info.num_ack_pending === 0) {
      const seenMs = Date.now();
      if ((await readMetrics(metricsUrl)).processed >= processed) return seenMs;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** CPU seconds (user + system) so far of the worker, every Postgres process (the postmaster's children) and nats-server. */
async function stackCpu(
  layout: StackLayout,
  workerPid: number,
): Promise<{ worker: number; postgres: number; nats: number }> {
  const readPid = async (service: string): Promise<number> =>
    Number.parseInt((await readFile(path.join(layout.dataDir, 'pids', `${service}.pid`), 'utf8')).trim(), 10);
  const postmaster = await readPid('postgres');
  const nats = await readPid('nats');
  const ticks = 100; // USER_HZ: /proc reports CPU time in these on Linux
  let postgres = 0;
  let worker = 0;
  let natsSeconds = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command: state ppid … utime(14) stime(15), 1-based over the whole line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length < 13) continue;
    const pid = Number.parseInt(entry, 10);
    const ppid = Number.parseInt(fields[1] as string, 10);
    const seconds = (Number.parseInt(fields[11] as string, 10) + Number.parseInt(fields[12] as string, 10)) / ticks;
    if (pid === postmaster || ppid === postmaster) postgres += seconds;
    // Backends that exited (the pool closes idle connections after 10 s) are gone from /proc: their CPU is
    // in the postmaster's cutime + cstime. Without it a backend exiting between two readings counted negative.
    if (pid === postmaster)
      postgres += (Number.parseInt(fields[13] as string, 10) + Number.parseInt(fields[14] as string, 10)) / ticks;
    if (pid === workerPid) worker += seconds;
    if (pid === nats) natsSeconds += seconds;
  }
  return { worker, postgres, nats: natsSeconds };
}

function sampleRss(pid: number): { peakMb(): number; stop(): void } {
  let peakKb = 0;
  const sample = async (): Promise<void> => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    if (match) peakKb = Math.max(peakKb, Number.parseInt(match[1] as string, 10));
  };
  const timer = setInterval(() => void sample(), 200);
  return { peakMb: () => Math.round(peakKb / 1024), stop: () => clearInterval(timer) };
}

async function measureRawCopy(pool: pg.Pool, dataDir: string): Promise<number> {
  const dumpFile = path.join(dataDir, 'raw-copy.tsv');
  await mkdir(path.dirname(dumpFile), { recursive: true });
  const client = await pool.connect();
  try {
    await pipeline(client.query(copyTo('COPY (SELECT * FROM usage_events) TO STDOUT')), createWriteStream(dumpFile));
    const rows = Number.parseInt(
      (await client.query<{ n: string }>('SELECT count(*) AS n FROM usage_events')).rows[0]?.n ?? '0',
      10,
    );
    await client.query('CREATE TABLE bench_raw_copy (LIKE usage_events INCLUDING ALL) PARTITION BY RANGE (event_time)');
    const partitions = await client.query<{ bound: string }>(
      `SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_events'::regclass`,
    );
    for (const [index, partition] of partitions.rows.entries()) {
      await client.query(`CREATE TABLE bench_raw_copy_${index} PARTITION OF bench_raw_copy ${partition.bound}`);
    }
    const startedMs = performance.now();
    await pipeline(createReadStream(dumpFile), client.query(copyFrom('COPY bench_raw_copy FROM STDIN')));
    const seconds = (performance.now() - startedMs) / 1000;
    return rows / seconds;
  } finally {
    client.release();
    await rm(dumpFile, { force: true });
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
