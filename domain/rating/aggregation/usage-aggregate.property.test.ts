import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPrice, buildRateCardVersion, buildUnsignedEvent } from '../../../test/builders/rating.ts';
import { Decimal, formatDecimal } from '../../money.ts';
import { billingPeriod } from '../../period.ts';
import { instantKey } from '../time/instant-key.ts';
import { SegmentLocator, versionSegments } from '../segments/version-segments.ts';
import { groupingKeysBySku, UsageAggregator } from './usage-aggregate.ts';

// The aggregator's shortcuts (nested maps instead of a group key per event, quantities of the usual
// form summed as bigints of 10^-12, Decimal for any other form) against a reference that groups each
// event by its full key and sums in Decimal, over runs of events of one group and mixed groups.

const OCTOBER = billingPeriod('2026-10');
const versions = [
  buildRateCardVersion({
    effective_from: '2026-10-01T00:00:00.000Z',
    prices: [buildPrice({ id: 'tokens-us', dimensions: { region: 'us-east-1' } })],
  }),
  buildRateCardVersion({
    effective_from: '2026-10-16T00:00:00.000Z',
    prices: [
      buildPrice({ id: 'tokens-us', dimensions: { region: 'us-east-1' } }),
      buildPrice({ id: 'tokens-us-pro', dimensions: { region: 'us-east-1', plan: 'pro' } }),
      buildPrice({
        id: 'users',
        sku: 'app.active_users',
        unit: 'users',
        aggregation: 'unique_count',
        unique_by: 'user_id',
      }),
    ],
  }),
];

const quantity = fc.oneof(
  fc.constantFrom('0', '1', '7', '999999999999999', '100000000000000', '0.5', '123.456000000001'),
  fc.bigInt({ min: 0n, max: 10n ** 15n - 1n }).map(String), // whole
  fc.bigInt({ min: 10n ** 15n, max: 10n ** 20n - 1n }).map(String), // whole, past 2^53
  fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.bigInt({ min: 0n, max: 10n ** 12n - 1n }))
    .map(([whole, fraction]) => `${whole}.${String(fraction).padStart(12, '0')}`),
  fc.constantFrom('007', '1e3', '12345678901234567890.5'), // other forms: Decimal
);

const template = fc.record({
  timestamp: fc.constantFrom(
    '2026-10-02T10:00:00.000Z',
    '2026-10-15T23:59:59.999Z',
    '2026-10-16T00:00:00.000Z',
    '2026-10-20T05:00:00.5+02:00',
    '2026-11-01T00:00:00.000Z', // outside the period
  ),
  sku: fc.constantFrom('llm.tokens', 'app.active_users', 'unpriced.sku'),
  unit: fc.constantFrom('tokens', 'users'),
  region: fc.constantFrom('us-east-1', 'eu-west-1', undefined),
  plan: fc.constantFrom('pro', 'free', undefined),
  user: fc.constantFrom('u1', 'u2', undefined),
});

/** Runs of events with the same template (the same group, mostly) and their own quantities. */
const runs = fc.array(fc.tuple(template, fc.array(quantity, { minLength: 1, maxLength: 25 })), { maxLength: 30 });

describe('UsageAggregator against a Decimal reference', () => {
  it('gives every group the reference count, sum and maximum, however its events are ordered and sized', () => {
    const locator = new SegmentLocator(versionSegments(versions, OCTOBER));
    const keysBySku = groupingKeysBySku(versions);
    fc.assert(
      fc.property(runs, (generated) => {
        const aggregator = new UsageAggregator(versions, OCTOBER);
        const reference = new Map<string, { count: number; sum: Decimal; max: Decimal }>();
        let id = 0;
        for (const [shape, quantities] of generated)
          for (const amount of quantities) {
            const metadata: Record<string, string> = { sku: shape.sku };
            if (shape.region !== undefined) metadata.region = shape.region;
            if (shape.plan !== undefined) metadata.plan = shape.plan;
            if (shape.user !== undefined) metadata.user_id = shape.user;
            id += 1;
            const event = buildUnsignedEvent({
              source: 's',
              event_id: String(id),
              timestamp: shape.timestamp,
              unit: shape.unit,
              quantity: amount,
              metadata,
            });
            const inPeriod = aggregator.add(event);
            const segment = locator.indexOf(instantKey(shape.timestamp));
            expect(inPeriod).toBe(segment >= 0);
            if (segment < 0) continue;
            const values = (keysBySku.get(shape.sku) ?? []).map((name) => metadata[name] ?? null);
            const key = JSON.stringify([
              locator.segments[segment]?.effectiveFrom ?? null,
              shape.sku,
              shape.unit,
              values,
            ]);
            const value = new Decimal(amount);
            const group = reference.get(key);
            if (group === undefined) reference.set(key, { count: 1, sum: value, max: value });
            else {
              group.count += 1;
              group.sum = group.sum.plus(value);
              if (value.gt(group.max)) group.max = value;
            }
          }
        const actual = new Map(
          aggregator.aggregates().map((aggregate) => {
            const keys = keysBySku.get(aggregate.sku) ?? [];
            const values = keys.map((name) => aggregate.metadata[name] ?? null);
            return [
              JSON.stringify([aggregate.versionEffectiveFrom, aggregate.sku, aggregate.unit, values]),
              { count: aggregate.eventCount, sum: aggregate.quantitySum, max: aggregate.quantityMax },
            ];
          }),
        );
        expect(actual).toEqual(
          new Map(
            [...reference].map(([key, group]) => [
              key,
              { count: group.count, sum: formatDecimal(group.sum), max: formatDecimal(group.max) },
            ]),
          ),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('sums whole quantities exactly past 2^53', () => {
    const aggregator = new UsageAggregator(versions, OCTOBER);
    const quantities = Array.from({ length: 41 }, (_, index) =>
      index % 2 === 0 && index < 40 ? '999999999999999' : '1',
    );
    quantities.forEach((amount, index) =>
      aggregator.add(
        buildUnsignedEvent({
          source: 's',
          event_id: String(index),
          timestamp: '2026-10-02T10:00:00.000Z',
          unit: 'tokens',
          quantity: amount,
          metadata: { sku: 'llm.tokens', region: 'us-east-1' },
        }),
      ),
    );
    const [group] = aggregator.aggregates();
    // 20 × 999,999,999,999,999 + 21 × 1: odd and past 2^53, which no JS number holds exactly.
    expect(group?.quantitySum).toBe('20000000000000001');
    expect(group?.quantityMax).toBe('999999999999999');
  });
});
