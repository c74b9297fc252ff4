import { createHash } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { TallyError } from '../contracts/tally-error.ts';
import { joinBatchLines } from './usage-batch.ts';
import { ID_PATTERN, SOURCE_PATTERN } from '../contracts/patterns.ts';

/** The subject token for bytes a producer could not attribute to a source (they will be stored as rejected). */
const UNATTRIBUTED_TOKEN = '_unattributed';
/** Duplicate window, consumer settings and the server features they need: 2.10 (nak with delay, consumer metadata, filter_subjects). */
const MINIMUM_NATS_SERVER_VERSION = '2.10.0';

export interface UsageStreamOptions {
  readonly streamName: string;
  /** The stream takes `<subjectPrefix>.>`; `usage` unless several streams share one server (tests). */
  readonly subjectPrefix: string;
  readonly duplicateWindowMs: number;
  /** 0 keeps messages until deleted; Postgres is the system of record, the stream a buffer and replay log. */
  readonly maxAgeMs: number;
  /** The stream's size limit; at it, publishes are refused (never old messages discarded). -1 or undefined: no limit. */
  readonly maxBytes?: number;
  /** Copies of the stream in a NATS cluster (3 in production: one server may fail); 1 on a single server. */
  readonly replicas?: number;
}

export interface UsageConsumerOptions {
  readonly durableName: string;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
}

class NatsVersionError extends TallyError {
  constructor(readonly version: string) {
    super(
      'nats_version_unsupported',
      `nats-server ${version} is older than ${MINIMUM_NATS_SERVER_VERSION}, which the usage stream needs`,
      { permanent: true },
    );
  }
}

/** Fails fast against a server that would silently ignore stream or consumer settings the ingest path relies on. */
export function assertNatsServerVersion(nc: NatsConnection): void {
  const version = nc.info?.version ?? '0.0.0';
  if (compareVersions(version, MINIMUM_NATS_SERVER_VERSION) < 0) throw new NatsVersionError(version);
}

