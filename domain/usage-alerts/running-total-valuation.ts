import type { Contract } from '../../contracts/contract.ts';
import type { DiscountLine, Invoice, UsageLine } from '../../contracts/invoice.ts';
import type { Aggregation, Price, RateCardVersion } from '../../contracts/ratecard.ts';
import { Decimal, formatDecimal, formatMoney } from '../money.ts';
import type { BillingPeriod } from '../period.ts';
import { instantKey, ratePeriod, versionSegments, type UsageAggregate, type VersionSegment } from '../rating/index.ts';

/** One row of ingest's running totals for a customer-period (`usage_running_totals`). */
export interface RunningTotal {
  readonly sku: string;
  readonly unit: string;
  readonly eventCount: number;
  /** Decimal string. */
  readonly quantitySum: string;
}

export interface RunningTotalValuationInput {
  readonly customerId: string;
  readonly period: BillingPeriod;
  readonly contract: Contract;
  /** All versions of the contract's rate card. */
  readonly versions: readonly RateCardVersion[];
  readonly totals: readonly RunningTotal[];
  /**
   * When the totals last changed (their latest `updated_at`): the rate-card version in force then,
   * clamped into the period, prices the whole month to date.
   */
  readonly asOf: string;
}

/** Where the totals do not say enough to rate exactly, and what the valuation assumed instead. */
type ValuationApproximation =
  /** A version takes effect inside the period; the totals have no event times, so all usage is priced by one version. */
  | { readonly kind: 'version_split'; readonly pricedBy: string | null; readonly segments: number }
  /** The sku's prices filter on dimensions the totals do not carry: all its usage is valued at the dearest candidate. */
  | {
      readonly kind: 'dimensions_unknown';
      readonly sku: string;
      readonly unit: string;
      readonly candidates: readonly string[];
      readonly chosen: string;
    }
  /** A sum and a count cannot give a maximum, a latest value or a distinct count (see valueRunningTotals). */
  | {
      readonly kind: 'non_additive';
      readonly sku: string;
      readonly unit: string;
      readonly priceId: string;
      readonly aggregation: Exclude<Aggregation, 'sum' | 'count'>;
    };

export interface RunningTotalValuation {
  readonly currency: string;
  /** Usage lines plus discounts (what rule 9 compares with the commit), in the currency's minor digits. */
  readonly usage: string;
  /** The period's commit, prorated as the invoice's true-up prorates it; undefined without a commit. */
  readonly commit: string | undefined;
  /** True when every approximation is absent: the invoice's usage lines plus discounts would be the same for these events. */
  readonly exact: boolean;
  readonly approximations: readonly ValuationApproximation[];
  /** The valued usage and discount lines. */
  readonly lines: readonly (UsageLine | DiscountLine)[];
  /** What no price matched (not valued, as the invoice would not bill it). */
  readonly unpriced: Invoice['unpriced'];
  /** The version that priced the totals (null: none was in force). */
  readonly pricedBy: string | null;
}

const ESTIMATE_CALCULATION_VERSION = 'usage-alert-estimate';
/** The mean per event keeps at most the event contract's 12 fraction digits, rounded down. */
const MEAN_FRACTION_DIGITS = 12;

/**
 * Values a customer's month-to-date usage from ingest's running totals — one (sku, unit) row each,
 * with an event count and a quantity sum — with the rating engine, without reading events. Each
 * total becomes one aggregate of the version in force at `asOf`:
 *
 * - A sku/unit with one price and no dimensions, aggregated by `sum` or `count`, is rated exactly
 *   (tiers, packages and discounts included): the invoice's aggregates of that sku sum to the total.
 * - A sku/unit whose prices filter on dimensions (`region: us-east-1`) cannot be split: all of its
 *   usage is valued at the candidate price that charges most for it (an alert errs early, not late).
 * - `max` and `latest` are valued at the mean quantity per event (for one group, never above the
 *   maximum); `unique_count` is not known from a sum and counts zero.
 * - A version taking effect inside the period: all usage is priced by the version in force at `asOf`.
 *
 * Each such step is listed in `approximations`; with none, `exact` is true.
 *
 * @example rate card: queries {sku db.queries, per_unit 0.05 per started 1,000}, discount 10% on queries;
 *   contract commit 1000.00; totals [{db.queries/queries, 3 events, 16,000,001}]
 *   → usage line 16,001 packages × 0.05 = 800.05, discount -80.01 → usage 720.04, commit 1000.00, exact.
 * @example prices tokens-us {region: us-east-1, 0.010} and tokens-eu {region: eu-west-1, 0.012} per token;
 *   totals [{llm.tokens/tokens, 1000}] → tokens-eu 12.00 (the dearer), not exact: dimensions_unknown.
 */
