import { describe, expect, it } from 'vitest';
import { buildUnsignedEvent } from '../test/builders/rating.ts';
import { CompactEventKeys, eventBodyFingerprint } from './compact-event-keys.ts';

describe('CompactEventKeys', () => {
  it('tells new keys, exact repeats and conflicting repeats apart, across table growth', () => {
    const keys = new CompactEventKeys();
    const count = 200_000; // grows the table several times
    for (let index = 0; index < count; index += 1)
      expect(keys.check('gateway', `evt-${index}`, `body-${index}`, index + 1).status).toBe('new');
    expect(keys.size).toBe(count);
    for (const index of [0, 1, 65_535, 65_536, 199_999]) {
      expect(keys.check('gateway', `evt-${index}`, `body-${index}`, 0)).toEqual({
        status: 'duplicate',
        firstLine: index + 1,
      });
      expect(keys.check('gateway', `evt-${index}`, 'another body', 0)).toEqual({
        status: 'conflict',
        firstLine: index + 1,
      });
    }
    // The key is (source, event_id): the same id from another source is another event.
    expect(keys.check('meter', 'evt-0', 'body-0', 1).status).toBe('new');
    // No ambiguity between "a" + "b:c" and "a:b" + "c".
    expect(keys.check('a', 'b:c', 'x', 1).status).toBe('new');
    expect(keys.check('a:b', 'c', 'x', 1).status).toBe('new');
    expect(keys.size).toBe(count + 3);
  });

  it('fingerprints equal bodies equally, whatever the key order, and ignores the signature', () => {
    const event = buildUnsignedEvent({ metadata: { sku: 'llm.tokens', region: 'us-east-1', plan: 'pro' } });
    const reordered = { ...event, metadata: { plan: 'pro', region: 'us-east-1', sku: 'llm.tokens' } };
    expect(eventBodyFingerprint(reordered)).toBe(eventBodyFingerprint(event));
    expect(eventBodyFingerprint({ ...event, quantity: '1000.0' })).not.toBe(eventBodyFingerprint(event));
    expect(eventBodyFingerprint({ ...event, metadata: { ...event.metadata, plan: 'free' } })).not.toBe(
      eventBodyFingerprint(event),
    );
    expect(eventBodyFingerprint({ ...event, signature: 'v1=00' } as typeof event)).toBe(eventBodyFingerprint(event));
    // Lengths mark the boundaries: text moved from one field to the next is another body.
    expect(eventBodyFingerprint({ ...event, customer_id: 'ab', timestamp: 'c' })).not.toBe(
      eventBodyFingerprint({ ...event, customer_id: 'a', timestamp: 'bc' }),
    );
    expect(eventBodyFingerprint({ ...event, metadata: { sku: 'a1:b' } })).not.toBe(
      eventBodyFingerprint({ ...event, metadata: { sku: 'a', '1:b': '' } }),
    );
  });
});
