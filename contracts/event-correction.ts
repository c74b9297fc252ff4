import { createHmac, timingSafeEqual } from 'node:crypto';
import canonicalize from 'canonicalize';
import { z } from 'zod';
import { SIGNATURE_PATTERN, UsageEventSchema, describeIssues } from './usage-event.ts';
import { idText, SourceText } from './patterns.ts';

/**
 * An event correction (SPEC §5): a signed `void` or `replace` of an accepted event, one JSON object
 * per line of a `tally events amend` file. Signed like an event: `v1=` + HMAC-SHA256 with the
 * source's key over the RFC 8785 canonical JSON of the correction without its `signature` (a
 * replace's `event` included, with its own signature).
 */
const CorrectionBase = {
  schema_version: z.literal(1),
  source: SourceText,
  event_id: idText('event_id'),
  reason: z.string().min(1, 'reason says why, in words').max(1000, 'reason is at most 1000 characters'),
  signature: z.string().regex(SIGNATURE_PATTERN, 'signature is v1= and 64 lowercase hex digits'),
};

const EventCorrectionSchema = z.discriminatedUnion('action', [
  z.strictObject({ ...CorrectionBase, action: z.literal('void') }),
  // The replacement is checked against the event contract separately, so its failure has its own reason.
  z.strictObject({ ...CorrectionBase, action: z.literal('replace'), event: z.unknown() }),
]);
export type EventCorrection = z.infer<typeof EventCorrectionSchema>;

/**
 * Why a correction was refused: the event reasons that apply to a correction line, then SPEC §5's
 * own (an unknown event, a correction of a voided event, a replacement that fails the event
 * contract or names another event or customer).
 */
export type CorrectionRejectionReason =
  | 'malformed_json'
  | 'schema_violation'
  | 'bad_signature'
  | 'unknown_source'
  | 'unknown_event'
  | 'already_voided'
  | 'replacement_invalid'
  | 'replacement_mismatch';

export type ParsedCorrection =
  | {
      readonly ok: true;
      readonly correction: EventCorrection;
      /** The replacement event, validated (replace only). */
      readonly replacement?: z.infer<typeof UsageEventSchema>;
    }
  | {
      readonly ok: false;
      readonly reason: CorrectionRejectionReason;
      readonly detail: string;
      /** What could be read of the line (for the stored rejection). */
      readonly value?: unknown;
    };

/** Structure only: the signatures and the event it names are checked by the caller that has the keys and the history. */
export function parseEventCorrection(raw: string): ParsedCorrection {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return { ok: false, reason: 'malformed_json', detail: error instanceof Error ? error.message : 'not JSON' };
  }
  const parsed = EventCorrectionSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: 'schema_violation', detail: describeIssues(parsed.error), value };
  const correction = parsed.data;
  if (correction.action === 'void') return { ok: true, correction };
  const replacement = UsageEventSchema.safeParse(correction.event);
  if (!replacement.success)
    return {
      ok: false,
      reason: 'replacement_invalid',
      detail: `event: ${describeIssues(replacement.error)}`,
      value,
    };
  if (replacement.data.source !== correction.source || replacement.data.event_id !== correction.event_id)
    return {
      ok: false,
      reason: 'replacement_mismatch',
      detail: `event: a replace keeps the source and event_id (${correction.source}:${correction.event_id}), not ${replacement.data.source}:${replacement.data.event_id}`,
      value,
    };
  return { ok: true, correction, replacement: replacement.data };
}

/** The bytes a correction's signature covers: its canonical JSON without `signature`. */
function canonicalCorrectionBytes(correction: Record<string, unknown>): string {
  const { signature: _signature, ...unsigned } = correction;
  const canonical = canonicalize(unsigned);
  if (canonical === undefined) throw new Error('correction cannot be canonicalized');
  return canonical;
}

export function signCorrection<T extends Record<string, unknown>>(
  correction: T,
  secret: string,
): T & { signature: string } {
  const signature = `v1=${createHmac('sha256', secret).update(canonicalCorrectionBytes(correction), 'utf8').digest('hex')}`;
  return { ...correction, signature };
}

export function verifyCorrectionSignature(correction: EventCorrection, secret: string): boolean {
  const expected = Buffer.from(
    signCorrection(correction as unknown as Record<string, unknown>, secret).signature,
    'utf8',
  );
  const given = Buffer.from(correction.signature, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
