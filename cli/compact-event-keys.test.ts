import { describe, expect, it } from 'vitest';
import { buildUnsignedEvent } from '../test/builders/rating.ts';
import { CompactEventKeys, EventFileChangedError, keySlotHash, type KeyedEvent } from './compact-event-keys.ts';

const SEED = Uint8Array.from([3, 20, 37, 54]);
const seed = new DataView(SEED.buffer).getUint32(0, true);

function body(index: number, quantity = '1'): ReturnType<typeof buildUnsignedEvent> {
  return buildUnsignedEvent({ quantity, metadata: { sku: 'llm.tokens', batch: `b-${index}` } });
}

/**
 * An event file in memory, line by line at its byte offsets (from `start`: offsets past 4 GiB are
 * kept as exactly as small ones), and the key set reading back from it. `reads` counts read-backs.
 */
function eventFile(start = 0) {
  const lines = new Map<number, string>();
  let next = start;
  let line = 0;
  const file = {
    reads: 0,
    keys: new CompactEventKeys(
      {
        readBack: (offset, length) => {
          file.reads += 1;
          const text = lines.get(offset) ?? '';
          expect(Buffer.byteLength(text)).toBe(length);
          return text;
        },
        parse: (text) => {
          try {
            return JSON.parse(text) as KeyedEvent;
          } catch {
            return undefined;
          }
        },
      },
      SEED,
    ),
    /** Appends the event as a line (or the given text) and checks its key, as the scan does. */
    add(source: string, eventId: string, event: object, text?: string) {
      const written = text ?? JSON.stringify({ ...event, source, event_id: eventId });
      const offset = next;
      lines.set(offset, written);
      next += Buffer.byteLength(written) + 1;
      line += 1;
      return file.keys.check(
        { ...(event as KeyedEvent), source, event_id: eventId },
        written,
        line,
        offset,
        Buffer.byteLength(written),
      );
    },
    /** Replaces the text of a line already written, keeping its length (the file changing under the scan). */
    overwrite(offset: number, text: string) {
      const length = (lines.get(offset) ?? '').length;
      lines.set(offset, text.padEnd(length, ' ').slice(0, length));
    },
  };
  return file;
}

