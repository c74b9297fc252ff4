import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../config/paths.ts';
import { loadCostVersions } from '../../config/cost-files.ts';
import { verifySignature } from '../../contracts/event-signature.ts';
import { UsageEventSchema } from '../../contracts/usage-event.ts';
import { DailyUsageAggregator } from '../../domain/anomalies/daily-series.ts';
import { anomalyKind, detectAnomalies } from '../../domain/anomalies/detector.ts';
import { dayNumber } from '../../domain/anomalies/utc-days.ts';
import { TEST_SOURCE_KEYS } from '../../test/builders/usage-event.ts';
import { demoCustomers } from './sample-customers.ts';
import { generateHistoryEvents } from './sample-history.ts';
import { generateUsageEvents } from './sample-usage.ts';

const spike = { customerId: 'acme', sku: 'llm.tokens', day: '2026-09-30', factor: 6 } as const;
const options = {
  customers: demoCustomers(20),
  from: '2026-07-01',
  to: '2026-09-30',
  seed: 1,
  scale: 2,
  spike,
  keys: TEST_SOURCE_KEYS,
};

/** The daily run's detector over the history, as `detectDayAnomalies` runs it for each of `days`. */
async function detect(events: ReturnType<typeof generateHistoryEvents>, days: readonly string[]) {
  const costs = { versions: await loadCostVersions(path.join(repositoryRoot, 'costs')), currency: 'USD' };
  const aggregator = new DailyUsageAggregator(costs);
  for (const event of events) aggregator.add(event);
  const numbers = days.map((day) => dayNumber(day) as number);
  const series = aggregator.toSeries((dayNumber(options.from) as number) - 56, Math.max(...numbers));
  return detectAnomalies(series, { fromDay: Math.min(...numbers), toDay: Math.max(...numbers) });
}

describe('the history before the billed month', () => {
  it('is deterministic, signed, valid and inside its days', () => {
    const events = generateHistoryEvents(options);
    expect(JSON.stringify(events)).toBe(JSON.stringify(generateHistoryEvents(options)));
    expect(new Set(events.map((event) => event.customer_id)).size).toBe(20);
    for (const event of events) {
      expect(UsageEventSchema.safeParse(event).success).toBe(true);
      expect(verifySignature(event, TEST_SOURCE_KEYS[event.source as keyof typeof TEST_SOURCE_KEYS])).toBe(true);
      expect(event.timestamp >= '2026-07-01T00:00:00.000Z' && event.timestamp < '2026-10-01T00:00:00.000Z').toBe(true);
    }
    const keys = events.map((event) => `${event.source}:${event.event_id}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('has busy weekdays and quiet weekends at about the monthly sample’s level', () => {
    const tokensOn = (day: string): number =>
      generateHistoryEvents({ ...options, spike: undefined, customers: demoCustomers(6) })
        .filter((event) => event.metadata.sku === 'llm.tokens' && event.timestamp.startsWith(day))
        .reduce((sum, event) => sum + Number(event.quantity), 0);
    // 2026-09-15 is a Tuesday, 2026-09-13 a Sunday.
    expect(tokensOn('2026-09-15')).toBeGreaterThan(2 * tokensOn('2026-09-13'));
    const history = generateHistoryEvents({ ...options, spike: undefined, customers: demoCustomers(6) })
      .filter((event) => event.metadata.sku === 'llm.tokens')
      .reduce((sum, event) => sum + Number(event.quantity), 0);
    const october = generateUsageEvents({
      customers: demoCustomers(6),
      period: '2026-10',
      seed: 1,
      scale: 2,
      keys: TEST_SOURCE_KEYS,
    })
      .filter((event) => event.metadata.sku === 'llm.tokens')
      .reduce((sum, event) => sum + Number(event.quantity), 0);
    // 92 days of history against 31 of October: within a tenth of each other per day.
    expect(Math.abs(history / 92 / (october / 31) - 1)).toBeLessThan(0.1);
  });

  it.each([0.5, 1, 2])(
    'at scale %s the daily detector finds the injected spike and nothing else on the scored days',
    async (scale) => {
      const anomalies = await detect(generateHistoryEvents({ ...options, scale }), ['2026-09-29', '2026-09-30']);
      expect(anomalies.map((anomaly) => [anomaly.customer_id, anomaly.sku, anomaly.day, anomalyKind(anomaly)])).toEqual(
        [['acme', 'llm.tokens', '2026-09-30', 'spike']],
      );
      expect(anomalies[0]?.severity).toBe('high');
    },
  );

  it('without the spike, the scored days are quiet', async () => {
    expect(await detect(generateHistoryEvents({ ...options, spike: undefined }), ['2026-09-29', '2026-09-30'])).toEqual(
      [],
    );
  });
});
