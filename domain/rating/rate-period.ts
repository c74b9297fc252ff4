import type { Contract } from '../../contracts/contract.ts';
import type { Invoice, InvoiceLine, RateCardVersionRef } from '../../contracts/invoice.ts';
import type { RateCardVersion } from '../../contracts/ratecard.ts';
import { Decimal, formatMoney } from '../money.ts';
import type { BillingPeriod } from '../period.ts';
import { commitTrueUpLines } from './adjustments/commit.ts';
import { creditLines, type CreditBalance } from './adjustments/credits.ts';
import { discountLines } from './adjustments/discounts.ts';
import { feeLines } from './adjustments/fees.ts';
import type { EventCounters, UsageAggregate } from './aggregation/usage-aggregate.ts';
import { matchAggregates } from './matching/match-aggregates.ts';
import { RatingInputError } from './rating-input-error.ts';
import { segmentsInForce, type SegmentWithVersion } from './segments/segments-in-force.ts';
import { sortedVersions } from './segments/version-segments.ts';
import { usageLines } from './usage/usage-lines.ts';

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

/**
 * Rates one customer's billing period (SPEC §2 rules 2–11) from period aggregates and returns the
 * invoice of SPEC §4. Pure and deterministic: the same input gives byte-identical JSON, whatever
 * the order of `aggregates` or how events were split into them.
 *
 * Lines come in a fixed order — usage (in rate-card order), fees, discounts, the commit true-up,
 * credits (in drawdown order) — each with a deterministic `line_key`: `usage:<price_id>`,
 * `fee:<fee_id>`, `discount:<discount_id>`, `commit_true_up`, `credit:<credit_id>`.
 *
 * One stage per step, each in the sub-room named in README.md; rule 1 (aggregation) happens before
 * this, in `aggregation/` or in SQL.
 */
export function ratePeriod(input: RatePeriodInput): Invoice {
  const { contract, period } = input;
  const currency = contract.currency;

  // 0. Refuse a contract, rate card or currency that do not belong together.
  const versions = checkedVersions(input);

  // 1. The version segments of the period, each with its version in force (rule 11).
  const segments = segmentsInForce(versions, period);

  // 2. Each aggregate to a price of its segment's version; the rest is unpriced (rule 2).
  const { buckets, unpriced } = matchAggregates(input.aggregates, segments, period);

  // 3. Usage lines, one per price id, in rate-card order (rules 3–6, 11).
  const usage = usageLines(buckets, segments, currency);

  // 4. Fees, prorated by the contract window and by each version's time in force (rules 8, 11).
  const fees = feeLines(segments, contract, period);

  // 5. Discounts on the usage lines (rule 7).
  const discounts = discountLines(segments, usage.discountable, currency);

  // 6. Commit true-up: usage lines plus discounts against the prorated commit (rule 9).
  const commit = commitTrueUpLines(contract, period, [...usage.lines, ...discounts]);

  // 7. Subtotal, then credits in rule 10's order, never past zero due.
  const beforeCredits: InvoiceLine[] = [...usage.lines, ...fees, ...discounts, ...commit];
  const subtotal = sumAmounts(beforeCredits);
  const credits = creditLines(input.credits, subtotal, period, currency);

  // 8. The invoice.
  return {
    customer_id: input.customerId,
    period: period.name,
    currency,
    period_start: period.start,
    period_end: period.end,
    lines: [...beforeCredits, ...credits],
    subtotal: formatMoney(subtotal, currency),
    total: formatMoney(subtotal.plus(sumAmounts(credits)), currency),
    unpriced,
    events: {
      read: input.counters.read,
      duplicates: input.counters.duplicates,
      outside_period: input.counters.outside_period,
    },
    ratecard_versions: versionRefs(segments),
    calculation_version: input.calculationVersion,
  };
}

/** The rate card's versions in `effective_from` order, once each belongs to the contract's card and currency. */
function checkedVersions(input: RatePeriodInput): RateCardVersion[] {
  const { contract } = input;
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
    if (version.currency !== contract.currency) {
      throw new RatingInputError(
        'currency_mismatch',
        `the contract bills in ${contract.currency}, but rate card ${version.ratecard} (${version.effective_from}) prices in ${version.currency}`,
      );
    }
  }
  return versions;
}

/** The versions the invoice was rated under, in time order. */
function versionRefs(segments: readonly SegmentWithVersion[]): RateCardVersionRef[] {
  return segments.flatMap(({ version }) =>
    version === null
      ? []
      : [{ ratecard: version.ratecard, effective_from: version.effective_from, content_hash: version.content_hash }],
  );
}

function sumAmounts(lines: readonly InvoiceLine[]): Decimal {
  let total = new Decimal(0);
  for (const line of lines) total = total.plus(new Decimal(line.amount));
  return total;
}
