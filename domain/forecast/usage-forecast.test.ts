import { describe, expect, it } from 'vitest';
import { seededRandom } from '../anomalies/generated-series.ts';
import { backtestForecast, forecastDaily } from './usage-forecast.ts';

/** A cohort's daily usage revenue: weekday 1.0, weekend 0.45, a ramp of `trend` a day, noise of `noise`. */
function cohort(options: { days: number; seed: number; trend: number; noise: number; base?: number }): number[] {
  const random = seededRandom(options.seed);
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: options.days }, (_, index) => {
    const weekday = index % 7;
    const seasonal = weekday >= 5 ? 0.45 : 1;
    return Math.max(
      0,
      (options.base ?? 5000) * Math.pow(1 + options.trend, index) * seasonal * (1 + options.noise * normal()),
    );
  });
}

describe('forecastDaily', () => {
  it('repeats a clean weekly pattern exactly, with a zero-width band', () => {
    const history = Array.from({ length: 84 }, (_, index) => (index % 7 >= 5 ? 300 : 1000));
    const forecast = forecastDaily(history, 14);
    expect(forecast.map((day) => Math.round(day.p50))).toEqual([
      1000, 1000, 1000, 1000, 1000, 300, 300, 1000, 1000, 1000, 1000, 1000, 300, 300,
    ]);
    expect(forecast.every((day) => Math.abs(day.p90 - day.p10) < 1e-6)).toBe(true);
  });

  it('follows a ramp: 1 % a day grows the forecast ≈ 7 % a week', () => {
    const history = Array.from({ length: 84 }, (_, index) => 1000 * Math.pow(1.01, index));
    const [first, , , , , , , eighth] = forecastDaily(history, 8);
    expect((eighth?.p50 ?? 0) / (first?.p50 ?? 1)).toBeCloseTo(Math.pow(1.01, 7), 2);
    expect(first?.p50).toBeCloseTo(1000 * Math.pow(1.01, 84), -1);
  });

  it('a short history gives its mean, flat, with no band', () => {
    expect(forecastDaily([10, 20, 30], 2)).toEqual([
      { day: 1, p10: 20, p50: 20, p90: 20 },
      { day: 2, p10: 20, p50: 20, p90: 20 },
    ]);
  });
});

describe('the forecast backtest (issue 19 bar)', () => {
  it.each([
    { name: 'growing 0.5 % a day, 8 % noise', seed: 1, trend: 0.005, noise: 0.08 },
    { name: 'flat, 12 % noise', seed: 2, trend: 0, noise: 0.12 },
    { name: 'shrinking 0.3 % a day, 5 % noise', seed: 3, trend: -0.003, noise: 0.05 },
    { name: 'growing 1 % a day, 10 % noise', seed: 4, trend: 0.01, noise: 0.1 },
  ])(
    '$name: p10–p90 covers 70–90 % of the held-out days and p50 beats a straight line on WAPE',
    ({ seed, trend, noise }) => {
      // Coverage is a rate: measured over 20 cohorts of the kind (28 held-out days each).
      let inside = 0;
      let days = 0;
      let wape = 0;
      let lineWape = 0;
      for (let index = 0; index < 20; index += 1) {
        const result = backtestForecast(cohort({ days: 140, seed: seed * 100 + index, trend, noise }));
        inside += result.coverage * result.heldOutDays;
        days += result.heldOutDays;
        wape += result.wape;
        lineWape += result.straightLineWape;
      }
      const coverage = inside / days;
      expect(coverage).toBeGreaterThanOrEqual(0.7);
      expect(coverage).toBeLessThanOrEqual(0.9);
      expect(wape).toBeLessThan(lineWape);
    },
  );
});

/**
 * A cohort shaped like the demo's history (demo/samples/sample-history.ts, docs/decisions/demo.md):
 * `customers` accounts of mixed sizes, each with metered usage in working weeks (weekdays about twice a
 * weekend day) and uniform noise of ±`noise` per meter, growing `trend` a day, plus a storage gauge
 * growing by a fixed amount a day (no weekly pattern: linear, not exponential). Summed over the
 * cohort, the noise nearly cancels: a smooth, low-noise series whose error is mostly the model's.
 */
function workingWeekCohort(options: {
  days: number;
  seed: number;
  customers: number;
  noise: number;
  trend: number;
  /** Storage's value a GB-day (0: no storage). */
  storage: number;
}): number[] {
  const random = seededRandom(options.seed);
  const shape = [1.1, 1.15, 1.15, 1.1, 1.0, 0.55, 0.45];
  const accounts = Array.from({ length: options.customers }, () => {
    const size = [1, 4, 12][Math.floor(random() * 3)] ?? 1;
    return { size, gigabytes: 20 * size + random() * 50 };
  });
  return Array.from({ length: options.days }, (_, day) => {
    const weekday = shape[day % 7] ?? 1;
    let total = 0;
    for (const account of accounts) {
      // Three metered SKUs with noise, one counted SKU without (as the demo's jobs and logins).
      for (let meter = 0; meter < 3; meter += 1)
        total +=
          10 * account.size * weekday * Math.pow(1 + options.trend, day) * (1 + 2 * options.noise * (random() - 0.5));
      total += Math.round(2 * account.size * weekday);
      // Storage: a gauge valued each day, about a GB more every day.
      total += options.storage * (account.gigabytes + day);
    }
    return total;
  });
}

describe('the forecast backtest on smooth, low-noise working weeks (the demo’s history)', () => {
  it.each([
    { name: 'the demo’s: flat usage, ±8 % a meter, storage growing', seed: 11, trend: 0, noise: 0.08, storage: 1 },
    {
      name: 'usage growing 0.5 % a day, ±4 % a meter, storage growing',
      seed: 12,
      trend: 0.005,
      noise: 0.04,
      storage: 1,
    },
    { name: 'flat usage, ±8 % a meter, no storage', seed: 13, trend: 0, noise: 0.08, storage: 0 },
    {
      name: 'usage shrinking 0.3 % a day, ±8 % a meter, storage growing',
      seed: 14,
      trend: -0.003,
      noise: 0.08,
      storage: 1,
    },
  ])(
    '$name: p10–p90 covers 65–92 % of the held-out days and p50 beats a straight line on WAPE',
    ({ seed, trend, noise, storage }) => {
      let inside = 0;
      let days = 0;
      let wape = 0;
      let lineWape = 0;
      for (let index = 0; index < 20; index += 1) {
        // Thirteen weeks, as the demo sends: 64 days to learn from, 28 held out.
        const history = workingWeekCohort({ days: 92, seed: seed * 100 + index, customers: 10, noise, trend, storage });
        const result = backtestForecast(history);
        inside += result.coverage * result.heldOutDays;
        days += result.heldOutDays;
        wape += result.wape;
        lineWape += result.straightLineWape;
      }
      const coverage = inside / days;
      expect(coverage).toBeGreaterThanOrEqual(0.65);
      expect(coverage).toBeLessThanOrEqual(0.92);
      expect(wape).toBeLessThan(lineWape);
    },
  );
});
