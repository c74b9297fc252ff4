import { Decimal } from '../money.ts';

/**
 * Two causes of a `diff` line that need more than both sides' totals, proven from what Tally knows of
 * its own side (the tiers it billed, the usage it saw around the period's edges) and the legacy
 * line's quantity and amount. Pure; the comparison calls them (docs/decisions/shadow.md).
 */

/** One tier of a Tally usage line, as the invoice shows it (`tiers[]`). */
export interface TierCharge {
  readonly quantity: Decimal;
  readonly unitPrice: Decimal;
}

/**
 * Whether the legacy amount for the same quantity is what a biller gets by putting a tier boundary
 * elsewhere than Tally did, and how. Needs at least two tiers with different unit prices on Tally's
 * line (a line that stayed in one tier has no boundary to disagree on). Two shapes are proven:
 * - every unit at one tier's price (the legacy biller prices by the tier the total reached, volume
 *   style, where the rate card grades; or by the first tier);
 * - one unit at each boundary crossed billed in the neighbouring tier (an inclusive/exclusive
 *   `up_to` disagreement): the amounts differ by exactly the price steps of the boundaries crossed.
 * Both within one minor unit (the legacy amount was rounded once).
 *
 * @example tiers 1000 × 0.10 + 500 × 0.08 = 140.00 (Tally). Legacy 1500 units for 120.00 = 1500 × 0.08:
 *   every unit at tier 2's price → 'every unit at tier 2's price 0.08'.
 *   Legacy 140.02 = 140.00 + (0.10 − 0.08) × 1: the boundary unit billed in tier 1 → 'the unit at 1 tier boundary billed in the lower tier'.
 */
export function tierBoundaryExplanation(input: {
  readonly tiers: readonly TierCharge[];
  readonly quantity: Decimal;
  readonly legacyAmount: Decimal;
  readonly newAmount: Decimal;
  readonly minorUnit: Decimal;
}): string | undefined {
  const { tiers, legacyAmount, minorUnit } = input;
  const prices = tiers.map((tier) => tier.unitPrice);
  if (tiers.length < 2 || prices.every((price) => price.eq(prices[0] as Decimal))) return undefined;
  const near = (a: Decimal, b: Decimal) => a.minus(b).abs().lessThanOrEqualTo(minorUnit);
  for (const [index, price] of prices.entries()) {
    if (near(input.quantity.times(price), legacyAmount))
      return `every unit at tier ${index + 1}'s price ${price.toString()}`;
  }
  // One unit at each crossed boundary on the other side of it: Tally − legacy = ± Σ (p_i − p_{i+1}).
  let steps = new Decimal(0);
  for (let index = 0; index + 1 < prices.length; index += 1)
    steps = steps.plus((prices[index] as Decimal).minus(prices[index + 1] as Decimal));
  if (steps.isZero()) return undefined;
  const boundaries = `${prices.length - 1} tier ${prices.length === 2 ? 'boundary' : 'boundaries'}`;
  const delta = input.newAmount.minus(legacyAmount);
  if (near(delta, steps.negated())) return `the unit at ${boundaries} billed in the lower tier`;
  if (near(delta, steps)) return `the unit at ${boundaries} billed in the higher tier`;
  return undefined;
}

/**
 * Tally's usage of one line key near the period's edges: each event's quantity (what it adds to the
 * line: its quantity for a `sum` price, 1 for `count`) and its time relative to the period's start or
 * end in minutes (negative: before). Only events within `BOUNDARY_WINDOW_MINUTES` of an edge matter.
 */
export interface BoundaryUsage {
  readonly key: string;
  readonly nearStart: readonly { readonly minutes: number; readonly quantity: Decimal }[];
  readonly nearEnd: readonly { readonly minutes: number; readonly quantity: Decimal }[];
}

/** How far from UTC a legacy biller's month can run: the world's time zones, UTC−12:00 to UTC+14:00. */
export const BOUNDARY_WINDOW_MINUTES = 14 * 60;

/**
 * The UTC offsets of the world's time zones (minutes east of UTC), without UTC itself: every whole
 * hour from −12 to +14 and the half and quarter hours in use.
 */
export const TIME_ZONE_OFFSETS_MINUTES: readonly number[] = [
  ...Array.from({ length: 27 }, (_, index) => (index - 12) * 60).filter((minutes) => minutes !== 0),
  -9 * 60 - 30,
  -3 * 60 - 30,
  3 * 60 + 30,
  4 * 60 + 30,
  5 * 60 + 30,
  5 * 60 + 45,
  6 * 60 + 30,
  8 * 60 + 45,
  9 * 60 + 30,
  10 * 60 + 30,
  12 * 60 + 45,
].sort((a, b) => a - b);

/** `UTC+05:30` for 330 minutes east. */
export function utcOffsetName(minutesEast: number): string {
  const sign = minutesEast < 0 ? '-' : '+';
  const absolute = Math.abs(minutesEast);
  return `UTC${sign}${String(Math.floor(absolute / 60)).padStart(2, '0')}:${String(absolute % 60).padStart(2, '0')}`;
}

/**
 * The quantity Tally would bill under `usage.key` if the month ran in the time zone `minutesEast`
 * of UTC: its local midnight is `−minutesEast` from UTC's, so the period starts and ends that much
 * later (west) or earlier (east). `quantity` is Tally's quantity for the UTC month.
 */
export function quantityInZone(quantity: Decimal, usage: BoundaryUsage, minutesEast: number): Decimal {
  const shift = -minutesEast;
  const between = (side: BoundaryUsage['nearStart'], from: number, to: number) =>
    side
      .filter((event) => event.minutes >= from && event.minutes < to)
      .reduce((sum, event) => sum.plus(event.quantity), new Decimal(0));
  // Later (shift > 0): the first `shift` minutes of the month go, the first of the next month come in.
  if (shift > 0) return quantity.minus(between(usage.nearStart, 0, shift)).plus(between(usage.nearEnd, 0, shift));
  return quantity.plus(between(usage.nearStart, shift, 0)).minus(between(usage.nearEnd, shift, 0));
}

/**
 * The time zone (minutes east of UTC) in which Tally's usage gives exactly the legacy quantity of
 * every key whose quantities differ, the one nearest UTC when several do; undefined when none does
 * or a differing key has no boundary usage (a `max` or `latest` price cannot be re-cut by time).
 */
export function periodBoundaryZone(
  differing: readonly { readonly key: string; readonly legacyQuantity: Decimal; readonly newQuantity: Decimal }[],
  boundaryUsage: readonly BoundaryUsage[],
): number | undefined {
  if (differing.length === 0) return undefined;
  const usageOf = new Map(boundaryUsage.map((usage) => [usage.key, usage]));
  if (!differing.every((line) => usageOf.has(line.key))) return undefined;
  const nearestFirst = [...TIME_ZONE_OFFSETS_MINUTES].sort((a, b) => Math.abs(a) - Math.abs(b) || a - b);
  return nearestFirst.find((minutesEast) =>
    differing.every((line) =>
      quantityInZone(line.newQuantity, usageOf.get(line.key) as BoundaryUsage, minutesEast).eq(line.legacyQuantity),
    ),
  );
}
