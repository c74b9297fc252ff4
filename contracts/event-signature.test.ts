import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unsignedEventArbitrary } from '../test/builders/usage-event-arbitraries.ts';
import { buildUnsignedEvent, TEST_SECRET } from '../test/builders/usage-event.ts';
import {
  canonicalEventBytes,
  canonicalizeGeneral,
  computeSignature,
  signEvent,
  verifySignature,
} from './event-signature.ts';
import { parseUsageEvent, type UsageEvent } from './usage-event.ts';

const secretArbitrary = fc.string({ minLength: 16, maxLength: 64 });

/** The event after replacing one UTF-8 byte of one field's text with another byte. */
function changeOneByte(text: string, index: number, byte: number): string {
  const bytes = Buffer.from(text, 'utf8');
  const at = index % bytes.length;
  const replacement = byte === bytes[at] ? (byte + 1) % 256 : byte;
  bytes[at] = replacement;
  return bytes.toString('utf8');
}

const FIELDS = [
  'schema_version',
  'event_id',
  'source',
  'customer_id',
  'timestamp',
  'unit',
  'quantity',
  'metadata_key',
  'metadata_value',
  'signature',
] as const;

function mutateField(
  event: UsageEvent,
  field: (typeof FIELDS)[number],
  index: number,
  byte: number,
): Record<string, unknown> | undefined {
  const copy: Record<string, unknown> = { ...event, metadata: { ...event.metadata } };
  switch (field) {
    case 'schema_version':
      return { ...copy, schema_version: Number.parseInt(changeOneByte('1', index, byte), 10) };
    case 'metadata_key': {
      const keys = Object.keys(event.metadata);
      const key = keys[index % keys.length] as string;
      const changed = changeOneByte(key, index, byte);
      if (changed === key) return undefined;
      const metadata: Record<string, string> = { ...event.metadata };
      const value = metadata[key] as string;
      delete metadata[key];
      // A changed key that collides with another key merges them: still a different event.
      metadata[changed] = value;
      return { ...copy, metadata };
    }
    case 'metadata_value': {
      const keys = Object.keys(event.metadata);
      const key = keys[index % keys.length] as string;
      const value = event.metadata[key] as string;
      if (value.length === 0)
        return { ...copy, metadata: { ...event.metadata, [key]: String.fromCharCode(byte % 128) } };
      const changed = changeOneByte(value, index, byte);
      return changed === value ? undefined : { ...copy, metadata: { ...event.metadata, [key]: changed } };
    }
    default: {
      const value = event[field];
      const changed = changeOneByte(value, index, byte);
      return changed === value ? undefined : { ...copy, [field]: changed };
    }
  }
}

describe('event signatures', () => {
  it('sign → verify round-trips for any valid event and key, through JSON', () => {
    fc.assert(
      fc.property(unsignedEventArbitrary, secretArbitrary, (unsigned, secret) => {
        const parsed = parseUsageEvent(JSON.stringify(signEvent(unsigned, secret)));
        expect(parsed.ok).toBe(true);
        if (parsed.ok) expect(verifySignature(parsed.event, secret)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a one-byte change to any field fails verification or fails the schema', () => {
    fc.assert(
      fc.property(
        unsignedEventArbitrary,
        secretArbitrary,
        fc.constantFrom(...FIELDS),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (unsigned, secret, field, index, byte) => {
          const signed = signEvent(unsigned, secret);
          const mutated = mutateField(signed, field, index, byte);
          fc.pre(mutated !== undefined);
          const parsed = parseUsageEvent(JSON.stringify(mutated));
          if (parsed.ok) expect(verifySignature(parsed.event, secret)).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('the fast canonical form of an event equals the general RFC 8785 algorithm', () => {
    const anyMetadata = fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), { maxKeys: 8 });
    fc.assert(
      fc.property(unsignedEventArbitrary, anyMetadata, fc.boolean(), (unsigned, extra, withSignature) => {
        const event = {
          ...unsigned,
          metadata: { ...unsigned.metadata, ...extra },
          ...(withSignature ? { signature: 'v1=x' } : {}),
        };
        expect(canonicalEventBytes(event)).toBe(canonicalizeGeneral(event));
      }),
      { numRuns: 500 },
    );
  });

  it('the fast canonical form escapes exactly as the general algorithm (quotes, backslashes, controls, lone surrogates)', () => {
    // Text built mostly from the characters JSON escapes, so that the fast path's "nothing to escape" test is exercised both ways.
    const awkward = fc.string({
      unit: fc.oneof(
        fc.constantFrom(
          '"',
          '\\',
          '\u0000',
          '\n',
          '\u001f',
          '\u007f',
          '\u2028',
          '\ud800',
          '\udfff',
          '\ud83d\ude00',
          'a',
          'é',
        ),
        fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
      ),
      maxLength: 12,
    });
    fc.assert(
      fc.property(
        unsignedEventArbitrary,
        awkward,
        awkward,
        awkward,
        fc.dictionary(awkward, awkward, { maxKeys: 4 }),
        (unsigned, unit, eventId, customerId, extra) => {
          const event = {
            ...unsigned,
            unit,
            event_id: eventId,
            customer_id: customerId,
            metadata: { ...unsigned.metadata, ...extra },
          };
          // The general algorithm refuses lone surrogates (the schema rejects them before any signature check).
          const general = (() => {
            try {
              return canonicalizeGeneral(event);
            } catch {
              return undefined;
            }
          })();
          fc.pre(general !== undefined);
          expect(canonicalEventBytes(event)).toBe(general);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a field inherited rather than own is not taken by the fast canonical form', () => {
    const unsigned = buildUnsignedEvent();
    const { unit, ...rest } = unsigned;
    const event = Object.assign(Object.create({ unit }) as Record<string, unknown>, rest, { note: 'x' });
    expect(canonicalEventBytes(event as never)).toBe(canonicalizeGeneral(event));
  });

  it('another key never verifies', () => {
    fc.assert(
      fc.property(unsignedEventArbitrary, secretArbitrary, secretArbitrary, (unsigned, secret, other) => {
        fc.pre(secret !== other);
        expect(verifySignature(signEvent(unsigned, secret), other)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('signs the RFC 8785 canonical JSON: key order and escapes do not matter, the signature field is not signed', () => {
    const event = buildUnsignedEvent({
      metadata: { sku: 'llm.tokens', region: 'eu-west-1', a_note: 'caf\u00e9 \u2028' },
    });
    const reordered = {
      metadata: { region: 'eu-west-1', a_note: 'caf\u00e9 \u2028', sku: 'llm.tokens' },
      quantity: event.quantity,
      unit: event.unit,
      timestamp: event.timestamp,
      customer_id: event.customer_id,
      source: event.source,
      event_id: event.event_id,
      schema_version: 1 as const,
    };
    expect(canonicalEventBytes(reordered)).toBe(canonicalEventBytes(event));
    expect(canonicalEventBytes(event).startsWith('{"customer_id":"acme","event_id":')).toBe(true);
    const signed = signEvent(event, TEST_SECRET);
    expect(signed.signature).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(computeSignature(signed, TEST_SECRET)).toBe(signed.signature);
  });

  it('refuses a signature of the wrong length without throwing', () => {
    const signed = signEvent(buildUnsignedEvent(), TEST_SECRET);
    expect(verifySignature({ ...signed, signature: signed.signature.slice(0, -2) }, TEST_SECRET)).toBe(false);
  });
});
