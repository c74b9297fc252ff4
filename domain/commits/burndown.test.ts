import { describe, expect, it } from 'vitest';
import { commitBurndown, type CommitBurndownInput } from './burndown.ts';

function input(overrides: Partial<CommitBurndownInput> = {}): CommitBurndownInput {
  return {
    customer_id: 'acme',
    currency: 'USD',
    commit: '1000.00',
    ramp: [],
    closed: [],
    current: { period: '2026-10', usage: '250.00', as_of: '2026-10-11T00:00:00.000Z' },
    prepaid: [],
    prepaid_consumed: [],
    ...overrides,
  };
}

describe('commitBurndown', () => {
  it('the worked example: 250.00 in 10 days of a 31-day month projects 775.00, short of a 1,000.00 commit', () => {
    const result = commitBurndown(input(), '2026-10-11T00:00:00.000Z');
    expect(result.commit).toEqual({
      period: '2026-10',
      amount: '1000.00',
      consumed: '250.00',
      utilization_pct: '25.0',
      burn_per_day: '25.00',
      projected_at_period_end: '775.00',
      reached_on: null,
    });
    expect(result.alerts).toEqual(['commit_shortfall']);
  });

  it('a valuation made after its period ended covers the whole period: the burn is over its days, never more', () => {
    // Read as of October (tally commits --as-of) from a valuation the loop made in December: 620.00 over 31 days.
    const result = commitBurndown(
      input({ current: { period: '2026-10', usage: '620.00', as_of: '2026-12-06T10:00:00.000Z' } }),
      '2026-10-31T00:00:00.000Z',
    );
    expect(result.commit).toMatchObject({
      consumed: '620.00',
      burn_per_day: '20.00',
      projected_at_period_end: '620.00',
      reached_on: null,
    });
    expect(result.alerts).toEqual(['commit_shortfall']);
  });

  it('a faster burn reaches the commit on a day of this period, and no alert', () => {
    // 500.00 in 10 days: 50.00/day, 1,000.00 after 20 days → reached on Oct 21.
    const result = commitBurndown(
      input({ current: { period: '2026-10', usage: '500.00', as_of: '2026-10-11T00:00:00.000Z' } }),
      '2026-10-11T00:00:00.000Z',
    );
    expect(result.commit).toMatchObject({
      reached_on: '2026-10-21',
      projected_at_period_end: '1550.00',
      utilization_pct: '50.0',
    });
    expect(result.alerts).toEqual([]);
  });

  it('prepaid credit: the trailing burn of the last 3 closed periods dates its burndown; early run-out alerts', () => {
    const result = commitBurndown(
      input({
        commit: undefined,
        current: undefined,
        ends_at: '2027-09-30T00:00:00.000Z',
        prepaid: [
          { credit_id: 'prepaid-1', amount: '5000.00', remaining: '1840.00', expires_at: '2027-06-30T00:00:00.000Z' },
        ],
        // Jul 31 + Aug 31 + Sep 30 = 92 days, 920.00 → 10.00/day (June is older than the last three)
        prepaid_consumed: [
          { period: '2026-06', usage: '9999.00' },
          { period: '2026-07', usage: '300.00' },
          { period: '2026-08', usage: '300.00' },
          { period: '2026-09', usage: '320.00' },
        ],
      }),
      '2026-10-01T00:00:00.000Z',
    );
    expect(result.prepaid).toEqual({
      granted: '5000.00',
      remaining: '1840.00',
      consumed: '3160.00',
      burn_per_day: '10.00',
      burndown_on: '2027-04-03', // 1,840.00 / 10.00 = 184 days after Oct 1
      expires_at: '2027-06-30T00:00:00.000Z',
    });
    expect(result.alerts).toEqual(['prepaid_runs_out_early']);
  });

  it('prepaid credit burning slower than its expiry: credit left at expiry (too slow)', () => {
    const result = commitBurndown(
      input({
        commit: undefined,
        current: undefined,
        prepaid: [{ credit_id: 'p', amount: '5000.00', remaining: '4900.00', expires_at: '2026-12-31T00:00:00.000Z' }],
        prepaid_consumed: [{ period: '2026-09', usage: '100.00' }],
      }),
      '2026-10-01T00:00:00.000Z',
    );
    expect(result.alerts).toEqual(['prepaid_left_at_expiry']);
  });

  it('ramp: closed periods against their plan, the current one projected', () => {
    const result = commitBurndown(
      input({
        commit: undefined,
        ramp: [
          { period: '2026-08', usage: '500.00' },
          { period: '2026-09', usage: '1000.00' },
          { period: '2026-10', usage: '600.00' },
        ],
        closed: [
          { period: '2026-08', usage: '480.00' },
          { period: '2026-09', usage: '700.00' },
        ],
      }),
      '2026-10-11T00:00:00.000Z',
    );
    expect(result.ramp).toEqual([
      {
        period: '2026-08',
        planned: '500.00',
        actual: '480.00',
        projected: false,
        variance: '-20.00',
        variance_pct: '-4.0',
      },
      {
        period: '2026-09',
        planned: '1000.00',
        actual: '700.00',
        projected: false,
        variance: '-300.00',
        variance_pct: '-30.0',
      },
      {
        period: '2026-10',
        planned: '600.00',
        actual: '775.00',
        projected: true,
        variance: '175.00',
        variance_pct: '29.2',
      },
    ]);
    expect(result.alerts).toEqual(['ramp_behind', 'ramp_ahead']);
  });
});
