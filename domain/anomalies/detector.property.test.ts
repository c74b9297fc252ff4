import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CostVersion } from '../../contracts/costs.ts';
import { DailyUsageAggregator, type DailyUsageInput } from './daily-series.ts';
import { detectAnomalies } from './detector.ts';
import { dayNumber } from './utc-days.ts';

const FIRST_DAY = dayNumber('2026-08-03') as number;
const DAY_MS = 86_400_000;

const COSTS: CostVersion = {
  effective_from: '2026-08-01T00:00:00.000Z',
  costs: [
    { sku: 'api.calls', dimensions: {}, unit: 'calls', unit_cost: '0.0003', currency: 'USD' },
    { sku: 'llm.tokens', dimensions: { region: 'eu' }, unit: 'tokens', unit_cost: '0.0000026', currency: 'USD' },
  ],
  content_hash: 'test',
  file: 'costs/2026-08-01.yaml',
};

/** Every customer uses every SKU every day (so series have baselines), plus arbitrary extra events. */
function baseEvents(): DailyUsageInput[] {
  const events: DailyUsageInput[] = [];
  for (let day = 0; day < 60; day += 1)
    for (const customer of ['acme', 'globex'])
      for (const [sku, unit] of [
        ['api.calls', 'calls'],
        ['llm.tokens', 'tokens'],
      ] as const)
        events.push({
          customer_id: customer,
          timestamp: new Date((FIRST_DAY + day) * DAY_MS + 3_600_000).toISOString(),
          unit,
          quantity: String(1000 + ((day * 7919) % 97)),
          metadata: { sku, region: 'eu' },
        });
  return events;
}

const extraEvent = fc.record({
  customer: fc.constantFrom('acme', 'globex', 'initech'),
  sku: fc.constantFrom(['api.calls', 'calls'] as const, ['llm.tokens', 'tokens'] as const),
  day: fc.integer({ min: 0, max: 59 }),
  minute: fc.integer({ min: 0, max: 1439 }),
  offsetHours: fc.integer({ min: -12, max: 14 }),
  quantity: fc
    .tuple(fc.integer({ min: 0, max: 50_000 }), fc.integer({ min: 0, max: 999 }))
    .map(([whole, fraction]) => `${whole}.${String(fraction).padStart(3, '0')}`),
});

function scan(events: readonly DailyUsageInput[]) {
  const aggregator = new DailyUsageAggregator({ versions: [COSTS], currency: 'USD' });
  for (const event of events) aggregator.add(event);
  const range = aggregator.dayRange();
  if (range === undefined) return { series: [], anomalies: [] };
  const series = aggregator.toSeries(range.first, range.last);
  return { series, anomalies: detectAnomalies(series, { fromDay: range.first, toDay: range.last }) };
}

describe('anomaly detection (fast-check)', () => {
  it('is invariant to the order of the input events', () => {
    fc.assert(
      fc.property(fc.array(extraEvent, { maxLength: 60 }), fc.integer(), (extras, seed) => {
        const events = [
          ...baseEvents(),
          ...extras.map((extra): DailyUsageInput => {
            // The same instant written with another UTC offset: bucketed into the same UTC day.
            const instantMs = (FIRST_DAY + extra.day) * DAY_MS + extra.minute * 60_000;
            const local = new Date(instantMs + extra.offsetHours * 3_600_000).toISOString().slice(0, 19);
            const sign = extra.offsetHours < 0 ? '-' : '+';
            const offset = `${sign}${String(Math.abs(extra.offsetHours)).padStart(2, '0')}:00`;
            return {
              customer_id: extra.customer,
              timestamp: `${local}${offset}`,
              unit: extra.sku[1],
              quantity: extra.quantity,
              metadata: { sku: extra.sku[0], region: 'eu' },
            };
          }),
        ];
        const shuffled = shuffle(events, seed);
        const inOrder = scan(events);
        const reordered = scan(shuffled);
        expect(reordered).toEqual(inOrder);
        expect(scan([...events].reverse())).toEqual(inOrder);
      }),
      { numRuns: 60 },
    );
  });
});

/** A seeded Fisher–Yates shuffle (the domain has no randomness; the test brings its own). */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed >>> 0;
  for (let index = copy.length - 1; index > 0; index -= 1) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    const other = state % (index + 1);
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}
