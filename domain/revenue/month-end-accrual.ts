import type { JournalEntry, JournalEntryType } from '../../contracts/journal-entry.ts';
import { buildEntry, journalEntryKey, type Posting } from '../journal/index.ts';
import { Decimal } from '../money.ts';
import { billingPeriod, nextPeriod } from '../period.ts';
import { netBySource, positionToDate, type PositionInput } from './daily-recognition.ts';
import { recognitionDay } from './recognition-day.ts';
import { RevenueError } from './revenue-error.ts';

/** The calculation version of month-end accrual entries (accrual, true-ups, reversals). */
const REVENUE_ACCRUAL_VERSION = 'revenue-accrual-v1';

/**
 * Every entry type recognition posts for a customer-period before its invoice, settlement aside:
 * the days, the month-end accrual, its true-ups and their reversals. Their net is what the
 * invoice's settlement reverses (zero once the accrual is reversed).
 */
export const RECOGNITION_ENTRY_TYPES = [
  'revenue_recognized',
  'revenue_accrued',
  'accrual_trued_up',
  'accrual_reversed',
] as const satisfies readonly JournalEntryType[];

export interface MonthEndAccrualInput extends PositionInput {
  readonly customerId: string;
  /** The period accrued (`YYYY-MM`): `ratedToDate` is it rated on every usage that occurred before its end. */
  readonly period: string;
  /** The period's recognition entries posted so far (RECOGNITION_ENTRY_TYPES, any order). */
  readonly recognized: readonly JournalEntry[];
  /**
   * Whether the period's accrual already ran (the customer-period's record says so, even when it
   * posted nothing); absent: told by the entries (an accrual or a reversal posted).
   */
  readonly accrued?: boolean;
  /** Where the accrual or true-up books: the period itself (the caller does not accrue a locked period). */
  readonly postingPeriod?: string;
  /** Where its reversal books: the first day of the next period, or the first open period after it. */
  readonly reversalPostingPeriod?: string;
}

export interface MonthEndAccrual {
  /** `accrual`: the period's first; `true_up`: a later one for usage stored after it. */
  readonly kind: 'accrual' | 'true_up';
  /** Usage rated through period end, as a position (net signed amount per account and line). */
  readonly position: readonly Posting[];
  /** The position minus what the period's entries already hold; null when nothing changed. */
  readonly entry: JournalEntry | null;
  /** Dated the first day of the next period: the position the entry completes, reversed. */
  readonly reversal: JournalEntry | null;
}

/**
 * The month-end accrual of a customer-period not yet invoiced at month end (SPEC §11), dated the
 * last day of the period, and its reversal, dated the first day of the next one.
 *
 * Daily recognition is the running accrual: through the last day it holds usage rated to date in
 * Unbilled AR. The month-end accrual brings that position to usage rated through period end (the
 * usage stored within the latency window after the last daily run), so the period's entries add up
 * to the accrual; the reversal takes the whole accrued position out in the next period, where the
 * invoice then posts its own entries: the period keeps the accrual, the next one invoice minus
 * accrual, and the service period, across both, exactly the invoice.
 *
 * A true-up (usage stored after the accrual, beyond the latency window, while the invoice is still
 * not issued) is the same computation again: the position through period end minus everything the
 * period holds, booked in the period, with its own reversal next to the accrual's. It is numbered
 * (`true-up-<n>`, n the true-ups already posted plus one), so its key is deterministic from the
 * ledger and a rerun with no new usage posts nothing.
 *
 * Worked example (USD, 0.01 per unit): days through the 31st recognized 500 units → 5.00; 30 more
 * units of the 31st stored the next morning, within the window. Accrual: Unbilled AR 0.30 / Usage
 * revenue 0.30 (the period holds 5.30); reversal on the 1st: Usage revenue 5.30 / Unbilled AR 5.30.
 * 20 units more stored a week later: true-up 1, Unbilled AR 0.20 / Usage 0.20, reversed 0.20.
 */
export function monthEndAccrual(input: MonthEndAccrualInput): MonthEndAccrual {
  const period = billingPeriod(input.period);
  if (input.ratedToDate.period !== period.name) {
    throw new RevenueError(
      'invalid_recognition_input',
      `the accrual of ${period.name} needs the usage of ${period.name}, not of ${input.ratedToDate.period}`,
    );
  }
  const lastDay = recognitionDay(new Date(Date.parse(period.end) - 86_400_000).toISOString().slice(0, 10));
  const firstDayAfter = nextPeriod(period).start.slice(0, 10);
  const position = positionToDate(input, lastDay);
  const accruedEntries = input.recognized.filter((entry) => entry.entry_type !== 'accrual_reversed');
  const held = netBySource(accruedEntries);
  // The accrual's own entry is absent when the days already held the whole position; its reversal is not.
  const accrued =
    input.accrued ??
    input.recognized.some((entry) => entry.entry_type === 'revenue_accrued' || entry.entry_type === 'accrual_reversed');
  const trueUps = input.recognized.filter((entry) => entry.entry_type === 'accrual_trued_up').length;

  const delta: Posting[] = [];
  const keys = new Set([...position.keys(), ...held.keys()]);
  for (const key of [...keys].sort()) {
    const target = position.get(key)?.amount ?? new Decimal(0);
    const difference = target.minus(held.get(key)?.amount ?? new Decimal(0));
    if (difference.isZero()) continue;
    const { account, sourceLineKey } = position.get(key) ?? (held.get(key) as Posting);
    delta.push({ account, sourceLineKey, amount: difference });
  }

  const kind = accrued ? 'true_up' : 'accrual';
  const parts = accrued ? [input.customerId, period.name, `true-up-${trueUps + 1}`] : [input.customerId, period.name];
  const header = {
    customer_id: input.customerId,
    invoice_id: null,
    currency: input.ratedToDate.currency,
    service_period: period.name,
    calculation_version: REVENUE_ACCRUAL_VERSION,
  };
  const entryType = accrued ? 'accrual_trued_up' : 'revenue_accrued';
  const entry = buildEntry(
    {
      ...header,
      entry_key: journalEntryKey({ kind: 'accrual', parts }, entryType, REVENUE_ACCRUAL_VERSION),
      entry_type: entryType,
      posting_period: input.postingPeriod ?? period.name,
      memo: accrued
        ? `True-up ${trueUps + 1} of the month-end accrual of ${period.name} for ${input.customerId}: usage stored after the accrual (dated ${lastDay.day})`
        : `Month-end accrual of ${period.name} for ${input.customerId}: usage rated through period end, not yet invoiced (dated ${lastDay.day})`,
    },
    delta,
  );
  // The accrual's reversal takes out the whole accrued position (days included); a true-up's only itself.
  const reversed = accrued
    ? delta
    : [...position.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, posting]) => posting);
  const reversal = buildEntry(
    {
      ...header,
      entry_key: journalEntryKey({ kind: 'accrual', parts }, 'accrual_reversed', REVENUE_ACCRUAL_VERSION),
      entry_type: 'accrual_reversed',
      posting_period: input.reversalPostingPeriod ?? nextPeriod(period).name,
      memo: accrued
        ? `Reversal of true-up ${trueUps + 1} of the accrual of ${period.name} for ${input.customerId} (dated ${firstDayAfter})`
        : `Reversal of the month-end accrual of ${period.name} for ${input.customerId} (dated ${firstDayAfter}): the invoice posts against it`,
    },
    reversed.map((posting) => ({ ...posting, amount: posting.amount.negated() })),
  );
  return { kind, position: [...position.values()], entry, reversal };
}
