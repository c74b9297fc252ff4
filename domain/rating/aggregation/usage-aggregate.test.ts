import { describe, expect, it } from 'vitest';
import { buildPrice, buildRateCardVersion, buildUnsignedEvent } from '../../../test/builders/rating.ts';
import { billingPeriod } from '../../period.ts';
import { usageAggregationPlan } from './aggregation-plan.ts';
import { aggregateEvents, groupingKeys, groupingKeysBySku } from './usage-aggregate.ts';
import { versionSegments } from '../segments/version-segments.ts';

const OCTOBER = billingPeriod('2026-10');
const V1 = '2026-10-01T00:00:00.000Z';
const V2 = '2026-10-16T00:00:00.000Z';
const versions = [
  buildRateCardVersion({
    effective_from: V1,
    prices: [buildPrice({ id: 'tokens-us', dimensions: { region: 'us-east-1' } })],
  }),
  buildRateCardVersion({
    effective_from: V2,
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

function tokens(overrides: Parameters<typeof buildUnsignedEvent>[0]): ReturnType<typeof buildUnsignedEvent> {
  return buildUnsignedEvent({
    metadata: { sku: 'llm.tokens', region: 'us-east-1', plan: 'pro', user_id: 'u1' },
    ...overrides,
  });
}

const groupingEvents = [
  tokens({
    source: 's',
    event_id: '1',
    timestamp: '2026-10-20T00:00:00Z',
    quantity: '5.5',
    metadata: { sku: 'llm.tokens', region: 'us-east-1', plan: 'pro', user_id: 'u1' },
  }),
  tokens({
    source: 's',
    event_id: '2',
    timestamp: '2026-10-21T00:00:00Z',
    quantity: '2',
    metadata: { sku: 'llm.tokens', region: 'us-east-1', plan: 'pro', user_id: 'u2' },
  }),
  tokens({
    source: 's',
    event_id: '10',
    timestamp: '2026-10-21T00:00:00Z',
    quantity: '3',
    metadata: { sku: 'llm.tokens', region: 'us-east-1', plan: 'pro' },
  }),
  tokens({
    source: 's',
    event_id: '3',
    timestamp: '2026-10-22T00:00:00Z',
    quantity: '1',
    metadata: { sku: 'llm.tokens', region: 'us-east-1' },
  }),
  tokens({
    source: 's',
    event_id: '4',
    timestamp: '2026-10-22T00:00:00Z',
    unit: 'users',
    quantity: '1',
    metadata: { sku: 'app.active_users', user_id: 'u1', region: 'x' },
  }),
];

describe('version segments', () => {
  it('split the period at each version boundary inside it', () => {
    expect(versionSegments(versions, OCTOBER)).toEqual([
      { effectiveFrom: V1, start: OCTOBER.start, end: V2 },
      { effectiveFrom: V2, start: V2, end: OCTOBER.end },
    ]);
  });

  it('start with a no-version segment when the card begins inside the period, and skip versions outside it', () => {
    const late = [
      buildRateCardVersion({ effective_from: '2026-10-10T00:00:00.000Z' }),
      buildRateCardVersion({ effective_from: '2026-12-01T00:00:00.000Z' }),
    ];
    expect(versionSegments(late, OCTOBER)).toEqual([
      { effectiveFrom: null, start: OCTOBER.start, end: '2026-10-10T00:00:00.000Z' },
      { effectiveFrom: '2026-10-10T00:00:00.000Z', start: '2026-10-10T00:00:00.000Z', end: OCTOBER.end },
    ]);
    const older = [
      buildRateCardVersion({ effective_from: '2026-01-01T00:00:00.000Z' }),
      buildRateCardVersion({ effective_from: '2026-09-01T00:00:00.000Z' }),
    ];
    expect(versionSegments(older, OCTOBER)).toEqual([
      { effectiveFrom: '2026-09-01T00:00:00.000Z', start: OCTOBER.start, end: OCTOBER.end },
    ]);
  });
});

describe('grouping keys', () => {
  it("are the dimension and unique_by keys of each sku's prices", () => {
    expect(Object.fromEntries(groupingKeysBySku(versions))).toEqual({
      'app.active_users': ['user_id'],
      'llm.tokens': ['plan', 'region'],
    });
    expect(groupingKeys(versions)).toEqual(['plan', 'region', 'user_id']);
    expect(usageAggregationPlan(versions, OCTOBER).keysBySku).toEqual([
      { sku: 'app.active_users', keys: ['user_id'] },
      { sku: 'llm.tokens', keys: ['plan', 'region'] },
    ]);
  });
});

describe('aggregateEvents (rule 1 offline)', () => {
  it('keeps one copy per (source, event_id) and only events with period_start <= timestamp < period_end', () => {
    const first = tokens({ event_id: 'a', timestamp: '2026-10-01T00:00:00Z', quantity: '1' });
    const events = [
      first,
      { ...first, quantity: '999' }, // same key: the first copy stays
      tokens({ event_id: 'a', source: 'other-source', timestamp: '2026-10-02T00:00:00Z', quantity: '2' }), // another source: another event
      tokens({ event_id: 'b', timestamp: '2026-09-30T23:59:59.999Z', quantity: '100' }),
      tokens({ event_id: 'c', timestamp: '2026-11-01T00:00:00Z', quantity: '100' }),
      tokens({ event_id: 'd', timestamp: '2026-11-01T01:00:00+01:00', quantity: '100' }), // = period end, in UTC
      tokens({ event_id: 'e', timestamp: '2026-10-31T23:59:59.999999Z', quantity: '4' }),
    ];
    const { aggregates, counters } = aggregateEvents(events, versions, OCTOBER);
    expect(counters).toEqual({ read: 7, duplicates: 1, outside_period: 3 });
    expect(
      aggregates.map((aggregate) => [aggregate.versionEffectiveFrom, aggregate.eventCount, aggregate.quantitySum]),
    ).toEqual([
      [V1, 2, '3'],
      [V2, 1, '4'],
    ]);
  });

  it("puts an event at the instant a version takes effect into that version's segment", () => {
    const { aggregates } = aggregateEvents(
      [
        tokens({ timestamp: '2026-10-15T23:59:59.999999Z', quantity: '1' }),
        tokens({ timestamp: '2026-10-16T00:00:00Z', quantity: '2' }),
        tokens({ timestamp: '2026-10-16T02:00:00+02:00', quantity: '4' }),
      ],
      versions,
      OCTOBER,
    );
    expect(aggregates.map((aggregate) => [aggregate.versionEffectiveFrom, aggregate.quantitySum])).toEqual([
      [V1, '1'],
      [V2, '6'],
    ]);
  });

  it("groups by sku, unit and the sku's grouping keys only, and summarises each group", () => {
    const { aggregates } = aggregateEvents(groupingEvents, versions, OCTOBER);
    expect(aggregates).toEqual([
      {
        versionEffectiveFrom: V2,
        sku: 'app.active_users',
        unit: 'users',
        metadata: { user_id: 'u1' },
        eventCount: 1,
        quantitySum: '1',
        quantityMax: '1',
      },
      // user_id is not a key of llm.tokens: it does not split the group. No price aggregates by latest: no latest event.
      {
        versionEffectiveFrom: V2,
        sku: 'llm.tokens',
        unit: 'tokens',
        metadata: { plan: 'pro', region: 'us-east-1' },
        eventCount: 3,
        quantitySum: '10.5',
        quantityMax: '5.5',
      },
      {
        versionEffectiveFrom: V2,
        sku: 'llm.tokens',
        unit: 'tokens',
        metadata: { region: 'us-east-1' },
        eventCount: 1,
        quantitySum: '1',
        quantityMax: '1',
      },
    ]);
  });

  it('carries the latest event only for the skus a latest price aggregates, a timestamp tie going to the greatest key', () => {
    const withGauge = [
      ...versions,
      buildRateCardVersion({
        effective_from: '2026-10-20T00:00:00.000Z',
        prices: [buildPrice({ id: 'tokens-gauge', aggregation: 'latest', dimensions: { region: 'us-east-1' } })],
      }),
    ];
    const { aggregates } = aggregateEvents(groupingEvents, withGauge, OCTOBER);
    expect(usageAggregationPlan(withGauge, OCTOBER).latestSkus).toEqual(['llm.tokens']);
    const latest = aggregates.map((aggregate) => [
      aggregate.sku,
      aggregate.metadata,
      aggregate.latestTimestamp,
      aggregate.latestQuantity,
      aggregate.latestEventKey,
    ]);
    expect(latest).toEqual([
      ['app.active_users', { user_id: 'u1' }, undefined, undefined, undefined],
      ['llm.tokens', { plan: 'pro', region: 'us-east-1' }, '2026-10-21T00:00:00.000000Z', '2', 's:2'], // 's:2' > 's:10' as text
      ['llm.tokens', { region: 'us-east-1' }, '2026-10-22T00:00:00.000000Z', '1', 's:3'],
    ]);
  });
});
