import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  describeIssues,
  fastFieldChecks,
  fieldRules,
  isPlainValidEvent,
  parseUsageEvent,
  UsageEventSchema,
  type ParsedEvent,
} from './usage-event.ts';

/** What parseUsageEvent returned before its fast path: the schema alone. */
function parseWithSchemaOnly(raw: string): ParsedEvent {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return { ok: false, reason: 'malformed_json', detail: error instanceof Error ? error.message : 'not JSON' };
  }
  const result = UsageEventSchema.safeParse(value);
  return result.success
    ? { ok: true, event: result.data }
    : { ok: false, reason: 'schema_violation', detail: describeIssues(result.error) };
}

/** Strings near every pattern's edges: valid ones, one character too many, forbidden characters, NUL, lone surrogates. */
const edgyString = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,130}$/),
  fc.stringMatching(/^[a-z0-9._-]{1,66}$/),
  fc.stringMatching(/^[a-z][a-z0-9_]{0,64}$/),
  fc.stringMatching(/^\d{1,21}(\.\d{0,13})?$/),
  fc.stringMatching(/^v1=[0-9a-fA-F]{63,65}$/),
  fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/),
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom(
    '',
    'a',
    'tokens',
    'a\u0000b',
    '\uD800',
    'x\uDC00',
    '\uD83D\uDE00',
    'x'.repeat(32),
    'x'.repeat(33),
    'é'.repeat(256),
    'é'.repeat(257),
    '__proto__',
    'sku',
    'constructor',
  ),
);
const anyJson = fc.oneof(edgyString, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(1, 0, 2, 1.5, -1, null, true, '1'));

const validEvent = fc.record({
  schema_version: fc.constant(1),
  event_id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
  source: fc.stringMatching(/^[a-z0-9._-]{1,64}$/),
  customer_id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
  timestamp: fc
    .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true })
    .map((date) => date.toISOString()),
  unit: fc.string({ minLength: 1, maxLength: 32 }),
  quantity: fc.stringMatching(/^\d{1,20}(\.\d{1,12})?$/),
  metadata: fc
    .dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,63}$/), fc.string({ maxLength: 256 }), { maxKeys: 31 })
    .chain((extra) => fc.string({ minLength: 1, maxLength: 20 }).map((sku) => ({ ...extra, sku }))),
  signature: fc.stringMatching(/^v1=[0-9a-f]{64}$/),
});

/** A valid event with some fields replaced, removed or added: most results sit right at a rule's edge. */
const mutatedEvent = fc
  .tuple(
    validEvent,
    fc.array(
      fc.tuple(
        fc.constantFrom(
          'schema_version',
          'event_id',
          'source',
          'customer_id',
          'timestamp',
          'unit',
          'quantity',
          'metadata',
          'signature',
          'extra',
          '__proto__',
        ),
        fc.oneof(anyJson, fc.constant(undefined), fc.dictionary(edgyString, anyJson, { maxKeys: 34 })),
      ),
      { maxLength: 3 },
    ),
    fc.array(fc.tuple(edgyString, fc.oneof(anyJson, fc.constant(undefined))), { maxLength: 3 }),
  )
  .map(([event, fieldChanges, metadataChanges]) => {
    const record: Record<string, unknown> = { ...event, metadata: { ...event.metadata } };
    const metadata = record.metadata as Record<string, unknown>;
    for (const [key, value] of metadataChanges) metadata[key] = value;
    for (const [key, value] of fieldChanges) record[key] = value;
    return record;
  });

/** As the worker sees it: text, parsed by JSON.parse (own `__proto__` keys included). */
const eventText = fc.oneof(
  { weight: 2, arbitrary: validEvent.map((event) => JSON.stringify(event)) },
  { weight: 5, arbitrary: mutatedEvent.map((event) => JSON.stringify(event)) },
  { weight: 1, arbitrary: mutatedEvent.map((event) => JSON.stringify(event).replace('"extra"', '"__proto__"')) },
  { weight: 1, arbitrary: anyJson.map((value) => JSON.stringify(value) ?? 'undefined') },
  { weight: 1, arbitrary: fc.string() },
);

describe('the fast path of parseUsageEvent', () => {
  it("accepts exactly what the schema accepts, returns the value the schema returns, and rejects with the schema's reason and detail", () => {
    fc.assert(
      fc.property(eventText, (text) => {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          value = undefined;
        }
        if (value !== undefined) {
          const schema = UsageEventSchema.safeParse(value);
          expect(isPlainValidEvent(value)).toBe(schema.success);
          if (schema.success) expect(value).toStrictEqual(schema.data);
        }
        expect(parseUsageEvent(text)).toStrictEqual(parseWithSchemaOnly(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('takes the fast path for valid events', () => {
    fc.assert(
      fc.property(validEvent, (event) => {
        expect(isPlainValidEvent(JSON.parse(JSON.stringify(event)))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('decides a field without its pattern only when the pattern accepts it (the fast checks are sufficient, never wrong)', () => {
    const fieldText = fc.oneof(
      edgyString,
      fc.stringMatching(/^[A-Za-z0-9._:-]{0,129}$/),
      fc.stringMatching(/^\d{0,22}(\.\d{0,14})?$/),
      fc.stringMatching(/^v1=[0-9a-f]{62,66}$/),
      // Every month, day and time-of-day field at and beyond its edges, fractions and offsets included.
      fc
        .tuple(
          fc.integer({ min: 0, max: 9999 }),
          fc.integer({ min: 0, max: 13 }),
          fc.integer({ min: 0, max: 32 }),
          fc.integer({ min: 0, max: 24 }),
          fc.integer({ min: 0, max: 60 }),
          fc.integer({ min: 0, max: 60 }),
          fc.constantFrom('', '.', '.5', '.123', '.123456789', '.x'),
          fc.constantFrom('Z', 'z', '+00:00', '-23:59', '+24:00', '+12:60', '+1:00', '', 'Z ', '+05:30x'),
        )
        .map(([year, month, day, hour, minute, second, fraction, zone]) => {
          const two = (value: number): string => String(value).padStart(2, '0');
          return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}:${two(second)}${fraction}${zone}`;
        }),
    );
    fc.assert(
      fc.property(fieldText, (text) => {
        for (const [name, fast] of Object.entries(fastFieldChecks)) {
          if (fast(text)) expect([name, fieldRules[name as keyof typeof fastFieldChecks](text)]).toEqual([name, true]);
        }
      }),
      { numRuns: 20000 },
    );
  });

  it('takes the fast field checks for the fields of valid events (the common case never reaches a pattern)', () => {
    fc.assert(
      fc.property(validEvent, (event) => {
        expect(fastFieldChecks.id(event.event_id) && fastFieldChecks.id(event.customer_id)).toBe(true);
        expect(fastFieldChecks.source(event.source)).toBe(true);
        expect(fastFieldChecks.quantity(event.quantity)).toBe(true);
        expect(fastFieldChecks.signature(event.signature)).toBe(true);
        expect(Object.keys(event.metadata).every((key) => fastFieldChecks.metadataKey(key))).toBe(true);
        if (!event.timestamp.includes('-02-29T')) expect(fastFieldChecks.timestamp(event.timestamp)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
