import type { RateCardVersion } from '../../../contracts/ratecard.ts';
import type { BillingPeriod } from '../../period.ts';
import { timeRange, type TimeRange } from '../time/time-range.ts';
import { versionSegments, type VersionSegment } from './version-segments.ts';

/** A version segment with its version (null before the card's first version) and its time range. */
export interface SegmentWithVersion {
  readonly segment: VersionSegment;
  readonly version: RateCardVersion | null;
  readonly range: TimeRange;
}

/**
 * Stage 1 of `ratePeriod` (rule 11): the version segments of the period, each with the version in
 * force during it. `versions` are the card's versions in `effective_from` order (`sortedVersions`).
 *
 * @example versions effective 2026-10-01 and 2026-10-16, period 2026-10: two segments,
 *   [10-01, 10-16) with the first version and [10-16, 11-01) with the second.
 */
export function segmentsInForce(versions: readonly RateCardVersion[], period: BillingPeriod): SegmentWithVersion[] {
  const byEffectiveFrom = new Map(versions.map((version) => [version.effective_from, version]));
  return versionSegments(versions, period).map((segment) => ({
    segment,
    version: segment.effectiveFrom === null ? null : (byEffectiveFrom.get(segment.effectiveFrom) ?? null),
    range: timeRange(segment.start, segment.end),
  }));
}
