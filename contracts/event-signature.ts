import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
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

/**
 * JCS for the one shape events have (seven strings, the integer schema version and a flat
 * string→string metadata object), several times faster than the general algorithm, which the
 * ingest worker runs once per event. RFC 8785 serialises strings exactly as ECMAScript's
 * JSON.stringify does and sorts keys by UTF-16 code units, as Array#sort does; the top-level keys
 * are written in that order here. A string with nothing JSON.stringify would escape (a quote, a
 * backslash, a control character or a surrogate) is quoted as it is, the rest through
 * JSON.stringify. Anything of another shape returns undefined and takes the general path; property
 * tests check both agree.
 */
function canonicalEventShape(event: Record<string, unknown>): string | undefined {
  const { customer_id, event_id, metadata, quantity, schema_version, source, timestamp, unit } = event;
  if (
    Object.keys(event).length !== ('signature' in event ? 9 : 8) ||
    !Number.isSafeInteger(schema_version) ||
    typeof customer_id !== 'string' ||
    typeof event_id !== 'string' ||
    typeof quantity !== 'string' ||
    typeof source !== 'string' ||
    typeof timestamp !== 'string' ||
    typeof unit !== 'string' ||
    typeof metadata !== 'object' ||
    metadata === null ||
    Array.isArray(metadata) ||
    // Own properties only: an inherited field would be missing from the general algorithm's copy.
    !Object.hasOwn(event, 'customer_id') ||
    !Object.hasOwn(event, 'event_id') ||
    !Object.hasOwn(event, 'metadata') ||
    !Object.hasOwn(event, 'quantity') ||
    !Object.hasOwn(event, 'schema_version') ||
    !Object.hasOwn(event, 'source') ||
    !Object.hasOwn(event, 'timestamp') ||
    !Object.hasOwn(event, 'unit')
  )
    return undefined;
  const entries = metadata as Record<string, unknown>;
  const keys = Object.keys(entries);
  if (keys.length > 1) keys.sort();
  let inner = '';
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const item = entries[key];
    if (typeof item !== 'string') return undefined;
    inner += `${index > 0 ? ',' : ''}${jsonString(key)}:${jsonString(item)}`;
  }
  return (
    `{"customer_id":${jsonString(customer_id)},"event_id":${jsonString(event_id)},"metadata":{${inner}},` +
    `"quantity":${jsonString(quantity)},"schema_version":${String(schema_version)},"source":${jsonString(source)},` +
    `"timestamp":${jsonString(timestamp)},"unit":${jsonString(unit)}}`
  );
}

/** Characters JSON.stringify writes other than as themselves: quote, backslash, C0 controls, surrogates. */
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON.stringify writes it (so as RFC 8785 does). */
function jsonString(text: string): string {
  return JSON_ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`;
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
  return SIGNATURE_PREFIX + createHmac('sha256', secretKey(secret)).update(canonical, 'utf8').digest('hex');
}

/**
 * The secret as a KeyObject, made once per secret: an HMAC keyed by a KeyObject skips converting and
 * importing the key for every event (~0.5 µs of the ingest worker's ~2.5 µs per HMAC). Sources have
 * a few secrets each; the cache is dropped whole if it ever holds more than MAX_CACHED_KEYS.
 */
function secretKey(secret: string): KeyObject {
  let key = secretKeys.get(secret);
  if (key === undefined) {
    if (secretKeys.size >= MAX_CACHED_KEYS) secretKeys.clear();
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    secretKeys.set(secret, key);
  }
  return key;
}

const MAX_CACHED_KEYS = 1024;
const secretKeys = new Map<string, KeyObject>();

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
