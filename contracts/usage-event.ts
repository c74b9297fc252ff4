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
 * property test in usage-event-fast-path.test.ts checks on arbitrary input that it answers exactly as
 * the schema does.
 *
 * Each text field is first checked by a loop over its characters (`fastFieldChecks`), which accepts
 * only text its pattern accepts; whatever that loop does not accept is tested against the pattern
 * itself, so the patterns stay the rule and the loops only spare them the common case (the inner
 * loop of offline rating and of the ingest worker).
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
  if (typeof eventId !== 'string' || !isIdText(eventId) || !Object.hasOwn(record, 'event_id')) return false;
  if (typeof source !== 'string' || !isSourceText(source) || !Object.hasOwn(record, 'source')) return false;
  if (typeof customerId !== 'string' || !isIdText(customerId) || !Object.hasOwn(record, 'customer_id')) return false;
  if (typeof timestamp !== 'string' || !isTimestampText(timestamp) || !Object.hasOwn(record, 'timestamp')) return false;
  if (
    typeof unit !== 'string' ||
    unit.length < 1 ||
    unit.length > 32 ||
    !isStorableText(unit) ||
    !Object.hasOwn(record, 'unit')
  )
    return false;
  if (typeof quantity !== 'string' || !isQuantityText(quantity) || !Object.hasOwn(record, 'quantity')) return false;
  if (typeof signature !== 'string' || !isSignatureText(signature) || !Object.hasOwn(record, 'signature')) return false;
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
  let keys = 0;
  for (const key in entries) {
    if (!Object.hasOwn(entries, key)) continue;
    keys += 1;
    if (keys > METADATA_MAX_KEYS) return false;
    const item = entries[key];
    if (
      !isMetadataKeyText(key) ||
      typeof item !== 'string' ||
      item.length > METADATA_VALUE_MAX_CHARS ||
      !isStorableText(item)
    )
      return false;
  }
  return typeof entries.sku === 'string' && entries.sku.length > 0 && Object.hasOwn(entries, 'sku');
}

const isIdText = (text: string): boolean => fastFieldChecks.id(text) || ID_PATTERN.test(text);
const isSourceText = (text: string): boolean => fastFieldChecks.source(text) || SOURCE_PATTERN.test(text);
const isTimestampText = (text: string): boolean => fastFieldChecks.timestamp(text) || TIMESTAMP_PATTERN.test(text);
const isQuantityText = (text: string): boolean => fastFieldChecks.quantity(text) || QUANTITY_PATTERN.test(text);
const isSignatureText = (text: string): boolean => fastFieldChecks.signature(text) || SIGNATURE_PATTERN.test(text);
const isMetadataKeyText = (text: string): boolean =>
  fastFieldChecks.metadataKey(text) || METADATA_KEY_PATTERN.test(text);
const isStorableText = (text: string): boolean => fastFieldChecks.storable(text) || storableText(text);

/** The rule each of fastFieldChecks stands in for (for the property test that proves each implies its rule). */
export const fieldRules: Readonly<Record<keyof typeof fastFieldChecks, (text: string) => boolean>> = {
  id: (text) => ID_PATTERN.test(text),
  source: (text) => SOURCE_PATTERN.test(text),
  metadataKey: (text) => METADATA_KEY_PATTERN.test(text),
  signature: (text) => SIGNATURE_PATTERN.test(text),
  quantity: (text) => QUANTITY_PATTERN.test(text),
  timestamp: (text) => TIMESTAMP_PATTERN.test(text),
  storable: storableText,
};

/** A table of the ASCII characters `allowed` lists, for a loop over code units. */
function asciiSet(allowed: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let index = 0; index < allowed.length; index += 1) table[allowed.charCodeAt(index)] = 1;
  return table;
}

const DIGITS = '0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const ID_CHARS = asciiSet(`${LOWER}${LOWER.toUpperCase()}${DIGITS}._:-`);
const SOURCE_CHARS = asciiSet(`${LOWER}${DIGITS}._-`);
const METADATA_KEY_CHARS = asciiSet(`${LOWER}${DIGITS}_`);
const LOWER_HEX = asciiSet(`${DIGITS}abcdef`);

/** Whether every code unit of `text` from `from` on is an ASCII character of `table`. */
function allIn(table: Uint8Array, text: string, from: number): boolean {
  for (let index = from; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    if (unit >= 128 || table[unit] !== 1) return false;
  }
  return true;
}

function isDigit(unit: number): boolean {
  return unit >= 48 && unit <= 57;
}

