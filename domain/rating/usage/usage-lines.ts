import type { TierBreakdown, UsageLine } from '../../../contracts/invoice.ts';
import type { Price } from '../../../contracts/ratecard.ts';
import { Decimal, formatDecimal, formatMoney, roundMoneyHalfUp } from '../../money.ts';
import type { DiscountableLine } from '../adjustments/discounts.ts';
import type { PriceBucket } from '../matching/match-aggregates.ts';
import { priceUsage } from '../price-models/price-usage.ts';
import type { PriceSlice, TierCharge } from '../price-models/tier-charge.ts';
import { RatingInputError } from '../rating-input-error.ts';
import type { SegmentWithVersion } from '../segments/segments-in-force.ts';
import { billableBySegment } from './billable-quantity.ts';
import { periodQuantity } from './period-quantity.ts';

export interface RatedUsage {
  readonly lines: UsageLine[];
  /** What the discounts need of each line (stage 5). */
  readonly discountable: DiscountableLine[];
}

/**
 * Stage 3 of `ratePeriod` (rules 3–6, 11): one usage line per price id that rated events, in the
 * order the rate card lists them. Per price: the period quantity by segment (rule 3), billable units
 * cumulative across segments (rule 4), each segment's slice priced by its version's model (rule 5),
 * the line rounded half-up once (rule 6).
 */
export function usageLines(
  buckets: ReadonlyMap<string, PriceBucket>,
  segments: readonly SegmentWithVersion[],
  currency: string,
): RatedUsage {
  const split = segments.filter(({ version }) => version !== null).length > 1;
  const lines: UsageLine[] = [];
  const discountable: DiscountableLine[] = [];
  for (const priceId of priceIdsInOrder(segments)) {
    const bucket = buckets.get(priceId);
    if (bucket === undefined) continue;
    const reference = consistentDefinition(priceId, [...bucket.definitions.values()]);
    const quantity = periodQuantity(reference.aggregation, reference.unique_by, bucket.matched, segments.length);
    const billable = billableBySegment(quantity.bySegment, reference.package_size, reference.package_rounding);
    const slices: PriceSlice[] = [];
    let before = new Decimal(0);
    billable.forEach((units, index) => {
      // Units only grow in segments where the price matched events, so those segments define it.
      const definition = bucket.definitions.get(index);
      const effectiveFrom = segments[index]?.segment.effectiveFrom;
      if (definition !== undefined && effectiveFrom !== null && effectiveFrom !== undefined) {
        slices.push({ segment: index, effectiveFrom, price: definition, billable: units, before });
      }
      before = before.plus(units);
    });
    const totalBillable = before;
    const priced = priceUsage(slices, totalBillable);
    const rounded = roundMoneyHalfUp(priced.amount, currency);
    lines.push({
      kind: 'usage',
      line_key: `usage:${priceId}`,
      price_id: priceId,
      sku: reference.sku,
      unit: reference.unit,
      quantity: formatDecimal(quantity.total),
      billable_quantity: formatDecimal(totalBillable),
      amount: formatMoney(rounded, currency),
      event_count: bucket.eventCount,
      tiers: priced.charges.map((charge) => tierBreakdown(charge, split)),
    });
    discountable.push({ priceId, rounded, unrounded: priced.amount, amountBySegment: priced.amountBySegment });
  }
  return { lines, discountable };
}

function tierBreakdown(charge: TierCharge, split: boolean): TierBreakdown {
  return {
    tier: charge.tier,
    quantity: formatDecimal(charge.quantity),
    unit_price: charge.unitPrice,
    ...(charge.flatFee !== undefined ? { flat_fee: formatDecimal(charge.flatFee) } : {}),
    amount: formatDecimal(charge.amount),
    ...(split ? { effective_from: charge.effectiveFrom } : {}),
  };
}

/** Price ids in the order the versions in force list them, each once (earliest version first). */
function priceIdsInOrder(segments: readonly SegmentWithVersion[]): string[] {
  const ids = new Set<string>();
  for (const { version } of segments) {
    if (version === null) continue;
    for (const { id } of version.prices) ids.add(id);
  }
  return [...ids];
}

/**
 * What a price id measures cannot change between versions (checkRateCardHistory refuses such cards);
 * an unvalidated input that breaks this is refused rather than rated by one version's reading.
 */
function consistentDefinition(priceId: string, definitions: readonly Price[]): Price {
  const first = definitions[0] as Price;
  for (const other of definitions) {
    for (const field of ['sku', 'unit', 'aggregation', 'unique_by', 'package_size', 'package_rounding'] as const) {
      if (other[field] !== first[field]) {
        throw new RatingInputError(
          'inconsistent_price',
          `price ${priceId} has ${field} ${String(first[field])} in one version and ${String(other[field])} in another`,
        );
      }
    }
  }
  return first;
}
