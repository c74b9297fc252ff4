import type { Tier } from '../../../contracts/ratecard.ts';
import { assertNever } from '../../assert-never.ts';
import { Decimal } from '../../money.ts';
import { graduatedCharges } from './graduated.ts';
import { perUnitCharges } from './per-unit.ts';
import type { PriceSlice, TierCharge } from './tier-charge.ts';
import { volumeCharges, volumeFlatFeeSlice } from './volume.ts';

export interface PricedUsage {
  readonly charges: readonly TierCharge[];
  /** Σ charges, unrounded: rule 6 rounds it once, on the line. */
  readonly amount: Decimal;
  /** The unrounded amount each segment priced (for discounts that differ between versions). */
  readonly amountBySegment: ReadonlyMap<number, Decimal>;
}

/**
 * Prices one price id's billable units over the period, slice by slice in time order, each slice
 * by its own version's model and prices (rule 11). A model may change between versions; tier
 * positions stay cumulative because each slice starts at `before`.
 */
export function priceUsage(slices: readonly PriceSlice[], totalBillable: Decimal): PricedUsage {
  const flatFeesCharged = new Set<number>();
  const volumeSlices = slices.flatMap((slice) =>
    slice.price.model === 'volume' ? [{ slice, tiers: slice.price.tiers as readonly Tier[] }] : [],
  );
  const volumeFlatFee = volumeFlatFeeSlice(volumeSlices, totalBillable);
  const charges: TierCharge[] = [];
  for (const slice of slices) {
    const price = slice.price;
    switch (price.model) {
      case 'per_unit':
        charges.push(...perUnitCharges(slice, price));
        break;
      case 'graduated':
        charges.push(...graduatedCharges(slice, price.tiers, flatFeesCharged));
        break;
      case 'volume':
        charges.push(...volumeCharges(slice, price.tiers, totalBillable, slice === volumeFlatFee));
        break;
      default:
        assertNever(price, 'price model');
    }
  }
  let amount = new Decimal(0);
  const amountBySegment = new Map<number, Decimal>();
  for (const charge of charges) {
    amount = amount.plus(charge.amount);
    amountBySegment.set(charge.segment, (amountBySegment.get(charge.segment) ?? new Decimal(0)).plus(charge.amount));
  }
  return { charges, amount, amountBySegment };
}
