import type { Tier } from '../../../contracts/ratecard.ts';
import { Decimal } from '../../money.ts';
import type { PriceSlice, TierCharge } from './tier-charge.ts';

/**
 * `volume` (rule 5): all billable units at the price of the tier that contains the period total
 * (bounds inclusive), plus that tier's `flat_fee`. Zero units cost nothing.
 *
 * Rule 11: the tier comes from the whole-period total (under each version's own bounds) and each
 * slice's units are priced at its own version; the flat fee is charged once, by the version in
 * force when the period's usage entered that tier (see volumeFlatFeeSlice).
 *
 * @example tiers [≤100 at 0.50, ≤1000 at 0.40 + flat 10, above at 0.30 + flat 25], 1000 jobs →
 *   tier 2 (1000 is inclusive): 1000 × 0.40 + 10 = 410; 1001 jobs → tier 3: 1001 × 0.30 + 25 = 325.30.
 * @example the same tiers, version 2 from mid-period at 0.45 / 0.35 / 0.25 (same flat fees), 600 jobs before and
 *   500 after → total 1100 is tier 3 in both: 600 × 0.30 + 500 × 0.25 = 305, + flat 25 from version 2
 *   (usage passed 1000 there) → 330.
 */
export function volumeCharges(
  slice: PriceSlice,
  tiers: readonly Tier[],
  total: Decimal,
  chargeFlatFee: boolean,
): TierCharge[] {
  if (slice.billable.isZero()) return [];
  const index = volumeTierIndex(tiers, total);
  const tier = tiers[index];
  if (tier === undefined) return [];
  const flatFee = new Decimal(tier.flat_fee);
  const withFlatFee = chargeFlatFee && !flatFee.isZero();
  const units = slice.billable.times(new Decimal(tier.unit_price));
  return [
    {
      segment: slice.segment,
      effectiveFrom: slice.effectiveFrom,
      tier: index + 1,
      quantity: slice.billable,
      unitPrice: tier.unit_price,
      ...(withFlatFee ? { flatFee } : {}),
      amount: withFlatFee ? units.plus(flatFee) : units,
    },
  ];
}

/** The 0-based index of the tier whose range (previous up_to, up_to] contains `total`; -1 for zero. */
export function volumeTierIndex(tiers: readonly Tier[], total: Decimal): number {
  if (total.lte(0)) return -1;
  const index = tiers.findIndex((tier) => tier.up_to === null || total.lte(new Decimal(tier.up_to)));
  return index;
}

/**
 * Which of a price's volume slices charges the tier's flat fee: the first slice with units after
 * which the cumulative usage lies above the lower bound of the tier containing the total (under
 * that slice's version). The last slice with units always qualifies, so one slice always does.
 */
export function volumeFlatFeeSlice(
  slices: readonly { slice: PriceSlice; tiers: readonly Tier[] }[],
  total: Decimal,
): PriceSlice | undefined {
  let last: PriceSlice | undefined;
  for (const { slice, tiers } of slices) {
    if (slice.billable.isZero()) continue;
    last = slice;
    const index = volumeTierIndex(tiers, total);
    const lowerBound = index <= 0 ? new Decimal(0) : new Decimal(tiers[index - 1]?.up_to ?? '0');
    if (slice.before.plus(slice.billable).gt(lowerBound)) return slice;
  }
  return last;
}
