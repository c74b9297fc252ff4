import { Decimal } from './money.ts';

/**
 * When a person must look before an invoice is issued (SPEC §3 `review`). The contract's numbers,
 * as decimal strings; an absent threshold never fires.
 */
export interface ReviewPolicy {
  readonly totalAbove?: string;
  /** Percent change of the total vs the previous issued invoice, either direction. */
  readonly changePctAbove?: string;
  /** Absolute sum of late-usage adjustment lines on this invoice. */
  readonly adjustmentAbove?: string;
}

/** What stopped a close for a person: a review threshold, or a condition the close cannot get past alone. */
type ReviewRule =
  | 'total_above'
  | 'change_pct_above'
  | 'unpriced_usage'
  | 'adjustment_above'
  | 'provider_sync_failed'
  | 'unpublished_ratecard'
  | 'unknown_customer'
  | 'ingest_lagging'
  /** A step failed for good: the error's stable code (e.g. `currency_mismatch`). */
  | (string & {});

export interface ReviewBreach {
  readonly rule: ReviewRule;
  /** Plain words for the reviewer, with the numbers compared. */
  readonly detail: string;
}

export interface ReviewFacts {
  readonly total: string;
  readonly currency: string;
  /** Total of the previous issued invoice of the same customer, if any. */
  readonly previousTotal: string | undefined;
  readonly unpricedEventCount: number;
  readonly adjustmentLines: readonly string[];
}

/**
 * The thresholds an invoice crosses, in a fixed order. Unpriced usage always needs a person: it is
 * never billed at zero silently, and never dropped without someone deciding.
 *
 * Example: total 60,000.00 USD, previous 30,000.00, policy { totalAbove: "50000.00", changePctAbove: "50" }
 * → total_above (60000.00 > 50000.00) and change_pct_above (+100% > 50%).
 */
export function evaluateReview(facts: ReviewFacts, policy: ReviewPolicy): ReviewBreach[] {
  const breaches: ReviewBreach[] = [];
  const total = new Decimal(facts.total);
  if (policy.totalAbove !== undefined && total.greaterThan(policy.totalAbove)) {
    breaches.push({
      rule: 'total_above',
      detail: `total ${facts.total} ${facts.currency} is above ${policy.totalAbove}`,
    });
  }
  if (policy.changePctAbove !== undefined && facts.previousTotal !== undefined) {
    const previous = new Decimal(facts.previousTotal);
    if (!previous.isZero()) {
      const changePct = total.minus(previous).dividedBy(previous.abs()).times(100);
      if (changePct.abs().greaterThan(policy.changePctAbove)) {
        breaches.push({
          rule: 'change_pct_above',
          detail: `total changed ${changePct.toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toString()}% vs the previous invoice (${facts.previousTotal} → ${facts.total}); limit ${policy.changePctAbove}%`,
        });
      }
    }
  }
  if (facts.unpricedEventCount > 0) {
    breaches.push({
      rule: 'unpriced_usage',
      detail: `${facts.unpricedEventCount} events match no price and are not billed`,
    });
  }
  if (policy.adjustmentAbove !== undefined && facts.adjustmentLines.length > 0) {
    const adjusted = facts.adjustmentLines.reduce((sum, amount) => sum.plus(new Decimal(amount).abs()), new Decimal(0));
    if (adjusted.greaterThan(policy.adjustmentAbove)) {
      breaches.push({
        rule: 'adjustment_above',
        detail: `late-usage adjustments of ${adjusted.toString()} ${facts.currency} are above ${policy.adjustmentAbove}`,
      });
    }
  }
  return breaches;
}
