import type { RateCardVersion } from '../../../contracts/ratecard.ts';
import type { BillingPeriod } from '../../period.ts';
import { groupingKeysBySku, latestSkus } from './usage-aggregate.ts';
import { sortedVersions, versionSegments, type VersionSegment } from '../segments/version-segments.ts';

/**
 * Everything a SQL `GROUP BY` needs to build the same UsageAggregates as aggregateEvents: the
 * version segments (CASE on the event time) and, per sku, the metadata keys to group by (a key
 * outside its sku's list is not selected, i.e. NULL). See domain/rating/README.md for the query.
 */
export interface UsageAggregationPlan {
  readonly period: BillingPeriod;
  readonly segments: readonly VersionSegment[];
  /** Sorted skus, each with its sorted grouping keys. */
  readonly keysBySku: readonly { readonly sku: string; readonly keys: readonly string[] }[];
  /** Sorted skus whose aggregates carry their latest event (some price aggregates them by `latest`). */
  readonly latestSkus: readonly string[];
}

export function usageAggregationPlan(
  versions: readonly RateCardVersion[],
  period: BillingPeriod,
): UsageAggregationPlan {
  const sorted = sortedVersions(versions);
  return {
    period,
    segments: versionSegments(sorted, period),
    keysBySku: [...groupingKeysBySku(sorted)].map(([sku, keys]) => ({ sku, keys })),
    latestSkus: latestSkus(sorted),
  };
}
