import type { Contract } from '../../contracts/contract.ts';
import type {
  CommitTrueUpLine,
  CreditLine,
  DiscountLine,
  FeeLine,
  Invoice,
  InvoiceLine,
  RateCardVersionRef,
  TierBreakdown,
  UsageLine,
} from '../../contracts/invoice.ts';
import type { Price, RateCardVersion } from '../../contracts/ratecard.ts';
import { Decimal, formatDecimal, formatMoney, roundMoneyHalfUp } from '../money.ts';
import type { BillingPeriod } from '../period.ts';
import { billableBySegment } from './billable-quantity.ts';
import { commitTrueUp } from './commit.ts';
import { drawDownCredits, type CreditBalance } from './credits.ts';
import { rateDiscounts, type DiscountableLine } from './discounts.ts';
import { rateFees } from './fees.ts';
import { periodQuantity, type MatchedAggregate } from './period-quantity.ts';
import { PriceMatcher, type UnpricedReason } from './price-matching.ts';
import { instantMs } from './instant-key.ts';
import { contractRange, overlapMs, timeRange } from './proration.ts';
import type { SegmentWithVersion } from './rate-period-types.ts';
import { RatingInputError } from './rating-input-error.ts';
import type { PriceSlice, TierCharge } from './tier-charge.ts';
import type { EventCounters, UsageAggregate } from './usage-aggregate.ts';
import { priceUsage } from './usage-line.ts';
import { sortedVersions, versionSegments } from './version-segments.ts';
import { NON_NEGATIVE_DECIMAL_PATTERN } from '../../contracts/patterns.ts';

export interface RatePeriodInput {
  readonly customerId: string;
  readonly period: BillingPeriod;
  readonly contract: Contract;
  /** All versions of the contract's rate card; the engine uses those in force during the period. */
  readonly versions: readonly RateCardVersion[];
  readonly aggregates: readonly UsageAggregate[];
  readonly counters: EventCounters;
  /** Remaining balances usable this period; offline: creditBalancesFromContract(contract). */
  readonly credits: readonly CreditBalance[];
  readonly calculationVersion: string;
}

interface PriceBucket {
  readonly matched: MatchedAggregate[];
  /** The price as defined by each segment's version (by segment index). */
  readonly definitions: Map<number, Price>;
  eventCount: number;
}

/**
 * Rates one customer's billing period (SPEC §2 rules 2–11) from period aggregates and returns the
 * invoice of SPEC §4. Pure and deterministic: the same input gives byte-identical JSON, whatever
 * the order of `aggregates` or how events were split into them.
 *
 * Lines come in a fixed order — usage (in rate-card order), fees, discounts, the commit true-up,
 * credits (in drawdown order) — each with a deterministic `line_key`: `usage:<price_id>`,
 * `fee:<fee_id>`, `discount:<discount_id>`, `commit_true_up`, `credit:<credit_id>`.
 */
