import { createHmac, timingSafeEqual } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { UnsignedUsageEvent, UsageEvent } from './usage-event.ts';

const SIGNATURE_PREFIX = 'v1=';

/** RFC 8785 (JCS) canonical JSON of an event without its `signature` field: the bytes that are signed. */
export function canonicalEventBytes(event: UnsignedUsageEvent | UsageEvent): string {
  const { signature: _signature, ...unsigned } = event as UsageEvent;
  const canonical = canonicalize(unsigned);
  if (canonical === undefined) throw new Error('event cannot be canonicalized');
  return canonical;
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
