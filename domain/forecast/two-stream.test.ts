import { describe, expect, it } from 'vitest';
import { Decimal } from '../money.ts';
import { twoStreamForecast } from './two-stream.ts';

/** 84 days of a weekly pattern: weekdays `weekday`, weekends `weekend`. */
function weekly(weekday: number, weekend: number): string[] {
  return Array.from({ length: 84 }, (_, index) => String(index % 7 >= 5 ? weekend : weekday));
}

describe('twoStreamForecast', () => {
  it('splits fixed and variable streams by calendar month, with commit shortfalls, concentration and a backtest', () => {
    // History ends 2026-12-06 (a Sunday); day 0 of the history is 2026-09-14, a Monday.
    const forecast = twoStreamForecast({
      currency: 'USD',
      first_day: '2026-12-07',
      horizon_days: 30,
      customers: [
        { customer_id: 'big', cohort: '2026-09', monthly_fees: '310.00' },
        // 10.00 a weekday, nothing on weekends: ≈ 7.14/day, far under a 1,000.00 commit.
        { customer_id: 'small', cohort: '2026-09', monthly_fees: '0', commit: '1000.00' },
      ],
      usage_history: new Map([
        ['big', weekly(100, 40)],
        ['small', weekly(10, 0)],
      ]),
    });
    expect(forecast.periods.map((period) => [period.period, period.days])).toEqual([
      ['2026-12', 25],
      ['2027-01', 5],
    ]);
    const [december] = forecast.periods;
    // December 7-31: 19 weekdays × 110 + 6 weekend days × 40 = 2,330.00 of usage, exactly (a clean pattern).
    expect(december?.variable).toEqual({ p10: '2330.00', p50: '2330.00', p90: '2330.00' });
    // Fees 310.00 × 25/31 = 250.00; small's commit 1,000.00 × 25/31 = 806.45… less its ≈ 178.57 of usage.
    expect(december?.fixed).toBe('877.88');
    expect(december?.total.p50).toBe('3207.88');
    expect(forecast.concentration).toMatchObject({ accounts: 2, top1: expect.any(String) });
    expect(new Decimal(forecast.concentration.top1).greaterThan(90)).toBe(true);
    expect(forecast.concentration.top10).toBe('100.0');
    expect(forecast.backtest).toEqual({
      held_out_days: 28,
      wape: '0.0',
      straight_line_wape: expect.any(String),
      coverage: '100.0',
    });
  });
});