/** The two-digit number at `at` (both characters are digits: checked by the caller). */
function twoDigits(text: string, at: number): number {
  return (text.charCodeAt(at) - 48) * 10 + (text.charCodeAt(at + 1) - 48);
}

/** `YYYY-MM-DDTHH:MM:SS`, the digits' places only. */
const DATE_TIME_SHAPE = '0000-00-00T00:00:00';
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Sufficient checks, one per field pattern: each returns true only for text its pattern accepts
 * (exported for the property test that proves it), and false for anything it does not decide —
 * the pattern then does. Loops over code units, for the million-event inner loops.
 */
export const fastFieldChecks = {
  /** ID_PATTERN: `^[A-Za-z0-9._:-]{1,128}$`. */
  id: (text: string): boolean => text.length >= 1 && text.length <= 128 && allIn(ID_CHARS, text, 0),
  /** SOURCE_PATTERN: `^[a-z0-9._-]{1,64}$`. */
  source: (text: string): boolean => text.length >= 1 && text.length <= 64 && allIn(SOURCE_CHARS, text, 0),
  /** METADATA_KEY_PATTERN: `^[a-z][a-z0-9_]{0,63}$`. */
  metadataKey: (text: string): boolean => {
    if (text.length < 1 || text.length > 64) return false;
    const first = text.charCodeAt(0);
    return first >= 97 && first <= 122 && allIn(METADATA_KEY_CHARS, text, 1);
  },
  /** SIGNATURE_PATTERN: `^v1=[0-9a-f]{64}$`. */
  signature: (text: string): boolean => text.length === 67 && text.startsWith('v1=') && allIn(LOWER_HEX, text, 3),
  /** QUANTITY_PATTERN: `^\d{1,20}(\.\d{1,12})?$`. */
  quantity: (text: string): boolean => {
    let index = 0;
    while (index < text.length && isDigit(text.charCodeAt(index))) index += 1;
    if (index < 1 || index > 20) return false;
    if (index === text.length) return true;
    if (text.charCodeAt(index) !== 46 /* . */) return false;
    const fractionStart = index + 1;
    index = fractionStart;
    while (index < text.length && isDigit(text.charCodeAt(index))) index += 1;
    return index === text.length && index - fractionStart >= 1 && index - fractionStart <= 12;
  },
  /**
   * The timestamp schema's pattern (RFC 3339 with an offset, a real calendar date): decided here for
   * `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then `Z` or `±HH:MM`, on any date but 29 February
   * (left to the pattern, which knows leap years).
   */
  timestamp: (text: string): boolean => {
    if (text.length < 20) return false;
    for (let index = 0; index < DATE_TIME_SHAPE.length; index += 1) {
      const expected = DATE_TIME_SHAPE.charCodeAt(index);
      const unit = text.charCodeAt(index);
      if (expected === 48 /* 0: any digit */ ? !isDigit(unit) : unit !== expected) return false;
    }
    const month = twoDigits(text, 5);
    const day = twoDigits(text, 8);
    if (month < 1 || month > 12 || day < 1 || day > (DAYS_IN_MONTH[month] as number)) return false;
    if (twoDigits(text, 11) > 23 || twoDigits(text, 14) > 59 || twoDigits(text, 17) > 59) return false;
    let index = 19;
    if (text.charCodeAt(index) === 46 /* . */) {
      index += 1;
      const fractionStart = index;
      while (index < text.length && isDigit(text.charCodeAt(index))) index += 1;
      if (index === fractionStart) return false;
    }
    const zone = text.charCodeAt(index);
    if (zone === 90 /* Z */) return index + 1 === text.length;
    if ((zone !== 43 /* + */ && zone !== 45) /* - */ || index + 6 !== text.length) return false;
    return (
      isDigit(text.charCodeAt(index + 1)) &&
      isDigit(text.charCodeAt(index + 2)) &&
      text.charCodeAt(index + 3) === 58 /* : */ &&
      isDigit(text.charCodeAt(index + 4)) &&
      isDigit(text.charCodeAt(index + 5)) &&
      twoDigits(text, index + 1) <= 23 &&
      twoDigits(text, index + 4) <= 59
    );
  },
  /** Storable text (no U+0000, no unpaired surrogate): decided here when it has no surrogate at all. */
  storable: (text: string): boolean => {
    for (let index = 0; index < text.length; index += 1) {
      const unit = text.charCodeAt(index);
      if (unit === 0 || (unit >= 0xd800 && unit <= 0xdfff)) return false;
    }
    return true;
  },
};
