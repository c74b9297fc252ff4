import { describe, expect, it } from 'vitest';
import { buildFee, buildPrice, buildRateCardVersion, tiers } from '../../../test/builders/rating.ts';
import { describeRateCardChanges } from './ratecard-changes.ts';

describe('describeRateCardChanges: what a new version changes, in words', () => {
  const before = buildRateCardVersion({
    prices: [
      buildPrice({
        id: 'tokens-us',
        model: 'graduated',
        dimensions: { region: 'us-east-1' },
        tiers: tiers(['1000', '0.010'], [null, '0.005']),
      }),
      buildPrice({ id: 'storage', sku: 'storage.gb', unit: 'GB-month', aggregation: 'max', unit_price: '0.023' }),
      buildPrice({ id: 'old', sku: 'legacy', unit: 'calls', unit_price: '1' }),
    ],
    fees: [buildFee({ amount: '500.00' })],
    discounts: [{ id: 'launch-10', percent: '10', applies_to: ['tokens-us'] }],
  });

  it('is empty for identical versions', () => {
    expect(describeRateCardChanges(before, { ...before })).toEqual([]);
  });

  it('names price, tier, fee and discount changes with old → new', () => {
    const after = buildRateCardVersion({
      effective_from: '2026-10-16T00:00:00.000Z',
      note: 'Mid-October cut',
      prices: [
        buildPrice({
          id: 'tokens-us',
          model: 'graduated',
          dimensions: { region: 'us-east-1' },
          tiers: tiers(['1000', '0.009'], [null, '0.005', '5']),
        }),
        buildPrice({
          id: 'storage',
          sku: 'storage.gb',
          unit: 'GB-month',
          aggregation: 'max',
          model: 'graduated',
          tiers: tiers(['500', '0.02'], [null, '0.01']),
        }),
        buildPrice({
          id: 'jobs',
          sku: 'batch.jobs',
          unit: 'jobs',
          aggregation: 'count',
          package_size: '10',
          package_rounding: 'down',
          unit_price: '0.5',
        }),
      ],
      fees: [buildFee({ amount: '450.00' }), buildFee({ id: 'support', description: 'Support', amount: '99.00' })],
      discounts: [{ id: 'launch-10', percent: '15', applies_to: ['tokens-us', 'storage'] }],
    });
    expect(describeRateCardChanges(before, after).map((change) => `${change.subject}: ${change.text}`)).toEqual([
      'rate card: in force from 2026-10-01T00:00:00.000Z → 2026-10-16T00:00:00.000Z',
      'rate card: note "" → "Mid-October cut"',
      'price tokens-us: tier 1 (up to 1000): unit price 0.01 USD → 0.009 USD',
      'price tokens-us: tier 2 (above 1000): flat fee 0.00 USD → 5.00 USD',
      'price storage: pricing per unit at 0.023 USD → graduated [up to 500 at 0.02 USD; above 500 at 0.01 USD]',
      'price jobs: new: batch.jobs in jobs, number of events, package of 10 jobs (rounded down to whole packages), per unit at 0.50 USD',
      'price old: removed (was: legacy in calls, total quantity of the period, each unit, per unit at 1.00 USD)',
      'fee platform: amount 500.00 USD → 450.00 USD per period',
      'fee support: new: Support: 99.00 USD per period',
      'discount launch-10: 10% → 15%',
      'discount launch-10: applies to tokens-us → storage, tokens-us',
    ]);
  });

  it('describes changed tier bounds as a whole', () => {
    const after = {
      ...before,
      prices: [
        buildPrice({
          id: 'tokens-us',
          model: 'graduated',
          dimensions: { region: 'us-east-1' },
          tiers: tiers(['2000', '0.010'], [null, '0.005']),
        }),
        ...before.prices.slice(1),
      ],
    };
    expect(describeRateCardChanges(before, after).map((change) => change.text)).toEqual([
      'tiers [up to 1000 at 0.01 USD; above 1000 at 0.005 USD] → [up to 2000 at 0.01 USD; above 2000 at 0.005 USD]',
    ]);
  });

  it("shows each side in its own version's currency; a price written differently but worth the same is no change", () => {
    const rewritten = {
      ...before,
      prices: [
        buildPrice({
          id: 'tokens-us',
          model: 'graduated',
          dimensions: { region: 'us-east-1' },
          tiers: tiers(['1000', '0.01'], [null, '0.0050']),
        }),
        ...before.prices.slice(1),
      ],
      fees: [buildFee({ amount: '500' })],
    };
    expect(describeRateCardChanges(before, rewritten)).toEqual([]);
    const inEuro = { ...before, currency: 'EUR', fees: [buildFee({ amount: '480' })] };
    expect(describeRateCardChanges(before, inEuro).map((change) => change.text)).toEqual([
      'currency USD → EUR',
      // The same figures in another currency are other prices; a zero flat fee is zero in any.
      'tier 1 (up to 1000): unit price 0.01 USD → 0.01 EUR',
      'tier 2 (above 1000): unit price 0.005 USD → 0.005 EUR',
      'unit price 0.023 USD → 0.023 EUR',
      'unit price 1.00 USD → 1.00 EUR',
      'amount 500.00 USD → 480.00 EUR per period',
    ]);
  });
});
