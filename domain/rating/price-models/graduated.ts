import type { Tier } from '../../../contracts/ratecard.ts';
import { Decimal } from '../../money.ts';
import type { PriceSlice, TierCharge } from './tier-charge.ts';

/**
 * `graduated` (rule 5): the units that fall in each tier's range — lower bound the previous tier's
 * `up_to` (0 for the first), upper bound its own `up_to`, inclusive — at that tier's price, plus
 * the `flat_fee` of each tier that has any units.
 *
 * Rule 11: a slice starts at `before`, the units the same price id already had earlier in the
 * period, so a price change does not reset tiers; each tier's flat fee is charged once per period,
 * by the version in force when the tier first got units (`flatFeesCharged` carries that across slices).
 *
 * @example tiers [≤1000 at 0.10, ≤10000 at 0.05, above at 0.01], 15000 units:
 *   tier 1: 1000 × 0.10 = 100; tier 2: 9000 × 0.05 = 450; tier 3: 5000 × 0.01 = 50 → 600.
 * @example the same tiers, exactly 1000 units → tier 1 only: 1000 × 0.10 = 100 (up_to is inclusive).
 * @example the same tiers with a second version from mid-period, 0.08 / 0.04 / 0.008: 800 units before,
 *   700 units after → version 1: tier 1 800 × 0.10 = 80; version 2 starts at 800: tier 1 200 × 0.08 = 16,
 *   tier 2 500 × 0.04 = 20 → 116.
 */
export function graduatedCharges(
  slice: PriceSlice,
  tiers: readonly Tier[],
  flatFeesCharged: Set<number>,
): TierCharge[] {
  const charges: TierCharge[] = [];
  if (slice.billable.isZero()) return charges;
  const low = slice.before;
  const high = slice.before.plus(slice.billable);
  let lower = new Decimal(0);
  tiers.forEach((tier, index) => {
    const upper = tier.up_to === null ? undefined : new Decimal(tier.up_to);
    const from = Decimal.max(low, lower);
    const to = upper === undefined ? high : Decimal.min(high, upper);
    if (to.gt(from)) {
      const quantity = to.minus(from);
      const number = index + 1;
      const flatFee = new Decimal(tier.flat_fee);
      const chargeFlatFee = !flatFeesCharged.has(number) && !flatFee.isZero();
      flatFeesCharged.add(number);
      const units = quantity.times(new Decimal(tier.unit_price));
      charges.push({
        segment: slice.segment,
        effectiveFrom: slice.effectiveFrom,
        tier: number,
        quantity,
        unitPrice: tier.unit_price,
        ...(chargeFlatFee ? { flatFee } : {}),
        amount: chargeFlatFee ? units.plus(flatFee) : units,
      });
    }
    if (upper !== undefined) lower = upper;
  });
  return charges;
}
