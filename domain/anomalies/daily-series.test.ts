import { describe, expect, it } from 'vitest';
import type { CostVersion } from '../../contracts/costs.ts';
import { DailyUsageAggregator } from './daily-series.ts';
import { dayNumber } from './utc-days.ts';

const COSTS: CostVersion[] = [
  {
    effective_from: '2026-10-01T00:00:00.000Z',
    costs: [
      { sku: 'llm.tokens', dimensions: {}, unit: 'tokens', unit_cost: '0.000002', currency: 'USD' },
      { sku: 'llm.tokens', dimensions: { region: 'eu' }, unit: 'tokens', unit_cost: '0.000003', currency: 'USD' },
    ],
    content_hash: 'a',
    file: 'costs/2026-10-01.yaml',
  },
  {
    effective_from: '2026-10-02T00:00:00.000Z',
    costs: [{ sku: 'llm.tokens', dimensions: {}, unit: 'tokens', unit_cost: '0.000001', currency: 'USD' }],
    content_hash: 'b',
    file: 'costs/2026-10-02.yaml',
  },
];

const event = (timestamp: string, quantity: string, metadata: Record<string, string>) => ({
  customer_id: 'acme',
  timestamp,
  unit: 'tokens',
  quantity,
  metadata,
});

describe('DailyUsageAggregator', () => {
  it('sums exact decimals per UTC day (offsets converted) and prices COGS with the version in force', () => {
    const aggregator = new DailyUsageAggregator({ versions: COSTS, currency: 'USD' });
    aggregator.add(event('2026-10-01T10:00:00Z', '0.1', { sku: 'llm.tokens' }));
    aggregator.add(event('2026-10-01T11:00:00Z', '0.2', { sku: 'llm.tokens' }));
    aggregator.add(event('2026-10-01T23:30:00-02:00', '1000000', { sku: 'llm.tokens', region: 'eu' })); // Oct 2 UTC
    aggregator.add(event('2026-09-30T12:00:00Z', '5', { sku: 'llm.tokens' })); // before the first cost version
    const range = aggregator.dayRange();
    expect(range).toEqual({ first: dayNumber('2026-09-30'), last: dayNumber('2026-10-02') });
    const series = aggregator.toSeries(range?.first ?? 0, range?.last ?? 0);
    expect(series.map((one) => [one.metric, one.customer_id, one.sku, one.values])).toEqual([
      ['cogs', null, 'llm.tokens', ['0', '0.0000006', '1']],
      ['usage', 'acme', 'llm.tokens', ['5', '0.3', '1000000']],
    ]);
    expect(aggregator.uncostedEvents).toBe(1);
  });

  it('without costs there is no COGS series; events without a sku are not usage of any SKU', () => {
    const aggregator = new DailyUsageAggregator();
    aggregator.add(event('2026-10-01T10:00:00Z', '3', { sku: 'llm.tokens' }));
    aggregator.add(event('2026-10-01T10:00:00Z', '3', {}));
    expect(aggregator.toSeries(dayNumber('2026-10-01') ?? 0, dayNumber('2026-10-01') ?? 0)).toEqual([
      { customer_id: 'acme', sku: 'llm.tokens', metric: 'usage', first_day: dayNumber('2026-10-01'), values: ['3'] },
    ]);
  });
});
