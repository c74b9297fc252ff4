import { describe, expect, it } from 'vitest';
import { anomalyKind, BASELINE_DAYS, detectAnomalies } from './detector.ts';
import { generateUsage } from './generated-series.ts';
import { dayNumber, dayText } from './utc-days.ts';
import type { DailySeries } from './daily-series.ts';

const FIRST_DAY = dayNumber('2026-08-03') as number; // a Monday

function series(values: readonly number[], overrides: Partial<DailySeries> = {}): DailySeries {
  return {
    customer_id: 'acme',
    sku: 'api.calls',
    metric: 'usage',
    first_day: FIRST_DAY,
    values: values.map((value) => String(value)),
    ...overrides,
  };
}

/** Weekdays `weekday`, Saturdays and Sundays `weekend`, for `days` days from FIRST_DAY. */
function weekly(days: number, weekday: number, weekend: number): number[] {
  return Array.from({ length: days }, (_, index) => (index % 7 >= 5 ? weekend : weekday));
}

const all = { fromDay: FIRST_DAY, toDay: FIRST_DAY + 365 };

describe('detectAnomalies', () => {
  it('finds nothing in a steady customer, exact or wobbling by 2 %', () => {
    const wobble = Array.from({ length: 70 }, (_, index) => 1000 + ((index * 37) % 41) - 20);
    expect(detectAnomalies([series(Array(70).fill(500)), series(wobble, { customer_id: 'wobbly' })], all)).toEqual([]);
  });

  it('an ordinary weekend dip is not an anomaly; the same dip on a Wednesday is', () => {
    const values = weekly(70, 1000, 150);
    expect(detectAnomalies([series(values)], all)).toEqual([]);
    values[58] = 150; // day 58 is a Wednesday (FIRST_DAY + 58)
    const found = detectAnomalies([series(values)], all);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ day: dayText(FIRST_DAY + 58), value: '150', expected: '1000', severity: 'high' });
    expect(anomalyKind(found[0] as never)).toBe('drop');
  });

  it('reports a spike with expected, lower, upper and score, in the SPEC §10 shape', () => {
    const values = weekly(60, 1000, 1000);
    values[45] = 3000;
    const [spike, ...rest] = detectAnomalies([series(values)], all);
    expect(rest).toEqual([]);
    expect(spike).toEqual({
      customer_id: 'acme',
      sku: 'api.calls',
      day: dayText(FIRST_DAY + 45),
      metric: 'usage',
      value: '3000',
      expected: '1000',
      // σ is the 5 % floor: 1000 × e^(∓4 × 0.05); score ln(3) / 0.05.
      lower: '818.731',
      upper: '1221.4',
      score: 21.97,
      severity: 'high',
    });
    expect(anomalyKind(spike as never)).toBe('spike');
  });

  it('a meter gone silent is an anomaly even when its noise puts lower at 0', () => {
    const values: number[] = Array.from({ length: 50 }, (_, index) => (index % 2 === 0 ? 10 : 90));
    values[40] = 0;
    const found = detectAnomalies([series(values)], all);
    expect(found.map((anomaly) => [anomaly.day, anomaly.severity, anomalyKind(anomaly)])).toEqual([
      [dayText(FIRST_DAY + 40), 'high', 'silence'],
    ]);
  });

  it('a customer idle on weekends is not silent on Saturday', () => {
    expect(detectAnomalies([series(weekly(70, 400, 0))], all)).toEqual([]);
  });

  it('scores a series only once it has 28 days of baseline after its first usage', () => {
    const values = [...Array(10).fill(0), ...Array(BASELINE_DAYS).fill(100), 900];
    expect(detectAnomalies([series(values)], all)).toHaveLength(1);
    const early = [...Array(10).fill(0), ...Array(BASELINE_DAYS - 1).fill(100), 900];
    expect(detectAnomalies([series(early)], all)).toEqual([]);
  });

  it('scores only the days in range; days before it are baseline', () => {
    const values = weekly(60, 1000, 1000);
    values[40] = 5000;
    values[50] = 5000;
    const found = detectAnomalies([series(values)], { fromDay: FIRST_DAY + 45, toDay: FIRST_DAY + 59 });
    expect(found.map((anomaly) => anomaly.day)).toEqual([dayText(FIRST_DAY + 50)]);
  });

  it('follows a ramp: steady growth of 1 % a day is not an anomaly', () => {
    const values = Array.from({ length: 90 }, (_, index) => Math.round(1000 * Math.pow(1.01, index)));
    expect(detectAnomalies([series(values)], all)).toEqual([]);
  });

  it('one spike in the baseline does not hide the next, a week later on the same weekday', () => {
    const values = weekly(70, 1000, 1000);
    values[40] = 4000;
    values[47] = 4000;
    values[51] = 4000;
    expect(
      detectAnomalies([series(values)], { fromDay: FIRST_DAY, toDay: FIRST_DAY + 53 }).map((anomaly) => anomaly.day),
    ).toEqual([dayText(FIRST_DAY + 40), dayText(FIRST_DAY + 47), dayText(FIRST_DAY + 51)]);
  });
});

describe('detector quality on generated series (issue 19 bar)', () => {
  it('finds every injected spike, drop and silence', () => {
    const { series: generated, injected } = generateUsage({ customers: 300, days: 90, seed: 19, inject: true });
    expect(injected.length).toBe(900);
    const found = new Set(
      detectAnomalies(generated, { fromDay: FIRST_DAY, toDay: FIRST_DAY + 89 }).map(
        (anomaly) => `${anomaly.customer_id}|${anomaly.day}`,
      ),
    );
    const missed = injected.filter((one) => !found.has(`${one.customer_id}|${dayText(FIRST_DAY + one.dayIndex)}`));
    expect(missed).toEqual([]);
  });

  it('at most one false positive per 100 customer-days on clean series (steady, weekend dips, noisy ramps)', () => {
    const { series: generated } = generateUsage({ customers: 1000, days: 90, seed: 7, inject: false });
    const found = detectAnomalies(generated, { fromDay: FIRST_DAY, toDay: FIRST_DAY + 89 });
    const scoredDays = 1000 * (90 - BASELINE_DAYS);
    expect(found.length / scoredDays).toBeLessThanOrEqual(0.01);
  });
});
