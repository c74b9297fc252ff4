import { describe, expect, it } from 'vitest';
import type { PerUnitPrice } from '../../../contracts/ratecard.ts';
import { buildPrice } from '../../../test/builders/rating.ts';
import { perUnitCharges } from './per-unit.ts';
import { rows, slice, total } from './test-slices.ts';

describe('per_unit: billable × unit_price', () => {
  it.each([
    { unitPrice: '0.002', units: '0', amount: '0', breakdown: [] },
    { unitPrice: '0.002', units: '2500', amount: '5', breakdown: ['tier 1: 2500 × 0.002 = 5'] },
    { unitPrice: '0.05', units: '13', amount: '0.65', breakdown: ['tier 1: 13 × 0.05 = 0.65'] }, // 13 packages of 1000 queries
    { unitPrice: '0.023', units: '180.25', amount: '4.14575', breakdown: ['tier 1: 180.25 × 0.023 = 4.14575'] }, // full precision; the line rounds
    {
      unitPrice: '0.002',
      units: '0.000000000001',
      amount: '0.000000000000002',
      breakdown: ['tier 1: 0.000000000001 × 0.002 = 0.000000000000002'],
    },
    {
      unitPrice: '0.000000000001',
      units: '99999999999999999999.999999999999',
      amount: '99999999.999999999999999999999999',
      breakdown: ['tier 1: 99999999999999999999.999999999999 × 0.000000000001 = 99999999.999999999999999999999999'],
    },
  ])('$units × $unitPrice = $amount', ({ unitPrice, units, amount, breakdown }) => {
    const price = buildPrice({ model: 'per_unit', unit_price: unitPrice }) as PerUnitPrice;
    const charges = perUnitCharges(slice(price, units), price);
    expect(rows(charges)).toEqual(breakdown);
    expect(total(charges)).toBe(amount);
  });
});
