import type pg from 'pg';
import { parseContractText, type Contract } from '../contracts/contract.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { invoiceIdFor } from '../activities/billing-activities.ts';
import { withTransaction } from '../db/pool.ts';
import { customerHasCorrections } from '../db/queries/backfills.ts';
import { currentContractTexts, currentContractTextsPage } from '../db/queries/contract-publications.ts';
import { recordCreditGrants } from '../activities/credit-ledger.ts';
import { usableCredits } from '../db/queries/credit-ledger.ts';
import { insertJournalEntries, loadJournalEntries, prepaidCreditTermsRows } from '../db/queries/journal.ts';
import {
  lockedAccountingPeriods,
  lockRecognitionPeriod,
  recordRecognizedDay,
} from '../db/queries/revenue-recognition.ts';
import { loadUsageAggregates } from '../db/queries/usage-aggregates.ts';
import { assertBalanced, commitDueForPeriod } from '../domain/journal/index.ts';
import { Decimal, formatMoney } from '../domain/money.ts';
import { ratePeriod, usageAggregationPlan } from '../domain/rating/index.ts';
import {
  openPostingPeriod,
  recognitionDay,
  recognizeDay,
  type RecognitionCredit,
  type RecognitionDay,
} from '../domain/revenue/index.ts';
import { CALCULATION_VERSION } from '../domain/calculation-version.ts';
import { previousPeriod, type BillingPeriod } from '../domain/period.ts';
import type { TermsSource } from '../terms/index.ts';

export interface RevenueDependencies {
  readonly pool: pg.Pool;
  /** The published contracts and rate cards. */
  readonly terms: TermsSource;
}

/** What recognizing one customer's day did. */
export type DayRecognitionOutcome =
  | {
      readonly status: 'recognized';
      readonly customerId: string;
      readonly day: string;
      /** The day's entry, or null when nothing changed since the day before. */
      readonly entryKey: string | null;
      readonly postingPeriod: string;
      /** Usage revenue the day's entry credits (negative: a reversal, e.g. a volume tier lowering the price). */
      readonly usageRevenue: string;
      readonly currency: string;
    }
  /** The day, or a later one, is already recognized: a rerun posts nothing. */
  | {
      readonly status: 'already_recognized';
      readonly customerId: string;
      readonly day: string;
      readonly lastDay: string;
    }
  /** The period's invoice has settled its recognition: its entries stand, days post nothing more. */
  | { readonly status: 'settled'; readonly customerId: string; readonly day: string; readonly invoiceId: string }
  /** The period's month-end accrual ran: its usage stored since is trued up, not recognized by day. */
  | { readonly status: 'accrued'; readonly customerId: string; readonly day: string; readonly accruedAt: string }
  /** The contract does not cover the day's period. */
  | { readonly status: 'not_active'; readonly customerId: string; readonly day: string };

/** The day is not over yet: recognition runs for delivered usage only. */
class DayNotOverError extends TallyError {
  constructor(day: RecognitionDay, now: string) {
    super('day_not_over', `day ${day.day} is not over yet (it ends at ${day.end}; now is ${now})`, {
      permanent: true,
    });
  }
}

/**
 * Recognizes one customer's day (SPEC §11): rates the period on the usage that occurred before the
 * day's end, builds the recognized position (domain/revenue) and posts the difference from what
 * earlier days recognized, booked in the open accounting period. Idempotent per customer and day:
 * the day is recorded in the same transaction as its entry, under the customer-period's row lock.
 */
export async function recognizeCustomerDay(
  deps: RevenueDependencies,
  input: { customerId: string; day: string; now: string },
): Promise<DayRecognitionOutcome> {
  const { pool } = deps;
  const day = recognitionDay(input.day);
  if (Date.parse(day.end) > Date.parse(input.now)) throw new DayNotOverError(day, input.now);
  const { customerId } = input;
  const terms = await deps.terms.current(customerId);
  const { contract } = terms;
  if (!coversPeriod(contract, day)) return { status: 'not_active', customerId, day: day.day };

  const { ratedToDate, credits } = await rateThrough(deps, {
    customerId,
    terms,
    period: day.billingPeriod,
    end: day.end,
  });

  return withTransaction(pool, async (client) => {
    const period = await lockRecognitionPeriod(client, { customerId, period: day.period });
    if (period.settled_by_invoice_id !== null)
      return { status: 'settled', customerId, day: day.day, invoiceId: period.settled_by_invoice_id };
    if (period.accrued_at !== null)
      return { status: 'accrued', customerId, day: day.day, accruedAt: period.accrued_at };
    if (period.last_day !== null && period.last_day >= day.day)
      return { status: 'already_recognized', customerId, day: day.day, lastDay: period.last_day };
    const recognized = await loadJournalEntries(client, {
      customerId,
      servicePeriod: day.period,
      entryTypes: ['revenue_recognized'],
    });
    const postingPeriod = openPostingPeriod(day.period, await lockedAccountingPeriods(client));
    const { entry } = recognizeDay({
      customerId,
      day: day.day,
      ratedToDate,
      commit: {
        policy: contract.revenue.commit_policy,
        amount: commitDueForPeriod(ratedToDate.lines, contract.commit?.amount),
      },
      credits,
      recognized,
      postingPeriod,
    });
    if (entry !== null) {
      assertBalanced(entry);
      await insertJournalEntries(client, [entry]);
    }
    await recordRecognizedDay(client, {
      customerId,
      period: day.period,
      day: day.day,
      currency: contract.currency,
      entryKey: entry?.entry_key ?? null,
    });
    const usageRevenue = (entry?.lines ?? [])
      .filter((line) => line.account === 'usage_revenue')
      .reduce((sum, line) => sum.plus(line.credit).minus(line.debit), new Decimal(0));
    return {
      status: 'recognized',
      customerId,
      day: day.day,
      entryKey: entry?.entry_key ?? null,
      postingPeriod,
      usageRevenue: formatMoney(usageRevenue, contract.currency),
      currency: contract.currency,
    };
  });
}

