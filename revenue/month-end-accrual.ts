import { bookInOpenPeriods } from '../activities/post-journal.ts';
import { withTransaction } from '../db/pool.ts';
import { insertJournalEntries, loadJournalEntries } from '../db/queries/journal.ts';
import { lockedAccountingPeriods, lockRecognitionPeriod, recordAccrual } from '../db/queries/revenue-recognition.ts';
import { assertBalanced, commitDueForPeriod } from '../domain/journal/index.ts';
import { Decimal, formatMoney } from '../domain/money.ts';
import { billingPeriod, nextPeriod, previousPeriod } from '../domain/period.ts';
import {
  monthEndAccrual,
  openPostingPeriod,
  RECOGNITION_ENTRY_TYPES,
  recognitionDay,
} from '../domain/revenue/index.ts';
import { coversPeriod, rateThrough, type RevenueDependencies } from './recognize-day.ts';

/** The latency window when none is configured: usage stored within a day after month end is in the accrual. */
const DEFAULT_ACCRUAL_LATENCY_MS = 24 * 3_600_000;

/** What the month-end accrual of one customer-period did. */
export type AccrualOutcome =
  | {
      /** `accrued`: the first accrual (with its reversal); `trued_up`: a true-up of it; `unchanged`: nothing new. */
      readonly status: 'accrued' | 'trued_up' | 'unchanged';
      readonly customerId: string;
      readonly period: string;
      readonly entryKey: string | null;
      readonly reversalKey: string | null;
      /** Unbilled AR the period holds after it: usage rated through period end, net of credits. */
      readonly accrualPosition: string;
      readonly currency: string;
    }
  /** Not yet: the period's end plus the latency window is still ahead. */
  | { readonly status: 'not_due'; readonly customerId: string; readonly period: string; readonly dueAt: string }
  /** The invoice settled the period: its entries recognize it, nothing is accrued. */
  | { readonly status: 'settled'; readonly customerId: string; readonly period: string; readonly invoiceId: string }
  /** The period is locked: its books take nothing more; the invoice posts in the open period. */
  | { readonly status: 'period_locked'; readonly customerId: string; readonly period: string }
  | { readonly status: 'not_active'; readonly customerId: string; readonly period: string }
  /** Daily recognition never ran for the period: nothing to accrue, its invoice recognizes it. */
  | { readonly status: 'not_recognized'; readonly customerId: string; readonly period: string };

/**
 * The month-end accrual of a customer-period whose invoice is not issued yet (SPEC §11; the rule in
 * domain/revenue/month-end-accrual.ts): once the period's end plus the latency window has passed,
 * the usage rated through period end is accrued (dated the period's last day) and reversed (dated
 * the first day of the next period, where the invoice then posts); each later run while the invoice
 * is still not issued trues it up with usage stored since. Under the customer-period's row lock,
 * which daily recognition and the invoice's journal step also take; idempotent (keys from the
 * ledger; a rerun with nothing new posts nothing).
 */
async function accrueCustomerPeriod(
  deps: RevenueDependencies,
  input: { customerId: string; period: string; now: string; latencyWindowMs?: number },
): Promise<AccrualOutcome> {
  const { pool } = deps;
  const { customerId } = input;
  const period = billingPeriod(input.period);
  const dueAt = new Date(Date.parse(period.end) + (input.latencyWindowMs ?? DEFAULT_ACCRUAL_LATENCY_MS));
  if (dueAt.getTime() > Date.parse(input.now))
    return { status: 'not_due', customerId, period: period.name, dueAt: dueAt.toISOString() };
  const terms = await deps.terms.current(customerId);
  const { contract } = terms;
  if (!coversPeriod(contract, { billingPeriod: period }))
    return { status: 'not_active', customerId, period: period.name };
  const { ratedToDate, credits } = await rateThrough(deps, { customerId, terms, period, end: period.end });

  return withTransaction(pool, async (client) => {
    const row = await lockRecognitionPeriod(client, { customerId, period: period.name });
    if (row.settled_by_invoice_id !== null)
      return { status: 'settled', customerId, period: period.name, invoiceId: row.settled_by_invoice_id };
    // Only a period daily recognition has started is accrued: one it never ran for (before the
    // contract's first recognized day, or before recognition was turned on) is left to its invoice.
    if (row.last_day === null && row.accrued_at === null)
      return { status: 'not_recognized', customerId, period: period.name };
    const locked = await lockedAccountingPeriods(client);
    // A locked period's books are final: an accrual (or true-up) booked elsewhere would sit next to
    // its own reversal in the same open period, netting to nothing.
    if (openPostingPeriod(period.name, locked) !== period.name)
      return { status: 'period_locked', customerId, period: period.name };
    const reversalPeriod = row.accrual_reversal_period ?? openPostingPeriod(nextPeriod(period).name, locked);
    const accrual = monthEndAccrual({
      customerId,
      period: period.name,
      ratedToDate,
      commit: {
        policy: contract.revenue.commit_policy,
        amount: commitDueForPeriod(ratedToDate.lines, contract.commit?.amount),
      },
      credits,
      recognized: await loadJournalEntries(client, {
        customerId,
        servicePeriod: period.name,
        entryTypes: [...RECOGNITION_ENTRY_TYPES],
      }),
      accrued: row.accrued_at !== null,
      postingPeriod: period.name,
      reversalPostingPeriod: reversalPeriod,
    });
    const entries = [accrual.entry, accrual.reversal].filter((entry) => entry !== null);
    for (const entry of entries) assertBalanced(entry);
    await insertJournalEntries(client, await bookInOpenPeriods(client, entries));
    if (accrual.kind === 'accrual') {
      await recordAccrual(client, {
        customerId,
        period: period.name,
        currency: contract.currency,
        entryKey: accrual.entry?.entry_key ?? null,
        reversalPeriod,
      });
    }
    const position = accrual.position
      .filter((posting) => posting.account === 'unbilled_receivables')
      .reduce((sum, posting) => sum.plus(posting.amount), new Decimal(0));
    return {
      status: accrual.kind === 'accrual' ? 'accrued' : accrual.entry === null ? 'unchanged' : 'trued_up',
      customerId,
      period: period.name,
      entryKey: accrual.entry?.entry_key ?? null,
      reversalKey: accrual.reversal?.entry_key ?? null,
      accrualPosition: formatMoney(position, contract.currency),
      currency: contract.currency,
    };
  });
}

/**
 * The accruals a day's run owes (the daily schedule and `tally revenue run` call it after the day's
 * recognition): for the day's period and the one before, the accrual once the day ends at or after
 * the period's end plus the latency window, or a true-up of it. Judged on the day, not the clock, so
 * recognizing an old day by hand accrues what the run of that day would have.
 */
export async function accrueDuePeriods(
  deps: RevenueDependencies,
  input: { customerId: string; day: string; latencyWindowMs?: number },
): Promise<AccrualOutcome[]> {
  const day = recognitionDay(input.day);
  const outcomes: AccrualOutcome[] = [];
  for (const period of [previousPeriod(day.billingPeriod), day.billingPeriod]) {
    const outcome = await accrueCustomerPeriod(deps, {
      customerId: input.customerId,
      period: period.name,
      now: day.end,
      ...(input.latencyWindowMs === undefined ? {} : { latencyWindowMs: input.latencyWindowMs }),
    });
    // A period invoiced (or never covered) owes nothing: only what the day did or could not do is told.
    if (!['not_due', 'not_active', 'settled', 'not_recognized'].includes(outcome.status)) outcomes.push(outcome);
  }
  return outcomes;
}
