import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { billingPeriod, nextPeriod } from '../period.ts';

/**
 * The accounting period an entry dated into `period` is booked in: `period` itself while it is open,
 * else the first open period after it (SPEC §11: a locked period takes no postings; the correction
 * posts to the open period and its service period still names the locked one).
 *
 * @example locked 2026-09 and 2026-10: 2026-08 → 2026-08; 2026-09 → 2026-11; 2026-10 → 2026-11.
 */
export function openPostingPeriod(period: string, lockedPeriods: Iterable<string>): string {
  const locked = new Set(lockedPeriods);
  let candidate = billingPeriod(period);
  while (locked.has(candidate.name)) candidate = nextPeriod(candidate);
  return candidate.name;
}

/**
 * Entries with their posting period moved out of locked periods, each moved one saying where it was
 * dated. Keys stay: a moved entry is the same posting, booked where the ledger can still take it.
 */
export function redirectFromLockedPeriods(
  entries: readonly JournalEntry[],
  lockedPeriods: readonly string[],
): JournalEntry[] {
  return entries.map((entry) => {
    const open = openPostingPeriod(entry.posting_period, lockedPeriods);
    if (open === entry.posting_period) return entry;
    return {
      ...entry,
      posting_period: open,
      memo: `${entry.memo} [dated into locked period ${entry.posting_period}, posted in ${open}]`,
    };
  });
}
