import { describe, expect, it } from 'vitest';
import { buildPrice, tiers } from '../../../test/builders/rating.ts';
import { Decimal } from '../../money.ts';
import { MID_OCTOBER, rows, slice, total } from './test-slices.ts';
import { volumeCharges, volumeFlatFeeSlice, volumeTierIndex } from './volume.ts';

// Up to 100 jobs at 0.50; up to 1000 at 0.40 plus a flat 10; above at 0.30 plus a flat 25.
const JOBS = tiers(['100', '0.50'], ['1000', '0.40', '10'], [null, '0.30', '25']);
const price = buildPrice({ model: 'volume', tiers: JOBS });

describe('volume: all units at the price of the tier the total reaches', () => {
  it.each([
    { units: '0', amount: '0', breakdown: [] },
    { units: '1', amount: '0.5', breakdown: ['tier 1: 1 × 0.50 = 0.5'] },
    { units: '100', amount: '50', breakdown: ['tier 1: 100 × 0.50 = 50'] }, // exactly at up_to: still tier 1
    { units: '101', amount: '50.4', breakdown: ['tier 2: 101 × 0.40 + 10 = 50.4'] },
    { units: '1000', amount: '410', breakdown: ['tier 2: 1000 × 0.40 + 10 = 410'] },
    { units: '1001', amount: '325.3', breakdown: ['tier 3: 1001 × 0.30 + 25 = 325.3'] },
    {
      units: '100.000000000001',
      amount: '50.0000000000004',
      breakdown: ['tier 2: 100.000000000001 × 0.40 + 10 = 50.0000000000004'],
    },
  ])('$units units → $amount', ({ units, amount, breakdown }) => {
    const charges = volumeCharges(slice(price, units), JOBS, new Decimal(units), true);
    expect(rows(charges)).toEqual(breakdown);
    expect(total(charges)).toBe(amount);
  });

  it.each([
    ['0', -1],
    ['0.5', 0],
    ['100', 0],
    ['100.000000000001', 1],
    ['1000', 1],
    ['1000000000', 2],
  ] as const)('the tier containing %s is index %i', (units, index) => {
    expect(volumeTierIndex(JOBS, new Decimal(units))).toBe(index);
  });
});

describe('volume across a mid-period version change (rule 11)', () => {
  // Version 2: 0.45 / 0.35 / 0.25, same bounds and flat fees. 600 jobs before, 500 after: the total
  // 1100 is tier 3 in both; each version prices its own jobs; the flat fee comes from version 2,
  // where usage passed 1000.
  const V2 = tiers(['100', '0.45'], ['1000', '0.35', '10'], [null, '0.25', '25']);
  const v2 = buildPrice({ model: 'volume', tiers: V2 });

  it('600 × 0.30 + 500 × 0.25 + 25 = 330', () => {
    const first = slice(price, '600');
    const second = slice(v2, '500', '600', 1, MID_OCTOBER);
    const totalUnits = new Decimal(1100);
    const flatFeeSlice = volumeFlatFeeSlice(
      [
        { slice: first, tiers: JOBS },
        { slice: second, tiers: V2 },
      ],
      totalUnits,
    );
    expect(flatFeeSlice).toBe(second);
    const charges = [
      ...volumeCharges(first, JOBS, totalUnits, flatFeeSlice === first),
      ...volumeCharges(second, V2, totalUnits, flatFeeSlice === second),
    ];
    expect(rows(charges)).toEqual(['tier 3: 600 × 0.30 = 180', 'v2 tier 3: 500 × 0.25 + 25 = 150']);
    expect(total(charges)).toBe('330');
  });

  it('charges the flat fee in the first version when usage already reached the tier there', () => {
    const first = slice(price, '1200');
    const second = slice(v2, '300', '1200', 1, MID_OCTOBER);
    expect(
      volumeFlatFeeSlice(
        [
          { slice: first, tiers: JOBS },
          { slice: second, tiers: V2 },
        ],
        new Decimal(1500),
      ),
    ).toBe(first);
  });

  it('charges no flat fee when no slice has units', () => {
    expect(volumeFlatFeeSlice([{ slice: slice(price, '0'), tiers: JOBS }], new Decimal(0))).toBeUndefined();
  });
});