/**
 * The period rated from the usage that occurred before `end` (cumulative: tiers priced on the
 * quantity to date), with the credits usable in it: what daily recognition and the month-end
 * accrual build their positions from.
 */
export async function rateThrough(
  deps: RevenueDependencies,
  input: { customerId: string; terms: Awaited<ReturnType<TermsSource['current']>>; period: BillingPeriod; end: string },
): Promise<{ ratedToDate: ReturnType<typeof ratePeriod>; credits: RecognitionCredit[] }> {
  const { pool } = deps;
  const { customerId, terms } = input;
  const { contract } = terms;
  // Credits as the period opened (the rating step records grants the same way, idempotently).
  if (contract.credits.length > 0) {
    await recordCreditGrants(pool, { customerId, currency: contract.currency, grants: contract.credits });
  }
  const credits = await recognitionCredits(pool, customerId, input.period.name);

  const plan = usageAggregationPlan(terms.versions, {
    name: input.period.name,
    start: input.period.start,
    end: input.end,
  });
  // Corrections (SPEC §5) count as the close will count them: through the corrected event set.
  const corrected = await customerHasCorrections(pool, customerId);
  const aggregates = await loadUsageAggregates(pool, plan, {
    customerId,
    ...(corrected ? { table: 'corrected_usage_events' } : {}),
  });
  const ratedToDate = ratePeriod({
    customerId,
    period: input.period,
    contract,
    versions: terms.versions,
    aggregates,
    counters: {
      read: aggregates.reduce((sum, aggregate) => sum + aggregate.eventCount, 0),
      duplicates: 0,
      outside_period: 0,
    },
    credits: [],
    calculationVersion: CALCULATION_VERSION,
  });

  return { ratedToDate, credits };
}

/**
 * The customers whose published contract covers the day's period or the one before, by id;
 * unparsable contracts named. The period before counts because its month-end accrual and true-ups
 * are owed by the days after it: a contract that ended with the month still has its last month
 * accrued (its day itself is then `not_active`).
 */
export async function recognitionCustomers(
  pool: pg.Pool,
  input: { day: string },
): Promise<{ customerIds: string[]; problems: string[] }> {
  const { customerIds, problems } = recognitionCustomersOf(input.day, await currentContractTexts(pool));
  return { customerIds: customerIds.sort(), problems };
}

/**
 * One page of `recognitionCustomers`: the published contracts after `after` in customer id order,
 * at most `limit` of them, and where the next page starts (null after the last). A page can hold
 * fewer customers than contracts read (contracts that cover neither period are left out).
 */
export async function recognitionCustomerPage(
  pool: pg.Pool,
  input: { day: string; after: string | null; limit: number },
): Promise<{ customerIds: string[]; problems: string[]; next: string | null }> {
  const texts = await currentContractTextsPage(pool, { after: input.after, limit: input.limit });
  const next = texts.length < input.limit ? null : (texts.at(-1)?.customerId ?? null);
  return { ...recognitionCustomersOf(input.day, texts), next };
}

function recognitionCustomersOf(
  dayText: string,
  texts: readonly { customerId: string; content: string; fileName: string }[],
): { customerIds: string[]; problems: string[] } {
  const day = recognitionDay(dayText);
  const before = previousPeriod(day.billingPeriod);
  const customerIds: string[] = [];
  const problems: string[] = [];
  for (const text of texts) {
    const parsed = parseContractText(text.content, text.fileName);
    if (!parsed.ok) problems.push(`${text.customerId}: the published contract no longer parses`);
    else if (coversPeriod(parsed.contract, day) || coversPeriod(parsed.contract, { billingPeriod: before }))
      customerIds.push(parsed.contract.customer_id);
  }
  return { customerIds, problems };
}

export function coversPeriod(contract: Contract, day: Pick<RecognitionDay, 'billingPeriod'>): boolean {
  const startsBeforeEnd =
    contract.starts_at === undefined || Date.parse(contract.starts_at) < Date.parse(day.billingPeriod.end);
  const endsAfterStart =
    contract.ends_at === undefined || Date.parse(contract.ends_at) > Date.parse(day.billingPeriod.start);
  return startsBeforeEnd && endsAfterStart;
}

/** Usable credits at their opening balances, prepaid ones with their terms from the credit ledger. */
async function recognitionCredits(pool: pg.Pool, customerId: string, period: string): Promise<RecognitionCredit[]> {
  const usable = await usableCredits(pool, { customerId, period });
  const prepaidIds = usable.filter((credit) => credit.kind === 'prepaid').map((credit) => credit.credit_id);
  const terms = await prepaidCreditTermsRows(pool, {
    customerId,
    period,
    invoiceId: invoiceIdFor({ customerId, period, mode: 'live', calculationVersion: CALCULATION_VERSION }),
    creditIds: prepaidIds,
  });
  return usable.map((credit) => {
    const prepaid = terms.find((row) => row.credit_id === credit.credit_id);
    return {
      id: credit.credit_id,
      kind: credit.kind,
      remaining: credit.opening_balance,
      granted_at: credit.granted_at,
      ...(credit.expires_at === null ? {} : { expires_at: credit.expires_at }),
      ...(prepaid === undefined
        ? {}
        : {
            prepaid: {
              amount: prepaid.amount,
              consideration_paid: prepaid.consideration_paid,
              consumed_before: prepaid.consumed_before,
            },
          }),
    };
  });
}
