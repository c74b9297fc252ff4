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

/** Subjects are `usage.<source>`; the worker never trusts the subject, only the signed body. */
export const DEFAULT_SUBJECT_PREFIX = 'usage';
/** The subject token for bytes a producer could not attribute to a source (they will be stored as rejected). */
export const UNATTRIBUTED_TOKEN = '_unattributed';
/** Duplicate window, consumer settings and the server features they need: 2.10 (nak with delay, consumer metadata, filter_subjects). */
export const MINIMUM_NATS_SERVER_VERSION = '2.10.0';

const SOURCE_PATTERN = /^[a-z0-9._-]{1,64}$/;
const EVENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export interface UsageStreamOptions {
  readonly streamName: string;
  /** The stream takes `<subjectPrefix>.>`; `usage` unless several streams share one server (tests). */
  readonly subjectPrefix: string;
  readonly duplicateWindowMs: number;
  /** 0 keeps messages until deleted; Postgres is the system of record, the stream a buffer and replay log. */
  readonly maxAgeMs: number;
}

export interface UsageConsumerOptions {
  readonly durableName: string;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
}

export class NatsVersionError extends TallyError {
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

export function compareVersions(a: string, b: string): number {
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

/** Creates the usage stream, or brings an existing one's settings to these; safe to call at every start. */
export async function ensureUsageStream(jsm: JetStreamManager, options: UsageStreamOptions): Promise<void> {
  const config = {
    subjects: [`${options.subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(options.duplicateWindowMs),
    max_age: nanos(options.maxAgeMs),
  };
  const existing = await jsm.streams.info(options.streamName).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (existing === undefined) {
    await jsm.streams.add({ name: options.streamName, ...config });
  } else if (
    existing.config.duplicate_window !== config.duplicate_window ||
    existing.config.max_age !== config.max_age ||
    existing.config.subjects.join(',') !== config.subjects.join(',')
  ) {
    // Storage type cannot change in place; subjects, duplicate window and max age can.
    await jsm.streams.update(options.streamName, {
      subjects: config.subjects,
      duplicate_window: config.duplicate_window,
      max_age: config.max_age,
    });
  }
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
  /** `Nats-Msg-Id`: `<source>:<event_id>`, or `raw:<sha256>` for bytes that name no valid key. */
  readonly messageId: string;
  readonly data: Uint8Array;
}

/**
 * Subject and message id of one event's raw bytes, from a light look at the JSON: the same bytes
 * always get the same id, so a retry (or the other ingest path) is dropped by the server inside
 * the duplicate window. Nothing is validated here; the worker does that.
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
    isRecord(value) && typeof value.event_id === 'string' && EVENT_ID_PATTERN.test(value.event_id)
      ? value.event_id
      : undefined;
  return {
    subject: `${subjectPrefix}.${source ?? UNATTRIBUTED_TOKEN}`,
    messageId:
      source !== undefined && eventId !== undefined
        ? `${source}:${eventId}`
        : `raw:${createHash('sha256').update(data).digest('hex')}`,
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