export function ratePeriod(input: RatePeriodInput): Invoice {
  const { contract, period } = input;
  const currency = contract.currency;
  if (contract.customer_id !== input.customerId) {
    throw new RatingInputError(
      'customer_mismatch',
      `the contract is for ${contract.customer_id}, not ${input.customerId}`,
    );
  }
  if (input.versions.length === 0)
    throw new RatingInputError('no_ratecard_versions', `rate card ${contract.ratecard} has no versions`);
  const versions = sortedVersions(input.versions);
  for (const version of versions) {
    if (version.ratecard !== contract.ratecard) {
      throw new RatingInputError(
        'ratecard_mismatch',
        `the contract uses rate card ${contract.ratecard}, but a version of ${version.ratecard} was given`,
      );
    }
    if (version.currency !== currency) {
      throw new RatingInputError(
        'currency_mismatch',
        `the contract bills in ${currency}, but rate card ${version.ratecard} (${version.effective_from}) prices in ${version.currency}`,
      );
    }
  }

  // 1. The version segments of the period (rule 11).
  const byEffectiveFrom = new Map(versions.map((version) => [version.effective_from, version]));
  const segments: SegmentWithVersion[] = versionSegments(versions, period).map((segment) => ({
    segment,
    version: segment.effectiveFrom === null ? null : (byEffectiveFrom.get(segment.effectiveFrom) ?? null),
    range: timeRange(segment.start, segment.end),
  }));
  const segmentIndex = new Map(segments.map(({ segment }, index) => [segment.effectiveFrom ?? '', index]));
  const matchers = segments.map(({ version }) => (version === null ? null : new PriceMatcher(version)));
  const split = segments.filter(({ version }) => version !== null).length > 1;

  // 2. Match each aggregate to a price of its segment's version (rule 2); the rest is unpriced.
  const buckets = new Map<string, PriceBucket>();
  const unpriced = new Map<
    string,
    { sku: string; unit: string; reason: UnpricedReason; eventCount: number; quantity: Decimal }
  >();
  for (const aggregate of input.aggregates) {
    const index = segmentIndex.get(
      aggregate.versionEffectiveFrom === null ? '' : normalizedInstant(aggregate.versionEffectiveFrom),
    );
    if (index === undefined) {
      throw new RatingInputError(
        'unknown_version_segment',
        `an aggregate is for version ${aggregate.versionEffectiveFrom ?? '(none)'}, which is not a segment of ${period.name} (segments: ${segments.map(({ segment }) => segment.effectiveFrom ?? '(none)').join(', ')})`,
      );
    }
    checkAggregate(aggregate);
    const matcher = matchers[index] ?? null;
    const match =
      matcher === null
        ? { priced: false as const, reason: 'no_ratecard_version' as const }
        : matcher.match(aggregate.sku, aggregate.unit, aggregate.metadata);
    if (!match.priced) {
      const key = `${aggregate.sku}\u0000${aggregate.unit}\u0000${match.reason}`;
      const entry = unpriced.get(key) ?? {
        sku: aggregate.sku,
        unit: aggregate.unit,
        reason: match.reason,
        eventCount: 0,
        quantity: new Decimal(0),
      };
      entry.eventCount += aggregate.eventCount;
      entry.quantity = entry.quantity.plus(new Decimal(aggregate.quantitySum));
      unpriced.set(key, entry);
      continue;
    }
    const bucket: PriceBucket = buckets.get(match.price.id) ?? { matched: [], definitions: new Map(), eventCount: 0 };
    bucket.matched.push({ segment: index, aggregate });
    bucket.definitions.set(index, match.price);
    bucket.eventCount += aggregate.eventCount;
    buckets.set(match.price.id, bucket);
  }

  // 3. Usage lines, one per price id, in the order the rate card lists them (rules 3–6, 11).
  const usageLines: UsageLine[] = [];
  const discountable: DiscountableLine[] = [];
  for (const priceId of idsInOrder(segments, (version) => version.prices)) {
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
    usageLines.push({
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

  // 4. Fees, prorated by the contract window and by each version's time in force (rules 8, 11).
  const periodRange = timeRange(period.start, period.end);
  const periodMs = periodRange.endMs - periodRange.startMs;
  const contractWindow = contractRange(contract.starts_at, contract.ends_at);
  const feeLines: FeeLine[] = rateFees(segments, contractWindow, periodRange, currency).map((fee) => ({
    kind: 'fee',
    line_key: `fee:${fee.id}`,
    price_id: fee.id,
    description: fee.description,
    amount: formatMoney(fee.amount, currency),
    ...(fee.proration !== undefined ? { proration: fee.proration } : {}),
  }));

  // 5. Discounts (rule 7).
  const discounts = rateDiscounts(segments, discountable, currency);
  const discountLines: DiscountLine[] = discounts.map((discount) => ({
    kind: 'discount',
    line_key: `discount:${discount.id}`,
    price_id: discount.id,
    ...(discount.description !== undefined ? { description: discount.description } : {}),
    amount: formatMoney(discount.amount, currency),
  }));

  // 6. Commit true-up (rule 9): usage lines plus discounts against the (prorated) commit.
  const usageAndDiscounts = sum([
    ...discountable.map((line) => line.rounded),
    ...discounts.map((discount) => discount.amount),
  ]);
  const commitLines: CommitTrueUpLine[] = [];
  if (contract.commit !== undefined) {
    const trueUp = commitTrueUp(
      contract.commit.amount,
      overlapMs(periodRange, contractWindow),
      periodMs,
      usageAndDiscounts,
      currency,
    );
    commitLines.push({
      kind: 'commit_true_up',
      line_key: 'commit_true_up',
      amount: formatMoney(trueUp.amount, currency),
      commit: formatMoney(trueUp.commit, currency),
      ...(trueUp.proration !== undefined ? { proration: trueUp.proration } : {}),
    });
  }

  // 7. Subtotal, then credits in rule 10's order, never past zero due.
  const beforeCredits: InvoiceLine[] = [...usageLines, ...feeLines, ...discountLines, ...commitLines];
  const subtotal = sum(beforeCredits.map((line) => new Decimal(line.amount)));
  const creditLines: CreditLine[] = drawDownCredits(input.credits, subtotal, period, currency).map((use) => ({
    kind: 'credit',
    line_key: `credit:${use.credit.id}`,
    credit_id: use.credit.id,
    credit_kind: use.credit.kind,
    amount: formatMoney(use.amount.negated(), currency),
  }));
  const total = subtotal.plus(sum(creditLines.map((line) => new Decimal(line.amount))));

  const versionRefs: RateCardVersionRef[] = segments.flatMap(({ version }) =>
    version === null
      ? []
      : [
          {
            ratecard: version.ratecard,
            effective_from: version.effective_from,
            content_hash: version.content_hash,
          },
        ],
  );

  return {
    customer_id: input.customerId,
    period: period.name,
    currency,
    period_start: period.start,
    period_end: period.end,
    lines: [...beforeCredits, ...creditLines],
    subtotal: formatMoney(subtotal, currency),
    total: formatMoney(total, currency),
    unpriced: [...unpriced.values()]
      .sort((a, b) => compareText(a.sku, b.sku) || compareText(a.unit, b.unit) || compareText(a.reason, b.reason))
      .map((entry) => ({
        sku: entry.sku,
        unit: entry.unit,
        event_count: entry.eventCount,
        quantity: formatDecimal(entry.quantity),
        reason: entry.reason,
      })),
    events: {
      read: input.counters.read,
      duplicates: input.counters.duplicates,
      outside_period: input.counters.outside_period,
    },
    ratecard_versions: versionRefs,
    calculation_version: input.calculationVersion,
  };
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

/** Ids in the order the versions in force list them, each once (earliest version first). */
function idsInOrder(
  segments: readonly SegmentWithVersion[],
  list: (version: RateCardVersion) => readonly { id: string }[],
): string[] {
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const { version } of segments) {
    if (version === null) continue;
    for (const { id } of list(version)) {
      if (!seen.has(id)) {
        seen.add(id);
        ids.push(id);
      }
    }
  }
  return ids;
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

function normalizedInstant(text: string): string {
  return new Date(instantMs(text)).toISOString();
}

function checkAggregate(aggregate: UsageAggregate): void {
  const decimals = [
    aggregate.quantitySum,
    aggregate.quantityMax,
    ...(aggregate.latestQuantity === undefined ? [] : [aggregate.latestQuantity]),
  ];
  if (
    !Number.isSafeInteger(aggregate.eventCount) ||
    aggregate.eventCount <= 0 ||
    decimals.some((text) => !NON_NEGATIVE_DECIMAL_PATTERN.test(text))
  ) {
    throw new RatingInputError(
      'invalid_aggregate',
      `aggregate for ${aggregate.sku} (${aggregate.unit}) has invalid counts or quantities: ${JSON.stringify(aggregate)}`,
    );
  }
}

function sum(values: readonly Decimal[]): Decimal {
  let total = new Decimal(0);
  for (const value of values) total = total.plus(value);
  return total;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
