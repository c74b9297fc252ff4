import { createHmac, timingSafeEqual } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { UnsignedUsageEvent, UsageEvent } from './usage-event.ts';

const SIGNATURE_PREFIX = 'v1=';

/** RFC 8785 (JCS) canonical JSON of an event without its `signature` field: the bytes that are signed. */
export function canonicalEventBytes(event: UnsignedUsageEvent | UsageEvent): string {
  const fast = canonicalEventShape(event as unknown as Record<string, unknown>);
  if (fast !== undefined) return fast;
  const { signature: _signature, ...unsigned } = event as UsageEvent;
  const canonical = canonicalize(unsigned);
  if (canonical === undefined) throw new Error('event cannot be canonicalized');
  return canonical;
}

/** The fields of an unsigned event in JCS order (keys sorted by UTF-16 code units). */
const EVENT_FIELDS_IN_ORDER = [
  'customer_id',
  'event_id',
  'metadata',
  'quantity',
  'schema_version',
  'source',
  'timestamp',
  'unit',
] as const;

/**
 * JCS for the one shape events have (seven strings, the integer schema version and a flat
 * string→string metadata object), several times faster than the general algorithm, which the
 * ingest worker runs once per event. RFC 8785 serialises strings exactly as ECMAScript's
 * JSON.stringify does and sorts keys by UTF-16 code units, as Array#sort does. Anything of another
 * shape returns undefined and takes the general path; a property test checks both agree.
 */
function canonicalEventShape(event: Record<string, unknown>): string | undefined {
  const keys = Object.keys(event);
  const expected = 'signature' in event ? EVENT_FIELDS_IN_ORDER.length + 1 : EVENT_FIELDS_IN_ORDER.length;
  if (keys.length !== expected || !Number.isSafeInteger(event.schema_version)) return undefined;
  const metadata = event.metadata;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return undefined;
  let text = '{';
  for (const field of EVENT_FIELDS_IN_ORDER) {
    const value = event[field];
    if (field === 'schema_version') {
      text += `"schema_version":${String(value)},`;
    } else if (field === 'metadata') {
      const entries = Object.keys(metadata).sort();
      let inner = '{';
      for (const key of entries) {
        const item = (metadata as Record<string, unknown>)[key];
        if (typeof item !== 'string') return undefined;
        inner += `${inner.length > 1 ? ',' : ''}${JSON.stringify(key)}:${JSON.stringify(item)}`;
      }
      text += `"metadata":${inner}},`;
    } else {
      if (typeof value !== 'string') return undefined;
      text += `"${field}":${JSON.stringify(value)},`;
    }
  }
  return `${text.slice(0, -1)}}`;
}

/** The general RFC 8785 canonicalization of the event without its signature (for tests and odd shapes). */
export function canonicalizeGeneral(event: Record<string, unknown>): string | undefined {
  const { signature: _signature, ...unsigned } = event;
  return canonicalize(unsigned);
}

/** `v1=` + lowercase hex HMAC-SHA256, keyed by the source's secret, over the canonical JSON. */
export function computeSignature(event: UnsignedUsageEvent | UsageEvent, secret: string): string {
  return signCanonical(canonicalEventBytes(event), secret);
}

function signCanonical(canonical: string, secret: string): string {
  return SIGNATURE_PREFIX + createHmac('sha256', secret).update(canonical, 'utf8').digest('hex');
}

/** A producer's helper: the event with its signature. */
export function signEvent(event: UnsignedUsageEvent, secret: string): UsageEvent {
  return { ...event, signature: computeSignature(event, secret) };
}

/** Checks the signature in constant time (no early exit on the first differing byte). */
export function verifySignature(event: UsageEvent, secret: string): boolean {
  return verifyCanonicalSignature(canonicalEventBytes(event), event.signature, secret);
}

/**
 * The same check over canonical bytes the caller already has (the ingest worker hashes them too,
 * so it canonicalizes each event once).
 */
export function verifyCanonicalSignature(canonical: string, signature: string, secret: string): boolean {
  const expected = Buffer.from(signCanonical(canonical, secret), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
