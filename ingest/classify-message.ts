import * as crypto from 'node:crypto';
import { canonicalEventBytes, verifyCanonicalSignature } from '../contracts/event-signature.ts';
import type { RejectionReason } from '../contracts/rejection-reason.ts';
import type { VerificationKeys } from '../contracts/source-keys.ts';
import { parseUsageEvent, type UsageEvent } from '../contracts/usage-event.ts';

/** One event as the consumer received it: a whole message, or one line of a batched message. */
export interface IncomingMessage {
  /** JetStream stream sequence: identifies the message across redeliveries. */
  readonly streamSeq: number;
  /** The event's line in a batched message (0 for a single-event message); with `streamSeq`, it names the event. */
  readonly batchLine: number;
  /** JetStream's store timestamp in nanoseconds: the receipt time, unchanged by redelivery. */
  readonly receivedAtNanos: bigint;
  readonly data: Uint8Array;
}

export interface AcceptWindow {
  /** How far before its receipt an event may have happened (default 35 days). */
  readonly pastMs: number;
  /** How far after its receipt an event may claim to happen (default 5 minutes: clock skew). */
  readonly futureMs: number;
}

export const DEFAULT_ACCEPT_WINDOW: AcceptWindow = { pastMs: 35 * 86_400_000, futureMs: 5 * 60_000 };

export interface AcceptedEvent {
  readonly kind: 'accepted';
  readonly message: IncomingMessage;
  readonly event: UsageEvent;
  /** ISO 8601 with microseconds (Postgres precision). */
  readonly receivedAt: string;
  readonly receivedAtMs: number;
  readonly eventTimeMs: number;
  /** sha256 (hex) of the canonical JSON without the signature: equal bodies are duplicates, unequal ones conflicts. */
  readonly bodySha256: string;
  readonly metadataJson: string;
}

export interface RejectedEvent {
  readonly kind: 'rejected';
  readonly message: IncomingMessage;
  readonly receivedAt: string;
  readonly receivedAtMs: number;
  readonly reason: RejectionReason;
  readonly detail: string;
  readonly source: string | null;
  readonly eventId: string | null;
}

export type ClassifiedMessage = AcceptedEvent | RejectedEvent;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decides what one message is, before any database lookup: a valid, correctly signed event inside
 * the accept window, or a rejection with its reason. The receipt time is the message's, so a
 * redelivery is classified exactly as the first delivery was. Duplicates and id conflicts need the
 * stored keys and are decided by the batch writer.
 */
export function classifyMessage(
  message: IncomingMessage,
  keys: VerificationKeys,
  window: AcceptWindow,
): ClassifiedMessage {
  const { receivedAt, receivedAtMs } = receiptTime(message.receivedAtNanos);
  const reject = (
    reason: RejectionReason,
    detail: string,
    source: string | null = null,
    eventId: string | null = null,
  ): RejectedEvent => ({ kind: 'rejected', message, receivedAt, receivedAtMs, reason, detail, source, eventId });

  let text: string;
  try {
    text = utf8.decode(message.data);
  } catch {
    return reject('malformed_json', 'the message is not valid UTF-8');
  }
  const parsed = parseUsageEvent(text);
  if (!parsed.ok) {
    const named = parsed.reason === 'schema_violation' ? namedKey(text) : { source: null, eventId: null };
    return reject(parsed.reason, parsed.detail, named.source, named.eventId);
  }
  const event = parsed.event;
  const secrets = Object.hasOwn(keys, event.source) ? keys[event.source] : undefined;
  if (secrets === undefined)
    return reject(
      'unknown_source',
      `no signing key for source ${JSON.stringify(event.source)}`,
      event.source,
      event.event_id,
    );
  const canonical = canonicalEventBytes(event);
  const verified =
    typeof secrets === 'string'
      ? verifyCanonicalSignature(canonical, event.signature, secrets)
      : // Any secret of the source whose overlap window had not ended when the event was received.
        secrets.some(
          (version) =>
            (version.untilMs === undefined || receivedAtMs <= version.untilMs) &&
            verifyCanonicalSignature(canonical, event.signature, version.secret),
        );
  if (!verified) {
    return reject(
      'bad_signature',
      `the signature does not match the body under the key of source ${JSON.stringify(event.source)}`,
      event.source,
      event.event_id,
    );
  }
  const eventTimeMs = Date.parse(event.timestamp);
  if (eventTimeMs < receivedAtMs - window.pastMs) {
    return reject(
      'timestamp_too_old',
      `timestamp ${event.timestamp} is more than ${describeMs(window.pastMs)} before its receipt at ${receivedAt}`,
      event.source,
      event.event_id,
    );
  }
  if (eventTimeMs > receivedAtMs + window.futureMs) {
    return reject(
      'timestamp_in_future',
      `timestamp ${event.timestamp} is more than ${describeMs(window.futureMs)} after its receipt at ${receivedAt}`,
      event.source,
      event.event_id,
    );
  }
  return {
    kind: 'accepted',
    message,
    event,
    receivedAt,
    receivedAtMs,
    eventTimeMs,
    bodySha256: sha256Hex(canonical),
    metadataJson: JSON.stringify(event.metadata),
  };
}

/**
 * The receipt time in both forms, remembered for the last message: every line of a batched message
 * has its message's receipt time, so the BigInt arithmetic and ISO formatting run once per message.
 */
function receiptTime(nanos: bigint): { receivedAt: string; receivedAtMs: number } {
  if (nanos !== lastReceipt.nanos)
    lastReceipt = { nanos, receivedAt: nanosToIsoMicros(nanos), receivedAtMs: Number(nanos / 1_000_000n) };
  return lastReceipt;
}

let lastReceipt: { nanos: bigint; receivedAt: string; receivedAtMs: number } = {
  nanos: -1n,
  receivedAt: '',
  receivedAtMs: 0,
};

/** sha256 (hex) of a string's UTF-8: the one-shot `crypto.hash` (Node ≥ 20.12, ~3× cheaper than a Hash object) when present. */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

/** For a schema violation: the source and event id, when the body names them validly (for review lookups). */
function namedKey(text: string): { source: string | null; eventId: string | null } {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return { source: null, eventId: null };
    const record = value as Record<string, unknown>;
    return {
      source: typeof record.source === 'string' && /^[a-z0-9._-]{1,64}$/.test(record.source) ? record.source : null,
      eventId:
        typeof record.event_id === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(record.event_id)
          ? record.event_id
          : null,
    };
  } catch {
    return { source: null, eventId: null };
  }
}

/** Nanoseconds since the epoch as ISO 8601 UTC with microseconds, e.g. 2026-10-14T09:30:00.123456Z. */
export function nanosToIsoMicros(nanos: bigint): string {
  const ms = nanos / 1_000_000n;
  const microsRemainder = (nanos / 1000n) % 1000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 23)}${microsRemainder.toString().padStart(3, '0')}Z`;
}

function describeMs(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} days`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} hours`;
  if (ms % 60_000 === 0) return `${ms / 60_000} minutes`;
  return `${ms} ms`;
}
