/**
 * The rating engine (SPEC §2): pure functions from period aggregates, rate-card versions, a
 * contract and credit balances to the invoice of SPEC §4. The offline `tally rate` and the period
 * workflows call the same code. See README.md in this folder for the input contract.
 */

export { CALCULATION_VERSION } from '../calculation-version.ts';

export { ratePeriod, type RatePeriodInput } from './rate-period.ts';
export {
  aggregateEvents,
  compareAggregates,
  groupingKeys,
  groupingKeysBySku,
  UsageAggregator,
  type EventCounters,
  type RatableEvent,
  type UsageAggregate,
} from './aggregation/usage-aggregate.ts';
export { usageAggregationPlan, type UsageAggregationPlan } from './aggregation/aggregation-plan.ts';
export { sortedVersions, versionSegments, type VersionSegment } from './segments/version-segments.ts';
export {
  compareCreditsForDrawdown,
  creditBalancesFromContract,
  drawDownCredits,
  isCreditUsable,
  type CreditBalance,
  type CreditUse,
} from './adjustments/credits.ts';
export { instantKey } from './time/instant-key.ts';
export { aggregatesByPrice } from './lineage/lineage.ts';
export { PriceMatcher, type PriceMatch, type UnpricedReason } from './matching/price-matching.ts';
export { RatingInputError, type RatingInputErrorCode } from './rating-input-error.ts';
export { describeRateCardChanges, type RateCardChange } from './ratecard-changes/ratecard-changes.ts';
