import type { MarketplaceKind } from '../../contracts/contract.ts';
import { earlierOf, hourEnd, nextMonthStart } from './utc-hours.ts';

/**
 * How long after its hour each marketplace still takes a record. Configuration, not constants:
 * the marketplaces have changed them before (AWS took records for 1 h, then 6 h, now 24 h).
 */
export interface ReportWindows {
  /** AWS BatchMeterUsage: a record's Timestamp may be at most this far in the past (documented: 24 h). */
  readonly awsWindowMs: number;
  /** …except across a month end: the previous month's records only until this long into the 1st (documented: 06:00 UTC). */
  readonly awsMonthEndGraceMs: number;
  /** Azure: effectiveStartTime at most this far in the past (documented: 24 h). */
  readonly azureWindowMs: number;
  /** Google Service Control: report an hour's usage within this long after the hour (documented: 1 h). */
  readonly gcpWindowMs: number;
}

export const DOCUMENTED_REPORT_WINDOWS: ReportWindows = {
  awsWindowMs: 24 * 3_600_000,
  awsMonthEndGraceMs: 6 * 3_600_000,
  azureWindowMs: 24 * 3_600_000,
  gcpWindowMs: 3_600_000,
};

/**
 * The instant from which the marketplace no longer takes the record of `hour` (exclusive: send
 * strictly before it). A record is sendable from the hour's end, so its window is [hour end, deadline).
 *
 * @example AWS, hour 2026-10-14T09:00Z → 2026-10-15T09:00Z (24 h after its Timestamp).
 * @example AWS, hour 2026-10-31T23:00Z → 2026-11-01T06:00Z (the month-end grace comes first, not 2026-11-01T23:00Z).
 * @example Azure, hour 2026-10-31T23:00Z → 2026-11-01T23:00Z. Google, hour 2026-10-14T09:00Z → 2026-10-14T11:00Z.
 */
export function reportDeadline(kind: MarketplaceKind, hour: string, windows: ReportWindows): string {
  const start = Date.parse(hour);
  switch (kind) {
    case 'aws':
      return earlierOf(
        new Date(start + windows.awsWindowMs).toISOString(),
        new Date(Date.parse(nextMonthStart(hour)) + windows.awsMonthEndGraceMs).toISOString(),
      );
    case 'azure':
      return new Date(start + windows.azureWindowMs).toISOString();
    case 'gcp':
      return new Date(Date.parse(hourEnd(hour)) + windows.gcpWindowMs).toISOString();
  }
}

/**
 * The instant at which an unsent record has used half of its window (from its hour's end to its
 * deadline): the scheduled sender raises an exception for any record still unsent then.
 *
 * @example AWS, hour 09:00Z on the 14th: window [10:00Z, 09:00Z on the 15th) → half at 21:30Z on the 14th.
 */
export function halfWindowAt(kind: MarketplaceKind, hour: string, windows: ReportWindows): string {
  const opens = Date.parse(hourEnd(hour));
  const closes = Date.parse(reportDeadline(kind, hour, windows));
  return new Date(opens + Math.max(0, closes - opens) / 2).toISOString();
}
