import { z } from 'zod';
import type { RejectionReason } from './rejection-reason.ts';
import { ID_PATTERN, idText, SOURCE_PATTERN, SourceText } from './patterns.ts';

/** `^\d{1,20}(\.\d{1,12})?$`: quantities are strings, never JSON numbers (no float ever touches usage). */
const QUANTITY_PATTERN = /^\d{1,20}(\.\d{1,12})?$/;

/**
 * What is wrong with a quantity string, in words (the fault first, then the rule it breaks), or
 * undefined when it matches QUANTITY_PATTERN: `quantity "-5" has a sign; …`.
 */
function quantityFault(text: string): string | undefined {
  if (QUANTITY_PATTERN.test(text)) return undefined;
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  const rule = 'a quantity is a non-negative decimal string of up to 20 digits and 12 decimals, e.g. "1500" or "0.25"';
  const fault = ((): string => {
    if (text === '') return 'is empty';
    if (/^[-+]/.test(text)) return `has a sign (${text[0] as string})`;
    if (/\s/.test(text)) return 'contains white space';
    if (/^\d*(\.\d*)?[eE][-+]?\d+$/.test(text)) return 'is in exponent notation';
    const other = /[^\d.]/u.exec(text);
    if (other !== null) return `contains ${JSON.stringify(other[0])}, which is neither a digit nor the decimal point`;
    if ((text.match(/\./g) ?? []).length > 1) return 'has more than one decimal point';
    const [whole = '', fraction] = text.split('.');
    if (whole === '') return 'has no digit before the decimal point';
    if (fraction === '') return 'has no digit after the decimal point';
    if (whole.length > 20) return `has ${whole.length} digits before the decimal point (at most 20)`;
    return `has ${fraction?.length ?? 0} decimals (at most 12)`;
  })();
  return `quantity ${shown} ${fault}; ${rule}`;
}
const METADATA_KEY_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
export const SIGNATURE_PATTERN = /^v1=[0-9a-f]{64}$/;
const METADATA_MAX_KEYS = 32;
const METADATA_VALUE_MAX_CHARS = 256;
/**
 * Free text (unit, metadata values) must be storable as UTF-8 text: no U+0000 (PostgreSQL text and
 * jsonb refuse it) and no unpaired surrogate (it would be stored as U+FFFD, not as the signed bytes).
 */
const UNSTORABLE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const storableText = (text: string): boolean => !UNSTORABLE_TEXT.test(text);
const STORABLE_TEXT_MESSAGE = 'text must not contain U+0000 or unpaired surrogates';

const MetadataSchema = z
  .record(
    z.string().regex(METADATA_KEY_PATTERN, 'metadata keys match ^[a-z][a-z0-9_]{0,63}$'),
    z
      .string()
      .max(METADATA_VALUE_MAX_CHARS, `metadata values are at most ${METADATA_VALUE_MAX_CHARS} characters`)
      .refine(storableText, STORABLE_TEXT_MESSAGE),
  )
  .refine(
    (metadata) => Object.keys(metadata).length <= METADATA_MAX_KEYS,
    `metadata has at most ${METADATA_MAX_KEYS} keys`,
  )
  .refine((metadata) => typeof metadata.sku === 'string' && metadata.sku.length > 0, {
    message: 'metadata.sku is required',
    path: ['sku'],
  });

/** The fields of a usage event that its signature covers (everything but `signature`). */
export const UnsignedUsageEventSchema = z.strictObject({
  schema_version: z.literal(1),
  event_id: idText('event_id'),
  source: SourceText,
  customer_id: idText('customer_id'),
  timestamp: z.iso.datetime({ offset: true, message: 'timestamp is RFC 3339 with an offset' }),
  unit: z
    .string()
    .min(1, 'unit is 1-32 characters')
    .max(32, 'unit is 1-32 characters')
    .refine(storableText, STORABLE_TEXT_MESSAGE),
  quantity: z.string({ message: 'quantity is a decimal string, not a number' }).superRefine((text, context) => {
    const fault = quantityFault(text);
    if (fault !== undefined) context.addIssue({ code: 'custom', message: fault });
  }),
  metadata: MetadataSchema,
});
export type UnsignedUsageEvent = z.infer<typeof UnsignedUsageEventSchema>;