describe('CompactEventKeys', () => {
  it('tells new keys, exact repeats and conflicting repeats apart, across table growth', () => {
    const file = eventFile();
    const count = 200_000; // grows the table several times
    for (let index = 0; index < count; index += 1)
      expect(file.add('gateway', `evt-${index}`, body(index)).status).toBe('new');
    expect(file.keys.size).toBe(count);
    for (const index of [0, 1, 65_535, 65_536, 199_999]) {
      expect(file.add('gateway', `evt-${index}`, body(index))).toEqual({ status: 'duplicate', firstLine: index + 1 });
      expect(file.add('gateway', `evt-${index}`, body(index, '2'))).toEqual({
        status: 'conflict',
        firstLine: index + 1,
      });
    }
    // The key is (source, event_id): the same id from another source is another event.
    expect(file.add('meter', 'evt-0', body(0)).status).toBe('new');
    // No ambiguity between "a" + "b:c" and "a:b" + "c".
    expect(file.add('a', 'b:c', body(0)).status).toBe('new');
    expect(file.add('a:b', 'c', body(0)).status).toBe('new');
    // Text beyond Latin-1 is compared exactly.
    const wide = file.add('gateway', 'évt-ü-€', body(0));
    expect(wide.status).toBe('new');
    expect(file.add('gateway', 'évt-ü-€', body(0)).status).toBe('duplicate');
    expect(file.add('gateway', 'évt-ü-¤', body(0)).status).toBe('new');
    expect(file.keys.size).toBe(count + 5);
  });

  it('reads a first copy back only when its hash comes again, and finds it past 4 GiB', () => {
    const file = eventFile(2 ** 40 + 12_345);
    for (let index = 0; index < 1_000; index += 1) file.add('gateway', `evt-${index}`, body(index));
    expect(file.reads).toBe(0);
    expect(file.add('gateway', 'evt-999', body(999))).toEqual({ status: 'duplicate', firstLine: 1_000 });
    expect(file.add('gateway', 'evt-0', body(0, '7'))).toEqual({ status: 'conflict', firstLine: 1 });
    expect(file.reads).toBe(2);
  });

  it('never takes a distinct key for a seen one when their hashes collide: the keys themselves are compared', () => {
    // Among 300,000 ids some pairs share the 32-bit slot hash (about ten, by the birthday bound).
    const bySlotHash = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let index = 0; pair === undefined && index < 1_000_000; index += 1) {
      const id = `evt-${index}`;
      const hash = keySlotHash(seed, 'gateway', id);
      const other = bySlotHash.get(hash);
      if (other === undefined) bySlotHash.set(hash, id);
      else pair = [other, id];
    }
    expect(pair).toBeDefined();
    const [first, second] = pair as [string, string];
    expect(keySlotHash(seed, 'gateway', first)).toBe(keySlotHash(seed, 'gateway', second));
    const file = eventFile();
    expect(file.add('gateway', first, body(1)).status).toBe('new');
    // The same body under the colliding key: read back, another key, so a new event.
    expect(file.add('gateway', second, body(1)).status).toBe('new');
    expect(file.add('gateway', second, body(1))).toEqual({ status: 'duplicate', firstLine: 2 });
    expect(file.add('gateway', first, body(1))).toEqual({ status: 'duplicate', firstLine: 1 });
    expect(file.add('gateway', second, body(1, '5'))).toEqual({ status: 'conflict', firstLine: 2 });
  });

  it('compares bodies whatever the text: metadata in any order, the signature and spacing ignored', () => {
    const file = eventFile();
    const event = buildUnsignedEvent({ metadata: { sku: 'llm.tokens', region: 'us-east-1', plan: 'pro' } });
    const repeat = (id: string, other: object, text?: string): string => {
      file.add('gateway', id, event);
      return file.add('gateway', id, other, text).status;
    };
    expect(repeat('a', { ...event, metadata: { plan: 'pro', region: 'us-east-1', sku: 'llm.tokens' } })).toBe(
      'duplicate',
    );
    expect(repeat('b', { ...event, signature: 'v1=00' })).toBe('duplicate');
    expect(
      repeat('s', event, JSON.stringify({ ...event, source: 'gateway', event_id: 's' }, null, 1).replace(/\n/g, '')),
    ).toBe('duplicate');
    expect(repeat('c', { ...event, quantity: '1000.0' })).toBe('conflict');
    expect(repeat('d', { ...event, metadata: { ...event.metadata, plan: 'free' } })).toBe('conflict');
    expect(repeat('e', { ...event, metadata: { ...event.metadata, extra: '' } })).toBe('conflict');
    expect(repeat('f', { ...event, metadata: { sku: 'llm.tokens', region: 'us-east-1' } })).toBe('conflict');
    expect(repeat('g', { ...event, customer_id: 'other' })).toBe('conflict');
    expect(repeat('h', { ...event, timestamp: '2026-10-02T00:00:00Z' })).toBe('conflict');
    expect(repeat('i', { ...event, unit: 'requests' })).toBe('conflict');
    // Swapping values between metadata keys is another body.
    file.add('gateway', 'j', { ...event, metadata: { sku: 'x', region: 'y' } });
    expect(file.add('gateway', 'j', { ...event, metadata: { sku: 'y', region: 'x' } }).status).toBe('conflict');
  });

  it('refuses to go on when a first copy is no longer in the file where it was read', () => {
    const file = eventFile();
    file.add('gateway', 'evt-1', body(1));
    file.overwrite(0, 'not the event any more');
    expect(() => file.add('gateway', 'evt-1', body(1, '2'))).toThrow(EventFileChangedError);
  });
});
