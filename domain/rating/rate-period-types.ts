import type { RateCardVersion } from '../../contracts/ratecard.ts';
import type { TimeRange } from './proration.ts';
import type { VersionSegment } from './version-segments.ts';

/** A version segment with its version (null before the card's first version) and its time range. */
export interface SegmentWithVersion {
  readonly segment: VersionSegment;
  readonly version: RateCardVersion | null;
  readonly range: TimeRange;
}