/** Usage event, schema version 1 (SPEC §1). */
export const UsageEventSchema = UnsignedUsageEventSchema.extend({
  signature: z.string().regex(SIGNATURE_PATTERN, 'signature is v1= and 64 lowercase hex digits'),
});
export type UsageEvent = z.infer<typeof UsageEventSchema>;

export type ParsedEvent =
  | { readonly ok: true; readonly event: UsageEvent }
  | {
      readonly ok: false;
      readonly reason: Extract<RejectionReason, 'malformed_json' | 'schema_violation'>;
      readonly detail: string;
    };

/**
 * Parses one event from its raw text. Structure only: the signature, the source's key and the
 * accept window are checked by the caller that knows them.
 */
export function parseUsageEvent(raw: string): ParsedEvent {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return { ok: false, reason: 'malformed_json', detail: error instanceof Error ? error.message : 'not JSON' };
  }
  if (isPlainValidEvent(value)) return { ok: true, event: value };
  // Everything the fast check does not accept goes through the schema: every rejection and its detail are the schema's.
  const result = UsageEventSchema.safeParse(value);
  if (result.success) return { ok: true, event: result.data };
  return { ok: false, reason: 'schema_violation', detail: describeIssues(result.error) };
}

/** `path: message` for each issue, e.g. `metadata.sku: metadata.sku is required`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(event)'}: ${issue.message}`)
    .join('; ');
}

const TIMESTAMP_PATTERN: RegExp = UnsignedUsageEventSchema.shape.timestamp._zod.pattern;
const EVENT_FIELD_COUNT = 9;

/**
 * The ingest worker's fast path for the common case: true only when `value` (a JSON.parse result)
 * passes UsageEventSchema and the schema would return it unchanged; false when the schema must decide
 * (it then accepts or rejects with its own messages). Several times cheaper than the schema; the
 * property test in usage-event.test.ts checks on arbitrary input that true always means the schema
 * accepts the same value.
 */
export function isPlainValidEvent(value: unknown): value is UsageEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  if (Object.keys(record).length !== EVENT_FIELD_COUNT) return false;
  const {
    schema_version: version,
    event_id: eventId,
    source,
    customer_id: customerId,
    timestamp,
    unit,
    quantity,
    metadata,
    signature,
  } = record;
  if (version !== 1 || !Object.hasOwn(record, 'schema_version')) return false;
  if (typeof eventId !== 'string' || !ID_PATTERN.test(eventId) || !Object.hasOwn(record, 'event_id')) return false;
  if (typeof source !== 'string' || !SOURCE_PATTERN.test(source) || !Object.hasOwn(record, 'source')) return false;
  if (typeof customerId !== 'string' || !ID_PATTERN.test(customerId) || !Object.hasOwn(record, 'customer_id'))
    return false;
  if (typeof timestamp !== 'string' || !TIMESTAMP_PATTERN.test(timestamp) || !Object.hasOwn(record, 'timestamp'))
    return false;
  if (
    typeof unit !== 'string' ||
    unit.length < 1 ||
    unit.length > 32 ||
    !storableText(unit) ||
    !Object.hasOwn(record, 'unit')
  )
    return false;
  if (typeof quantity !== 'string' || !QUANTITY_PATTERN.test(quantity) || !Object.hasOwn(record, 'quantity'))
    return false;
  if (typeof signature !== 'string' || !SIGNATURE_PATTERN.test(signature) || !Object.hasOwn(record, 'signature'))
    return false;
  if (
    typeof metadata !== 'object' ||
    metadata === null ||
    Array.isArray(metadata) ||
    !Object.hasOwn(record, 'metadata')
  )
    return false;
  if (Object.getPrototypeOf(record) !== Object.prototype || Object.getPrototypeOf(metadata) !== Object.prototype)
    return false;
  const entries = metadata as Record<string, unknown>;
  const keys = Object.keys(entries);
  if (keys.length > METADATA_MAX_KEYS) return false;
  for (const key of keys) {
    const item = entries[key];
    if (
      !METADATA_KEY_PATTERN.test(key) ||
      typeof item !== 'string' ||
      item.length > METADATA_VALUE_MAX_CHARS ||
      !storableText(item)
    )
      return false;
  }
  return typeof entries.sku === 'string' && entries.sku.length > 0 && Object.hasOwn(entries, 'sku');
}
