import type { PerUnitPrice } from '../../../contracts/ratecard.ts';
import { Decimal } from '../../money.ts';
import type { PriceSlice, TierCharge } from './tier-charge.ts';

/**
 * `per_unit` (rule 5): billable × unit_price.
 *
 * @example unit_price "0.002", 2500 billable units → 2500 × 0.002 = 5.000 (the line rounds to 5.00).
 * @example unit_price "0.05" per package of 1000 queries, 12,345 queries, rounding up → 13 packages × 0.05 = 0.65.
 */
export function perUnitCharges(slice: PriceSlice, price: PerUnitPrice): TierCharge[] {
  if (slice.billable.isZero()) return [];
  return [
    {
      segment: slice.segment,
      effectiveFrom: slice.effectiveFrom,
      tier: 1,
      quantity: slice.billable,
      unitPrice: price.unit_price,
      amount: slice.billable.times(new Decimal(price.unit_price)),
    },
  ];
}