function compareVersions(a: string, b: string): number {
  const parse = (text: string): number[] =>
    (/^(\d+)\.(\d+)\.(\d+)/.exec(text) ?? ['', '0', '0', '0']).slice(1).map((part) => Number.parseInt(part, 10));
  const [left, right] = [parse(a), parse(b)];
  for (let index = 0; index < 3; index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

const nanos = (ms: number): number => ms * 1_000_000;

/**
 * The settings the ingest path relies on, as the server reports them. Every limit refuses new
 * publishes (`discard: new`: the producer gets an error and retries, HTTP answers 503) instead of
 * discarding stored messages, and no message can be deleted or the stream purged through the API.
 */
function desiredStreamSettings(options: UsageStreamOptions) {
  return {
    subjects: [`${options.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    deny_delete: true,
    deny_purge: true,
    duplicate_window: nanos(options.duplicateWindowMs),
    max_age: nanos(options.maxAgeMs),
    max_bytes: options.maxBytes ?? -1,
    num_replicas: options.replicas ?? 1,
  };
}

export type StreamDrift = ReadonlyArray<{
  readonly setting: string;
  readonly actual: unknown;
  readonly expected: unknown;
}>;

/** The settings of an existing stream that differ from what ingest needs (empty: none). */
function usageStreamDrift(actual: Readonly<Record<string, unknown>>, options: UsageStreamOptions): StreamDrift {
  const expected: Record<string, unknown> = { ...desiredStreamSettings(options), storage: StorageType.File };
  const drift: Array<{ setting: string; actual: unknown; expected: unknown }> = [];
  for (const [setting, value] of Object.entries(expected)) {
    const current = actual[setting];
    const same = Array.isArray(value)
      ? Array.isArray(current) && current.join(',') === value.join(',')
      : (current ?? (typeof value === 'boolean' ? false : undefined)) === value;
    if (!same) drift.push({ setting, actual: current, expected: value });
  }
  return drift;
}

/**
 * Creates the usage stream, or brings an existing one's settings to these, and returns what had
 * drifted (for the caller to warn about). Only the ingest worker and `tally stack` call this;
 * producers only check (`checkUsageStream`), so a producer's environment can never rewrite the
 * shared stream's settings.
 */
export async function ensureUsageStream(jsm: JetStreamManager, options: UsageStreamOptions): Promise<StreamDrift> {
  const settings = desiredStreamSettings(options);
  const existing = await jsm.streams.info(options.streamName).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (existing === undefined) {
    await jsm.streams.add({ name: options.streamName, storage: StorageType.File, ...settings });
    return [];
  }
  const drift = usageStreamDrift(existing.config as unknown as Record<string, unknown>, options);
  // Storage and retention cannot change in place; the rest can. deny_delete/deny_purge can be set but never cleared.
  const changeable = drift.filter((entry) => entry.setting !== 'storage' && entry.setting !== 'retention');
  if (changeable.length > 0) {
    const { retention: _retention, ...updatable } = settings;
    await jsm.streams.update(options.streamName, updatable);
  }
  return drift;
}

/**
 * A producer's look at the stream: it must exist (the worker or `tally stack` creates it); its
 * drift from the settings ingest needs is returned for a warning, never corrected from here.
 */
export async function checkUsageStream(jsm: JetStreamManager, options: UsageStreamOptions): Promise<StreamDrift> {
  const existing = await jsm.streams.info(options.streamName).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (existing === undefined) throw new UsageStreamMissingError(options.streamName);
  return usageStreamDrift(existing.config as unknown as Record<string, unknown>, options);
}

/** How long a start-up waits for JetStream to answer again after a server of the cluster failed. */
const FAILOVER_WAIT_MS = 30_000;
const FAILOVER_RETRY_MS = 500;

/**
 * Runs a JetStream API call again while the cluster cannot answer it: after a server fails, the
 * stream and the JetStream meta group elect new leaders, and for a few seconds their API requests
 * time out or find no responder. A producer or worker starting then waits instead of failing; any
 * other error, or the same one past the wait, is thrown.
 */
export async function retryWhileJetStreamFailsOver<T>(
  work: () => Promise<T>,
  waitMs: number = FAILOVER_WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (!isFailoverError(error) || Date.now() + FAILOVER_RETRY_MS > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, FAILOVER_RETRY_MS));
    }
  }
}

function isFailoverError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'TimeoutError' ||
    error.name === 'NoRespondersError' ||
    /no responders|temporarily unavailable|\b503\b/i.test(error.message)
  );
}

class UsageStreamMissingError extends TallyError {
  constructor(readonly streamName: string) {
    super(
      'usage_stream_missing',
      `the stream ${streamName} does not exist: start the ingest worker (tally ingest) or the stack (tally stack up) first`,
      { permanent: true },
    );
  }
}

/** One line per drifted setting, e.g. `discard is old, ingest needs new`. */
export function describeStreamDrift(drift: StreamDrift): string {
  return drift
    .map(
      (entry) => `${entry.setting} is ${JSON.stringify(entry.actual)}, ingest needs ${JSON.stringify(entry.expected)}`,
    )
    .join('; ');
}

/** Creates the durable pull consumer of the ingest worker, or updates the settings that may change. */
export async function ensureUsageConsumer(
  jsm: JetStreamManager,
  streamName: string,
  options: UsageConsumerOptions,
): Promise<void> {
  const stream = await jsm.streams.info(streamName);
  const existing = await jsm.consumers.info(streamName, options.durableName).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  const settings = {
    ack_wait: nanos(options.ackWaitMs),
    max_ack_pending: options.maxAckPending,
    // Never give up on a message: bad ones are stored as rejected and acked, database errors are retried.
    max_deliver: -1,
  };
  if (existing === undefined) {
    await jsm.consumers.add(streamName, {
      durable_name: options.durableName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subjects: stream.config.subjects,
      ...settings,
    });
  } else if (
    existing.config.ack_wait !== settings.ack_wait ||
    existing.config.max_ack_pending !== settings.max_ack_pending ||
    existing.config.max_deliver !== settings.max_deliver
  ) {
    await jsm.consumers.update(streamName, options.durableName, settings);
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found/i.test(error.message);
}

export interface OutgoingUsageMessage {
  readonly subject: string;
  /**
   * `Nats-Msg-Id`: `<source>:<event_id>:<sha256 of the bytes, 128 bits>`, or `raw:<sha256>` for bytes
   * that name no valid key. The body is part of the id, so the server drops only a byte-identical
   * resend inside its duplicate window; a corrected resend of a rejected event, or a different body
   * under an accepted key (an id conflict), always reaches the worker, which decides.
   */
  readonly messageId: string;
  readonly data: Uint8Array;
  /** Set for a batched message (header `Tally-Batch: ndjson`): how many events its lines hold. */
  readonly batchEvents?: number;
}

/**
 * One batched message (SPEC §1) of events already addressed one by one: their bytes as JSON Lines,
 * the message id `batch:<sha256 of the body>` (a retry of the same batch is dropped by the server;
 * any other batch reaches the worker, which dedupes each event in Postgres), and the events' common
 * subject, or `<prefix>._batch` when they come from several sources.
 */
export function batchUsageMessage(
  events: readonly OutgoingUsageMessage[],
  subjectPrefix: string,
): OutgoingUsageMessage {
  const data = joinBatchLines(events.map((event) => event.data));
  const subjects = new Set(events.map((event) => event.subject));
  return {
    subject: subjects.size === 1 ? (subjects.values().next().value as string) : `${subjectPrefix}.${BATCH_TOKEN}`,
    messageId: `batch:${createHash('sha256').update(data).digest('hex')}`,
    data,
    batchEvents: events.length,
  };
}

/** The subject token of a batch whose events name several sources. */
const BATCH_TOKEN = '_batch';

/**
 * Subject and message id of one event's raw bytes, from a light look at the JSON: the same bytes
 * always get the same id, so a retry (or the same bytes through the other ingest path) is dropped
 * by the server inside the duplicate window, and different bytes never are. Nothing is validated
 * here; the worker does that.
 */
export function addressUsageMessage(
  data: Uint8Array,
  parsed: unknown,
  subjectPrefix: string,
): OutgoingUsageMessage & { readonly source: string | undefined } {
  const value = parsed === undefined ? tryParseJson(data) : parsed;
  const source =
    isRecord(value) && typeof value.source === 'string' && SOURCE_PATTERN.test(value.source) ? value.source : undefined;
  const eventId =
    isRecord(value) && typeof value.event_id === 'string' && ID_PATTERN.test(value.event_id)
      ? value.event_id
      : undefined;
  const bodySha256 = createHash('sha256').update(data).digest('hex');
  return {
    subject: `${subjectPrefix}.${source ?? UNATTRIBUTED_TOKEN}`,
    messageId:
      source !== undefined && eventId !== undefined
        ? `${source}:${eventId}:${bodySha256.slice(0, 32)}`
        : `raw:${bodySha256}`,
    data,
    source,
  };
}

function tryParseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
