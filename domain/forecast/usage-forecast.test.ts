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
