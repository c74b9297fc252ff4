import { describe, expect, it } from 'vitest';
import { buildUnsignedEvent } from '../test/builders/rating.ts';
import { CompactEventKeys, keySlotHash } from './compact-event-keys.ts';

const SEED = Uint8Array.from({ length: 16 }, (_, index) => index * 17 + 3);
const seed0 = new DataView(SEED.buffer).getUint32(0, true);

function body(index: number, quantity = '1'): ReturnType<typeof buildUnsignedEvent> {
  return buildUnsignedEvent({ quantity, metadata: { sku: 'llm.tokens', batch: `b-${index}` } });
}

describe('CompactEventKeys', () => {
  it('tells new keys, exact repeats and conflicting repeats apart, across table and arena growth', () => {
    const keys = new CompactEventKeys(SEED);
    const count = 200_000; // grows the table several times and the key arena past its first MiB
    for (let index = 0; index < count; index += 1)
      expect(keys.check('gateway', `evt-${index}`, body(index), index + 1).status).toBe('new');
    expect(keys.size).toBe(count);
    for (const index of [0, 1, 65_535, 65_536, 199_999]) {
      expect(keys.check('gateway', `evt-${index}`, body(index), 0)).toEqual({
        status: 'duplicate',
        firstLine: index + 1,
      });
      expect(keys.check('gateway', `evt-${index}`, body(index, '2'), 0)).toEqual({
        status: 'conflict',
        firstLine: index + 1,
      });
    }
    // The key is (source, event_id): the same id from another source is another event.
    expect(keys.check('meter', 'evt-0', body(0), 1).status).toBe('new');
    // No ambiguity between "a" + "b:c" and "a:b" + "c".
    expect(keys.check('a', 'b:c', body(0), 1).status).toBe('new');
    expect(keys.check('a:b', 'c', body(0), 1).status).toBe('new');
    // Text beyond Latin-1 is kept as UTF-16 and compared exactly.
    expect(keys.check('gateway', 'évt-ü-€', body(0), 7).status).toBe('new');
    expect(keys.check('gateway', 'évt-ü-€', body(0), 8)).toEqual({ status: 'duplicate', firstLine: 7 });
    expect(keys.check('gateway', 'évt-ü-¤', body(0), 9).status).toBe('new');
    expect(keys.size).toBe(count + 5);
  });

  it('never takes a distinct key for a seen one when their hashes collide: the keys themselves are compared', () => {
    // Among 300,000 ids some pairs share the 32-bit slot hash (about ten, by the birthday bound).
    const bySlotHash = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let index = 0; pair === undefined && index < 1_000_000; index += 1) {
      const id = `evt-${index}`;
      const hash = keySlotHash(seed0, 'gateway', id);
      const other = bySlotHash.get(hash);
      if (other === undefined) bySlotHash.set(hash, id);
      else pair = [other, id];
    }
    expect(pair).toBeDefined();
    const [first, second] = pair as [string, string];
    expect(keySlotHash(seed0, 'gateway', first)).toBe(keySlotHash(seed0, 'gateway', second));
    const keys = new CompactEventKeys(SEED);
    expect(keys.check('gateway', first, body(1), 1).status).toBe('new');
    expect(keys.check('gateway', second, body(1), 2).status).toBe('new');
    expect(keys.check('gateway', second, body(1), 3)).toEqual({ status: 'duplicate', firstLine: 2 });
    expect(keys.check('gateway', first, body(1), 4)).toEqual({ status: 'duplicate', firstLine: 1 });
  });

  it('digests equal bodies equally, whatever the metadata order, and ignores the signature', () => {
    const keys = new CompactEventKeys(SEED);
    const event = buildUnsignedEvent({ metadata: { sku: 'llm.tokens', region: 'us-east-1', plan: 'pro' } });
    let line = 0;
    const repeat = (id: string, other: object): string => {
      keys.check('gateway', id, event, (line += 1));
      return keys.check('gateway', id, other as typeof event, (line += 1)).status;
    };
    expect(repeat('a', { ...event, metadata: { plan: 'pro', region: 'us-east-1', sku: 'llm.tokens' } })).toBe(
      'duplicate',
    );
    expect(repeat('b', { ...event, signature: 'v1=00' })).toBe('duplicate');
    expect(repeat('c', { ...event, quantity: '1000.0' })).toBe('conflict');
    expect(repeat('d', { ...event, metadata: { ...event.metadata, plan: 'free' } })).toBe('conflict');
    expect(repeat('e', { ...event, metadata: { ...event.metadata, extra: '' } })).toBe('conflict');
    // Lengths mark the boundaries: text moved from one field to the next is another body.
    const split = { ...event, customer_id: 'ab', timestamp: 'c' };
    keys.check('gateway', 'f', split, (line += 1));
    expect(keys.check('gateway', 'f', { ...event, customer_id: 'a', timestamp: 'bc' }, (line += 1)).status).toBe(
      'conflict',
    );
    const entry = { ...event, metadata: { sku: 'a1:b' } };
    keys.check('gateway', 'g', entry, (line += 1));
    expect(keys.check('gateway', 'g', { ...event, metadata: { sku: 'a', '1:b': '' } }, (line += 1)).status).toBe(
      'conflict',
    );
    // Swapping values between metadata keys is another body, although the same texts are digested.
    const swapped = { ...event, metadata: { sku: 'x', region: 'y' } };
    keys.check('gateway', 'h', swapped, (line += 1));
    expect(keys.check('gateway', 'h', { ...event, metadata: { sku: 'y', region: 'x' } }, (line += 1)).status).toBe(
      'conflict',
    );
  });
});
