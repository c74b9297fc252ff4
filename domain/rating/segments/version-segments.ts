import type { RateCardVersion } from '../../../contracts/ratecard.ts';
import type { BillingPeriod } from '../../period.ts';
import { instantKey } from '../time/instant-key.ts';
import { RatingInputError } from '../rating-input-error.ts';

/**
 * A stretch of the billing period during which one rate-card version is in force (rule 11).
 * `effectiveFrom` is that version's `effective_from`, or null before the card's first version
 * (usage there is unpriced: no price exists yet).
 */
export interface VersionSegment {
  readonly effectiveFrom: string | null;
  /** Inclusive, `YYYY-MM-DDTHH:MM:SS.sssZ`. */
  readonly start: string;
  /** Exclusive. */
  readonly end: string;
}

/**
 * Splits `period` at every version boundary inside it. The segments are contiguous, in time order,
 * and cover the whole period. An event at instant t belongs to the segment with start <= t < end;
 * in SQL: `CASE WHEN t >= $start_n THEN $effective_n … WHEN t >= $start_1 THEN $effective_1 END`
 * (a NULL result is the no-version segment).
 *
 * @example versions effective 2026-10-01 and 2026-10-16, period 2026-10:
 *   [{ effectiveFrom: '2026-10-01T00:00:00.000Z', start: '2026-10-01T00:00:00.000Z', end: '2026-10-16T00:00:00.000Z' },
 *    { effectiveFrom: '2026-10-16T00:00:00.000Z', start: '2026-10-16T00:00:00.000Z', end: '2026-11-01T00:00:00.000Z' }]
 */
export function versionSegments(versions: readonly RateCardVersion[], period: BillingPeriod): VersionSegment[] {
  const sorted = sortedVersions(versions);
  const periodStart = new Date(period.start).toISOString();
  const periodEnd = new Date(period.end).toISOString();
  const segments: VersionSegment[] = [];
  const first = sorted[0];
  if (first === undefined || first.effective_from > periodStart) {
    const end = first === undefined || first.effective_from > periodEnd ? periodEnd : first.effective_from;
    segments.push({ effectiveFrom: null, start: periodStart, end });
  }
  sorted.forEach((version, index) => {
    const next = sorted[index + 1];
    const start = version.effective_from > periodStart ? version.effective_from : periodStart;
    const end = next === undefined || next.effective_from > periodEnd ? periodEnd : next.effective_from;
    if (start < end) segments.push({ effectiveFrom: version.effective_from, start, end });
  });
  return segments;
}

/** The versions sorted by effective_from; refuses two versions of one instant or of different cards. */
export function sortedVersions(versions: readonly RateCardVersion[]): RateCardVersion[] {
  const sorted = [...versions].sort((a, b) =>
    a.effective_from < b.effective_from ? -1 : a.effective_from > b.effective_from ? 1 : 0,
  );
  sorted.forEach((version, index) => {
    const previous = sorted[index - 1];
    if (previous && previous.effective_from === version.effective_from) {
      throw new RatingInputError(
        'duplicate_version',
        `two versions of rate card ${version.ratecard} take effect at ${version.effective_from}`,
      );
    }
    if (previous && previous.ratecard !== version.ratecard) {
      throw new RatingInputError(
        'ratecard_mismatch',
        `versions of different rate cards (${previous.ratecard}, ${version.ratecard}) cannot rate one period`,
      );
    }
  });
  return sorted;
}

/** Finds the segment an event belongs to, by its instant key; segments are few, so a scan from the end. */
export class SegmentLocator {
  private readonly startKeys: string[];
  private readonly endKey: string;

  constructor(readonly segments: readonly VersionSegment[]) {
    this.startKeys = segments.map((segment) => instantKey(segment.start));
    const last = segments.at(-1);
    this.endKey = last === undefined ? '' : instantKey(last.end);
  }

  /** The index of the segment holding the instant, or -1 when it is outside the period. */
  indexOf(key: string): number {
    if (key >= this.endKey) return -1;
    for (let index = this.startKeys.length - 1; index >= 0; index -= 1) {
      if (key >= (this.startKeys[index] as string)) return index;
    }
    return -1;
  }
}