export function valueRunningTotals(input: RunningTotalValuationInput): RunningTotalValuation {
  const segments = versionSegments(input.versions, input.period);
  const segment = segmentAt(segments, input.asOf);
  const version =
    segment.effectiveFrom === null
      ? undefined
      : input.versions.find((candidate) => candidate.effective_from === segment.effectiveFrom);
  const approximations: ValuationApproximation[] = [];
  if (segments.length > 1)
    approximations.push({ kind: 'version_split', pricedBy: segment.effectiveFrom, segments: segments.length });

  const rate = (aggregates: readonly UsageAggregate[]): Invoice =>
    ratePeriod({
      customerId: input.customerId,
      period: input.period,
      contract: input.contract,
      versions: input.versions,
      aggregates,
      counters: {
        read: aggregates.reduce((sum, aggregate) => sum + aggregate.eventCount, 0),
        duplicates: 0,
        outside_period: 0,
      },
      credits: [],
      calculationVersion: ESTIMATE_CALCULATION_VERSION,
    });

  const aggregates: UsageAggregate[] = [];
  for (const total of input.totals) {
    if (total.eventCount <= 0) continue;
    const candidates = version?.prices.filter((price) => price.sku === total.sku && price.unit === total.unit) ?? [];
    const only = candidates.length === 1 ? candidates[0] : undefined;
    if (candidates.length === 0) {
      // No price for this sku and unit: the engine reports it unpriced, as the invoice would.
      aggregates.push(aggregateFor(total, segment, {}));
      continue;
    }
    let chosen: Price;
    if (only !== undefined && Object.keys(only.dimensions).length === 0) {
      chosen = only;
    } else {
      chosen = dearest(candidates, (price) =>
        usageAndDiscounts(rate([aggregateFor(total, segment, price.dimensions)])),
      );
      approximations.push({
        kind: 'dimensions_unknown',
        sku: total.sku,
        unit: total.unit,
        candidates: candidates.map((price) => price.id),
        chosen: chosen.id,
      });
    }
    if (chosen.aggregation !== 'sum' && chosen.aggregation !== 'count') {
      approximations.push({
        kind: 'non_additive',
        sku: total.sku,
        unit: total.unit,
        priceId: chosen.id,
        aggregation: chosen.aggregation,
      });
    }
    aggregates.push(aggregateFor(total, segment, chosen.dimensions));
  }

  const invoice = rate(aggregates);
  const lines = invoice.lines.filter(
    (line): line is UsageLine | DiscountLine => line.kind === 'usage' || line.kind === 'discount',
  );
  const commitLine = invoice.lines.find((line) => line.kind === 'commit_true_up');
  return {
    currency: invoice.currency,
    usage: formatMoney(usageAndDiscounts(invoice), invoice.currency),
    commit: commitLine?.kind === 'commit_true_up' ? commitLine.commit : undefined,
    exact: approximations.length === 0,
    approximations,
    lines,
    unpriced: invoice.unpriced,
    pricedBy: segment.effectiveFrom,
  };
}

/** The segment holding `asOf`; an instant before the period takes the first, one at or after its end the last. */
function segmentAt(segments: readonly VersionSegment[], asOf: string): VersionSegment {
  const key = instantKey(asOf);
  const first = segments[0] as VersionSegment;
  const last = segments.at(-1) as VersionSegment;
  if (key < instantKey(first.start)) return first;
  return segments.find((segment) => instantKey(segment.start) <= key && key < instantKey(segment.end)) ?? last;
}

/**
 * One aggregate carrying the whole total. `metadata` is the chosen price's dimensions, so the engine
 * matches that price. Max and latest quantities are the mean per event (rounded down); the latest
 * instant is the segment's start (one aggregate per price: nothing to order it against).
 */
function aggregateFor(
  total: RunningTotal,
  segment: VersionSegment,
  metadata: Readonly<Record<string, string>>,
): UsageAggregate {
  const sum = new Decimal(total.quantitySum);
  const mean = formatDecimal(sum.div(total.eventCount).toDecimalPlaces(MEAN_FRACTION_DIGITS, Decimal.ROUND_DOWN));
  return {
    versionEffectiveFrom: segment.effectiveFrom,
    sku: total.sku,
    unit: total.unit,
    metadata: { ...metadata },
    eventCount: total.eventCount,
    quantitySum: formatDecimal(sum),
    quantityMax: mean,
    latestTimestamp: instantKey(segment.start),
    latestQuantity: mean,
    latestEventKey: 'running-total',
  };
}

/** The price with the greatest value; the first in rate-card order on a tie. */
function dearest(candidates: readonly Price[], value: (price: Price) => Decimal): Price {
  let best = candidates[0] as Price;
  let bestValue = value(best);
  for (const price of candidates.slice(1)) {
    const priceValue = value(price);
    if (priceValue.gt(bestValue)) {
      best = price;
      bestValue = priceValue;
    }
  }
  return best;
}

function usageAndDiscounts(invoice: Invoice): Decimal {
  let sum = new Decimal(0);
  for (const line of invoice.lines) if (line.kind === 'usage' || line.kind === 'discount') sum = sum.plus(line.amount);
  return sum;
}
