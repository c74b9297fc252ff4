import { describe, expect, it } from 'vitest';
import { computeReadout, recommend, type ArmSummary, type CustomerOutcome, type Effect } from './readout.ts';

function outcome(
  customerId: string,
  arm: 'variant' | 'control',
  baseline: [revenue: string, margin: string] | undefined,
  current: [revenue: string, margin: string] | undefined,
  extra: Partial<Pick<NonNullable<CustomerOutcome['current']>, 'usage' | 'commit'>> = {},
): CustomerOutcome {
  return {
    customerId,
    arm,
    baseline: baseline === undefined ? undefined : { revenue: baseline[0], margin: baseline[1], usage: {} },
    current: current === undefined ? undefined : { revenue: current[0], margin: current[1], usage: {}, ...extra },
  };
}

describe('computeReadout', () => {
  it('compares the cohorts and measures the effect on per-customer changes (worked example)', () => {
    const readout = computeReadout('USD', [
      // variant margin changes +12, +14, +16; revenue changes −8, −10, −12
      outcome('v1', 'variant', ['100.00', '50.00'], ['92.00', '62.00'], {
        usage: { 'llm.tokens': '1000' },
        commit: { amount: '100.00', consumed: '92.00' },
      }),
      outcome('v2', 'variant', ['200.00', '80.00'], ['190.00', '94.00'], { usage: { 'llm.tokens': '3000' } }),
      outcome('v3', 'variant', ['300.00', '90.00'], ['288.00', '106.00'], { usage: { 'llm.tokens': '2000' } }),
      outcome('v4', 'variant', undefined, ['10.00', '5.00']), // new this period: counted, not measured
      // control margin changes +10, +10, +13; revenue changes 0, +1, +2
      outcome('c1', 'control', ['100.00', '50.00'], ['100.00', '60.00'], {
        commit: { amount: '200.00', consumed: '100.00' },
      }),
      outcome('c2', 'control', ['150.00', '70.00'], ['151.00', '80.00']),
      outcome('c3', 'control', ['120.00', '60.00'], ['122.00', '73.00']),
      outcome('c4', 'control', ['120.00', '60.00'], undefined), // churned: no invoice this period
    ]);
    const [variant, control] = readout.arms;
    expect(variant).toMatchObject({
      customers: 4,
      invoiced: 4,
      measured: 3,
      revenue: '580.00',
      margin: '267.00',
      revenuePerCustomer: '145.00',
      usagePerCustomer: { 'llm.tokens': '1500' },
      commitUtilizationPct: '92',
    });
    expect(control).toMatchObject({
      customers: 4,
      invoiced: 3,
      measured: 3,
      revenue: '373.00',
      commitUtilizationPct: '50',
    });
    const margin = readout.effects.find((effect) => effect.metric === 'margin');
    // The Welch worked example: 3 ± 4.27.
    expect(margin).toMatchObject({ effect: '3.00', lower: '-1.27', upper: '7.27', degreesOfFreedom: '3.9' });
    const revenue = readout.effects.find((effect) => effect.metric === 'revenue');
    // variant changes −8, −10, −12 (mean −10, s² 4); control 0, 1, 2 (mean 1, s² 1): −11 ± t(ν=2.94)·1.291
    expect(revenue?.effect).toBe('-11.00');
    expect(revenue?.upper.startsWith('-')).toBe(true);
    expect(readout.recommendation).toBe('extend');
    expect(readout.reason).toContain('includes zero');
  });
});

describe('recommend', () => {
  const arm = (measured: number): ArmSummary => ({
    arm: 'variant',
    customers: measured,
    invoiced: measured,
    measured,
    revenue: '0.00',
    margin: '0.00',
    revenuePerCustomer: null,
    marginPerCustomer: null,
    usagePerCustomer: {},
    commitUtilizationPct: null,
  });
  const effect = (lower: string, upper: string): Effect => ({
    metric: 'margin',
    effect: '0.00',
    lower,
    upper,
    standardError: '1.00',
    degreesOfFreedom: '10',
  });
  it.each([
    [3, '0.01', '5.00', 'promote'],
    [3, '-5.00', '-0.01', 'kill'],
    [3, '-1.00', '1.00', 'extend'],
    [3, '0.00', '1.00', 'extend'],
    [2, '1.00', '5.00', 'extend'],
  ] as const)('with %i measured per cohort and margin interval [%s, %s]: %s', (measured, lower, upper, expected) => {
    expect(recommend([arm(measured), arm(measured)], effect(lower, upper), 'USD').recommendation).toBe(expected);
  });
  it("names the currency of the margin effect and its interval in the reason (a whole one in the currency's minor digits)", () => {
    expect(recommend([arm(3), arm(3)], { ...effect('-5', '-0.01'), effect: '-2.5' }, 'EUR').reason).toBe(
      'margin effect per customer -2.50 EUR, 95 % interval [-5.00 EUR, -0.01 EUR]: wholly below zero',
    );
  });
  it('extends when no interval could be drawn', () => {
    expect(recommend([arm(5), arm(5)], undefined, 'USD').recommendation).toBe('extend');
  });
});
