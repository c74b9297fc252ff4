import { describe, expect, it } from 'vitest';
import { Decimal, formatMoney } from '../money.ts';
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

describe('twoStreamForecast with early-warning signals', () => {
  const base = {
    currency: 'USD',
    first_day: '2026-12-07',
    horizon_days: 25,
    usage_history: new Map([
      ['down', weekly(100, 40)],
      ['up', weekly(10, 10)],
    ]),
  };
  it('a contraction risk lowers p10 and an expansion raises p90 by a quarter of the account at stake; p50 stays', () => {
    const plain = twoStreamForecast({
      ...base,
      customers: [
        { customer_id: 'down', cohort: '2026-09', monthly_fees: '0' },
        { customer_id: 'up', cohort: '2026-09', monthly_fees: '0' },
      ],
    });
    const flagged = twoStreamForecast({
      ...base,
      customers: [
        { customer_id: 'down', cohort: '2026-09', monthly_fees: '0', outlook: 'contraction' },
        { customer_id: 'up', cohort: '2026-09', monthly_fees: '0', outlook: 'expansion' },
      ],
    });
    const [before] = plain.periods;
    const [after] = flagged.periods;
    expect(before?.signal_effect).toEqual({ p10: '0.00', p90: '0.00', accounts: 0 });
    // down: (20 × 100 + 8 × 40) / 28 = 82.857…/day × 25 days × 0.25 = 517.86; up: 10/day × 25 × 0.25 = 62.50.
    expect(after?.signal_effect).toEqual({ p10: '-517.86', p90: '62.50', accounts: 2 });
    expect(after?.variable.p50).toBe(before?.variable.p50);
    expect(after?.variable.p10).toBe(formatMoney(new Decimal(before?.variable.p10 ?? '0').minus('517.86'), 'USD'));
    expect(formatMoney(new Decimal(after?.variable.p90 ?? '0').minus(before?.variable.p90 ?? '0'), 'USD')).toBe(
      '62.50',
    );
    // The backtest judges p50 and the model's own band: signals do not change it.
    expect(flagged.backtest).toEqual(plain.backtest);
  });
});
