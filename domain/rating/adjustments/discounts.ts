import type { DiscountLine } from '../../../contracts/invoice.ts';
import type { Discount } from '../../../contracts/ratecard.ts';
import { Decimal, formatMoney, roundMoneyHalfUp } from '../../money.ts';
import type { SegmentWithVersion } from '../segments/segments-in-force.ts';

/** What discounts need to know of a usage line. */
export interface DiscountableLine {
  readonly priceId: string;
  /** The line's amount after rule 6 rounding. */
  readonly rounded: Decimal;
  /** Before rounding, and split by the segment that priced it. */
  readonly unrounded: Decimal;
  readonly amountBySegment: ReadonlyMap<number, Decimal>;
}

export interface DiscountCharge {
  readonly id: string;
  readonly description?: string;
  /** Negative (or zero), rounded half-up to the minor unit. */
  readonly amount: Decimal;
}

/**
 * Discounts (rule 7), one charge per discount id: -(percent% of the named usage lines' rounded
 * sum), rounded half-up.
 *
 * Rule 11: when versions split the period and a discount differs between them (another percent,
 * other prices, or present in one version only), each named line contributes its rounded amount
 * in proportion to the part of it that was priced under a version carrying the discount:
 * Σ lines rounded × (Σ segments percent × amount priced in the segment) / line's unrounded amount.
 * When the discount is the same in every version this is exactly rule 7.
 *
 * @example launch-10 (10%) on tokens-us (600.00) and tokens-eu (55.55): -(10% × 655.55) = -65.555 → -65.56.
 * @example 10% only in the second version, tokens-us priced 100 (unrounded) before and 300 after, rounded line 400.00:
 *   -(400.00 × (0% × 100 + 10% × 300) / 400) = -30.00.
 */
export function rateDiscounts(
  segments: readonly SegmentWithVersion[],
  lines: readonly DiscountableLine[],
  currency: string,
): DiscountCharge[] {
  const order: string[] = [];
  const described = new Map<string, string | undefined>();
  // percent of discount id, per segment, per price id
  const percents = new Map<string, Map<number, Discount>>();
  segments.forEach(({ version }, segment) => {
    if (version === null) return;
    for (const discount of version.discounts) {
      let bySegment = percents.get(discount.id);
      if (bySegment === undefined) {
        bySegment = new Map();
        percents.set(discount.id, bySegment);
        order.push(discount.id);
      }
      bySegment.set(segment, discount);
      described.set(discount.id, discount.description);
    }
  });
  return order.map((id) => {
    const bySegment = percents.get(id) as Map<number, Discount>;
    let base = new Decimal(0);
    for (const line of lines) {
      if (line.unrounded.isZero()) continue;
      let weighted = new Decimal(0);
      for (const [segment, amount] of line.amountBySegment) {
        const discount = bySegment.get(segment);
        if (discount === undefined || !discount.applies_to.includes(line.priceId)) continue;
        weighted = weighted.plus(new Decimal(discount.percent).times(amount));
      }
      if (weighted.isZero()) continue;
      // Multiply before dividing: for an unchanged discount this is percent × rounded exactly.
      base = base.plus(line.rounded.times(weighted).div(line.unrounded));
    }
    const description = described.get(id);
    return {
      id,
      ...(description !== undefined ? { description } : {}),
      amount: roundMoneyHalfUp(base.div(100), currency).negated(),
    };
  });
}

/** Stage 5 of `ratePeriod`: the discount lines (rule 7), `discount:<discount_id>` in rate-card order. */
export function discountLines(
  segments: readonly SegmentWithVersion[],
  lines: readonly DiscountableLine[],
  currency: string,
): DiscountLine[] {
  return rateDiscounts(segments, lines, currency).map((discount) => ({
    kind: 'discount',
    line_key: `discount:${discount.id}`,
    price_id: discount.id,
    ...(discount.description !== undefined ? { description: discount.description } : {}),
    amount: formatMoney(discount.amount, currency),
  }));
}
