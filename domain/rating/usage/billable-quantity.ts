import type { PackageRounding } from '../../../contracts/ratecard.ts';
import { assertNever } from '../../assert-never.ts';
import { Decimal } from '../../money.ts';

/**
 * Rule 4: billable quantity = quantity, or quantity ÷ package_size rounded per package_rounding
 * (`up` to the next whole package, `down` to the last whole one, `none` keeps the fraction).
 *
 * @example 2500 tokens, package 1000: up → 3, down → 2, none → 2.5; no package → 2500.
 */
export function billableQuantity(
  quantity: Decimal,
  packageSize: string | undefined,
  rounding: PackageRounding | undefined,
): Decimal {
  if (packageSize === undefined) return quantity;
  const packages = quantity.div(new Decimal(packageSize));
  const mode = rounding ?? 'up';
  switch (mode) {
    case 'up':
      return packages.toDecimalPlaces(0, Decimal.ROUND_CEIL);
    case 'down':
      return packages.toDecimalPlaces(0, Decimal.ROUND_FLOOR);
    case 'none':
      return packages;
    default:
      return assertNever(mode, 'package rounding');
  }
}

/**
 * Rule 4 when versions split the period: the billable units of each segment are the growth of the
 * billable quantity of the cumulative usage, so the segments sum to exactly
 * billableQuantity(total) and packages are never rounded once per version.
 *
 * @example package 1000, up: segments [700, 800] → cumulative 700 → 1 package, 1500 → 2 packages → [1, 1] (total 2 = ⌈1500/1000⌉).
 */
export function billableBySegment(
  bySegment: readonly Decimal[],
  packageSize: string | undefined,
  rounding: PackageRounding | undefined,
): Decimal[] {
  let cumulative = new Decimal(0);
  let billableSoFar = new Decimal(0);
  return bySegment.map((quantity) => {
    cumulative = cumulative.plus(quantity);
    const billable = billableQuantity(cumulative, packageSize, rounding);
    const share = billable.minus(billableSoFar);
    billableSoFar = billable;
    return share;
  });
}
