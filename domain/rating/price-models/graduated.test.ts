import { describe, expect, it } from 'vitest';
import { buildPrice, tiers } from '../../../test/builders/rating.ts';
import { graduatedCharges } from './graduated.ts';
import { MID_OCTOBER, rows, slice, total } from './test-slices.ts';

// The spec's tiers: up to 1000 at 0.10, up to 10000 at 0.05, above at 0.01 (up_to is inclusive).
const SPEC_TIERS = tiers(['1000', '0.10'], ['10000', '0.05'], [null, '0.01']);
const price = buildPrice({ model: 'graduated', tiers: SPEC_TIERS });

describe("graduated: units in each tier at that tier's price", () => {
  it.each([
    { units: '0', amount: '0', breakdown: [] },
    { units: '1', amount: '0.1', breakdown: ['tier 1: 1 × 0.10 = 0.1'] },
    { units: '1000', amount: '100', breakdown: ['tier 1: 1000 × 0.10 = 100'] },
    { units: '1001', amount: '100.05', breakdown: ['tier 1: 1000 × 0.10 = 100', 'tier 2: 1 × 0.05 = 0.05'] },
    { units: '10000', amount: '550', breakdown: ['tier 1: 1000 × 0.10 = 100', 'tier 2: 9000 × 0.05 = 450'] },
    {
      units: '10001',
      amount: '550.01',
      breakdown: ['tier 1: 1000 × 0.10 = 100', 'tier 2: 9000 × 0.05 = 450', 'tier 3: 1 × 0.01 = 0.01'],
    },
    {
      units: '15000',
      amount: '600',
      breakdown: ['tier 1: 1000 × 0.10 = 100', 'tier 2: 9000 × 0.05 = 450', 'tier 3: 5000 × 0.01 = 50'],
    },
    // 12 decimals: a hair above the first bound puts 1e-12 units in tier 2.
    {
      units: '1000.000000000001',
      amount: '100.00000000000005',
      breakdown: ['tier 1: 1000 × 0.10 = 100', 'tier 2: 0.000000000001 × 0.05 = 0.00000000000005'],
    },
    {
      units: '0.000000000001',
      amount: '0.0000000000001',
      breakdown: ['tier 1: 0.000000000001 × 0.10 = 0.0000000000001'],
    },
  ])('$units units → $amount', ({ units, amount, breakdown }) => {
    const charges = graduatedCharges(slice(price, units), SPEC_TIERS, new Set());
    expect(rows(charges)).toEqual(breakdown);
    expect(total(charges)).toBe(amount);
  });

  // Flat fees: charged once for each tier with any units.
  const FLAT = tiers(['100', '1', '10'], [null, '0.5', '20']);
  const flatPrice = buildPrice({ model: 'graduated', tiers: FLAT });
  it.each([
    { units: '0', amount: '0' }, // zero units cost nothing, flat fees included
    { units: '1', amount: '11' }, // 1 × 1 + 10
    { units: '100', amount: '110' }, // 100 × 1 + 10; tier 2 has no units
    { units: '101', amount: '130.5' }, // 110 + 1 × 0.5 + 20
  ])('with flat fees: $units units → $amount', ({ units, amount }) => {
    expect(total(graduatedCharges(slice(flatPrice, units), FLAT, new Set()))).toBe(amount);
  });
});

describe('graduated across a mid-period version change (rule 11)', () => {
  // Version 2 cuts the prices to 0.08 / 0.04 / 0.008. 800 units before the change, 700 after:
  // version 1 prices 800 in tier 1; version 2 continues at 800, so tiers do not reset.
  const V2_TIERS = tiers(['1000', '0.08'], ['10000', '0.04'], [null, '0.008']);
  const v2 = buildPrice({ model: 'graduated', tiers: V2_TIERS });

  it('continues the tier position: 800 × 0.10 + 200 × 0.08 + 500 × 0.04 = 116', () => {
    const charged = new Set<number>();
    const charges = [
      ...graduatedCharges(slice(price, '800'), SPEC_TIERS, charged),
      ...graduatedCharges(slice(v2, '700', '800', 1, MID_OCTOBER), V2_TIERS, charged),
    ];
    expect(rows(charges)).toEqual([
      'tier 1: 800 × 0.10 = 80',
      'v2 tier 1: 200 × 0.08 = 16',
      'v2 tier 2: 500 × 0.04 = 20',
    ]);
    expect(total(charges)).toBe('116');
  });

  it("charges a tier's flat fee once, by the version in force when the tier first got units", () => {
    const V1_FLAT = tiers(['100', '1', '10'], [null, '0.5', '20']);
    const V2_FLAT = tiers(['100', '1', '12'], [null, '0.5', '30']);
    const charged = new Set<number>();
    const charges = [
      ...graduatedCharges(slice(buildPrice({ model: 'graduated', tiers: V1_FLAT }), '50'), V1_FLAT, charged),
      ...graduatedCharges(
        slice(buildPrice({ model: 'graduated', tiers: V2_FLAT }), '100', '50', 1, MID_OCTOBER),
        V2_FLAT,
        charged,
      ),
    ];
    // v1: 50 × 1 + 10 (tier 1 entered); v2: 50 × 1 (tier 1 already charged) and 50 × 0.5 + 30 (tier 2 entered in v2).
    expect(rows(charges)).toEqual([
      'tier 1: 50 × 1 + 10 = 60',
      'v2 tier 1: 50 × 1 = 50',
      'v2 tier 2: 50 × 0.5 + 30 = 55',
    ]);
    expect(total(charges)).toBe('165');
  });
});
