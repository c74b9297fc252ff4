import { describe, expect, it } from 'vitest';
import type { Aggregation } from '../../../contracts/ratecard.ts';
import { buildAggregate } from '../../../test/builders/rating.ts';
import { periodQuantity, type MatchedAggregate } from './period-quantity.ts';
import type { UsageAggregate } from '../aggregation/usage-aggregate.ts';

const at = (segment: number, overrides: Partial<UsageAggregate>): MatchedAggregate => ({
  segment,
  aggregate: buildAggregate(overrides),
});

function quantities(
  aggregation: Aggregation,
  matched: MatchedAggregate[],
  uniqueBy?: string,
): { total: string; bySegment: string[] } {
  const result = periodQuantity(aggregation, uniqueBy, matched, 2);
  return { total: result.total.toString(), bySegment: result.bySegment.map(String) };
}

describe('the period quantity of a price (rule 3), split by version segment', () => {
  const groups = [
    at(0, {
      eventCount: 3,
      quantitySum: '700',
      quantityMax: '400',
      latestTimestamp: '2026-10-10T00:00:00.000000Z',
      latestQuantity: '100',
      latestEventKey: 'a:1',
    }),
    at(0, {
      eventCount: 1,
      quantitySum: '0.000000000001',
      quantityMax: '0.000000000001',
      latestTimestamp: '2026-10-11T00:00:00.000000Z',
      latestQuantity: '0.000000000001',
      latestEventKey: 'a:2',
    }),
    at(1, {
      eventCount: 2,
      quantitySum: '800',
      quantityMax: '400',
      latestTimestamp: '2026-10-20T00:00:00.000000Z',
      latestQuantity: '300',
      latestEventKey: 'a:3',
    }),
  ];

  it.each([
    ['sum', '1500.000000000001', ['700.000000000001', '800']],
    ['count', '6', ['4', '2']],
    // The maximum 400 is reached in both segments: it counts where it was first reached.
    ['max', '400', ['400', '0']],
    // The latest event is in segment 1.
    ['latest', '300', ['0', '300']],
  ] as const)('%s → %s', (aggregation, total, bySegment) => {
    expect(quantities(aggregation, groups)).toEqual({ total, bySegment: [...bySegment] });
    expect(quantities(aggregation, [...groups].reverse())).toEqual({ total, bySegment: [...bySegment] });
  });

  it('latest: a timestamp tie goes to the greatest `${source}:${event_id}`', () => {
    const tie = [
      at(0, { latestTimestamp: '2026-10-10T00:00:00.000000Z', latestQuantity: '5', latestEventKey: 'gateway:evt-9' }),
      at(0, { latestTimestamp: '2026-10-10T00:00:00Z', latestQuantity: '7', latestEventKey: 'gateway:evt-10' }),
    ];
    expect(quantities('latest', tie).total).toBe('5'); // 'gateway:evt-9' > 'gateway:evt-10' as text
    expect(quantities('latest', [...tie].reverse()).total).toBe('5');
  });

  it('unique_count counts each value once, in the segment where it first appeared', () => {
    const users = [
      at(0, { metadata: { user_id: 'a' } }),
      at(0, { metadata: { user_id: 'b' } }),
      at(1, { metadata: { user_id: 'b' } }),
      at(1, { metadata: { user_id: 'c' } }),
      at(1, { metadata: {} }), // no user_id: adds no value
    ];
    expect(quantities('unique_count', users, 'user_id')).toEqual({ total: '3', bySegment: ['2', '1'] });
    expect(quantities('unique_count', [...users].reverse(), 'user_id')).toEqual({ total: '3', bySegment: ['2', '1'] });
  });

  it('no events → zero', () => {
    for (const aggregation of ['sum', 'count', 'max', 'latest', 'unique_count'] as const) {
      expect(quantities(aggregation, [], 'user_id')).toEqual({ total: '0', bySegment: ['0', '0'] });
    }
  });
});
