/**
 * The rating engine (SPEC §2): pure functions from period aggregates, rate-card versions, a
 * contract and credit balances to the invoice of SPEC §4. The offline `tally rate` and the period
 * workflows call the same code. See README.md in this folder for the input contract.
 */

export { CALCULATION_VERSION } from '../calculation-version.ts';

export { ratePeriod } from './rate-period.ts';
export {
  aggregateEvents,
  UsageAggregator,
  type EventCounters,
  type RatableEvent,
  type UsageAggregate,
} from './aggregation/usage-aggregate.ts';
export { usageAggregationPlan, type UsageAggregationPlan } from './aggregation/aggregation-plan.ts';
export { sortedVersions, versionSegments, type VersionSegment } from './segments/version-segments.ts';
export {
  creditBalancesFromContract,
  drawDownCredits,
  isCreditUsable,
  type CreditBalance,
} from './adjustments/credits.ts';
export { instantKey } from './time/instant-key.ts';
export { aggregatesByPrice } from './lineage/lineage.ts';
export { PriceMatcher } from './matching/price-matching.ts';
export { RatingInputError } from './rating-input-error.ts';
export { describeRateCardChanges } from './ratecard-changes/ratecard-changes.ts';
