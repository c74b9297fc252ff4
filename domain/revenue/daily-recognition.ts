import type { JournalEntry } from '../../contracts/journal-entry.ts';
import type { Invoice } from '../../contracts/invoice.ts';
import {
  buildEntry,
  credit,
  debit,
  isAccountCode,
  journalEntryKey,
  type AccountCode,
  type CommitPolicy,
  type Posting,
} from '../journal/index.ts';
import { Decimal, roundMoneyHalfUp, sumDecimals } from '../money.ts';
import { drawDownCredits, type CreditBalance } from '../rating/index.ts';
import { recognitionDay, type RecognitionDay } from './recognition-day.ts';
import { RevenueError } from './revenue-error.ts';

/** The calculation version of recognition entries (daily recognition and its settlement). */
const REVENUE_RECOGNITION_VERSION = 'revenue-recognition-v1';

/** A credit usable in the period, as its balance opened, with a prepaid grant's terms. */
export interface RecognitionCredit extends CreditBalance {
  /** Prepaid only: face value granted, what was paid for it, and what invoices of earlier periods drew. */
  readonly prepaid?: {
    readonly amount: string;
    readonly consideration_paid: string;
    readonly consumed_before: string;
  };
}

export interface DailyRecognitionInput {
  readonly customerId: string;
  /** `YYYY-MM-DD`: recognition runs through the end of this UTC day, in the period the day is in. */
  readonly day: string;
  /**
   * The whole period rated (domain/rating `ratePeriod`, no credits) from the usage that occurred
   * before the end of `day`: cumulative, so tiers are priced on the period's quantity to date.
   */
  readonly ratedToDate: Pick<Invoice, 'currency' | 'lines' | 'period'>;
  /** The contract's commit policy and the commit due for the period (null: none). */
  readonly commit: { readonly policy: CommitPolicy; readonly amount: string | null };
  /** Credits usable in the period at their opening balances (before the period's own invoice drew). */
  readonly credits: readonly RecognitionCredit[];
  /** The period's recognition entries already posted (earlier days). */
  readonly recognized: readonly JournalEntry[];
  /** The accounting period to book in: the day's period, or the open period when it is locked. */
  readonly postingPeriod?: string;
}

export interface DailyRecognition {
  readonly day: RecognitionDay;
  /** The recognized position through the end of the day: what the period's entries add up to once this one posts. */
  readonly position: readonly Posting[];
  /** The day's entry: the position minus what is already recognized; null when nothing changed. */
  readonly entry: JournalEntry | null;
}

/**
 * Revenue recognized as usage is delivered (SPEC §11), one entry per customer and day. The
 * position through day d of N is built from the period rated on the usage to date, never from
 * per-event prices (tiers are non-linear), and the day's entry is that position minus what earlier
 * days recognized, so every rounding and every tier crossing is absorbed exactly once:
 *
 * | obligation | debit | credit |
 * | --- | --- | --- |
 * | usage (per usage line, to date) | Unbilled AR | Usage revenue |
 * | discounts (to date) | Contra-revenue – discounts | Unbilled AR |
 * | fees, ratably: round(fee × d ÷ N) | Unbilled AR | Subscription revenue |
 * | commit, ratable: max(round(C × d ÷ N), usage inside C) | Usage revenue (usage inside C) + Unbilled AR | Commitment revenue |
 * | commit, drawdown: shortfall on the last day | Unbilled AR | Revenue – breakage |
 * | promotional credit drawn against the subtotal to date | Contra-revenue – promotional | Unbilled AR |
 * | prepaid credit drawn (effective price, cumulative rounding) | Contract liability + Contra-revenue – prepaid bonus | Unbilled AR |
 *
 * On the last day of the period, with no usage arriving later, the position is exactly what the
 * invoice journal posts for the same lines (property-tested), so the settlement at invoice reverses
 * an estimate equal to the invoice and the invoice's own entries stand.
 *
 * Worked example (USD, graduated 0.10 up to 1000, 0.05 above; fee 310.00; October, 31 days):
 * day 1, 600 units → usage 60.00, fee 10.00 → Unbilled AR 70.00 / Usage 60.00 + Subscription 10.00.
 * day 2, 1200 units to date → usage 110.00 (1000 × 0.10 + 200 × 0.05, not 1200 × 0.10), fee 20.00 →
 * the entry is Unbilled AR 60.00 / Usage 50.00 + Subscription 10.00.
 */
export function recognizeDay(input: DailyRecognitionInput): DailyRecognition {
  const day = recognitionDay(input.day);
  const { currency } = input.ratedToDate;
  if (input.ratedToDate.period !== day.period) {
    throw new RevenueError(
      'invalid_recognition_input',
      `day ${day.day} is in ${day.period}, but the usage was rated for ${input.ratedToDate.period}`,
    );
  }
  const position = positionToDate(input, day);
  const recognized = netBySource(input.recognized);
  const delta: Posting[] = [];
  const keys = new Set([...position.keys(), ...recognized.keys()]);
  for (const key of [...keys].sort()) {
    const target = position.get(key)?.amount ?? new Decimal(0);
    const already = recognized.get(key)?.amount ?? new Decimal(0);
    const difference = target.minus(already);
    if (difference.isZero()) continue;
    const { account, sourceLineKey } = position.get(key) ?? (recognized.get(key) as Posting);
    delta.push({ account, sourceLineKey, amount: difference });
  }
  const entry = buildEntry(
    {
      entry_key: journalEntryKey(
        { kind: 'recognition', parts: [input.customerId, day.day] },
        'revenue_recognized',
        REVENUE_RECOGNITION_VERSION,
      ),
      entry_type: 'revenue_recognized',
      customer_id: input.customerId,
      invoice_id: null,
      currency,
      service_period: day.period,
      posting_period: input.postingPeriod ?? day.period,
      calculation_version: REVENUE_RECOGNITION_VERSION,
      memo: `Revenue recognized through ${day.day} (day ${day.dayOfPeriod} of ${day.daysInPeriod} of ${day.period}) for ${input.customerId}`,
    },
    delta,
  );
  return { day, position: [...position.values()], entry };
}

/**
 * At invoice: the period's recognized position reversed, so the invoice's own entries (built from
 * the issued lines, late usage within grace included) are what the period keeps. The difference
 * between the invoice and the last day's position is the true-up. Null when nothing was recognized.
 */
export function recognitionSettlementEntry(input: {
  readonly customerId: string;
  readonly currency: string;
  readonly period: string;
  readonly invoiceId: string;
  readonly recognized: readonly JournalEntry[];
  readonly postingPeriod?: string;
}): JournalEntry | null {
  const reversal = [...netBySource(input.recognized).entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, posting]) => ({ ...posting, amount: posting.amount.negated() }));
  return buildEntry(
    {
      entry_key: journalEntryKey(
        { kind: 'recognition', parts: [input.customerId, input.period] },
        'recognition_settled',
        REVENUE_RECOGNITION_VERSION,
      ),
      entry_type: 'recognition_settled',
      customer_id: input.customerId,
      invoice_id: null,
      currency: input.currency,
      service_period: input.period,
      posting_period: input.postingPeriod ?? input.period,
      calculation_version: REVENUE_RECOGNITION_VERSION,
      memo: `Daily recognition of ${input.period} settled by invoice ${input.invoiceId} (its entries recognize the period)`,
    },
    reversal,
  );
}

/** What the recognized position is built from: the period rated to date, the commit and the credits. */
export type PositionInput = Pick<DailyRecognitionInput, 'ratedToDate' | 'commit' | 'credits'>;

/**
 * The recognized position through the end of `day` (net signed amount per account and invoice line
 * key): what the period's recognition entries add up to once the day is recognized. Balances.
 */
export function positionToDate(input: PositionInput, day: RecognitionDay): Map<string, Posting> {
  const { currency, lines } = input.ratedToDate;
  const postings: Posting[] = [];
  const ratably = (amount: Decimal): Decimal =>
    roundMoneyHalfUp(amount.times(day.dayOfPeriod).dividedBy(day.daysInPeriod), currency);

  let usageAndDiscounts = new Decimal(0);
  let subtotal = new Decimal(0);
  for (const line of lines) {
    const amount = new Decimal(line.amount);
    switch (line.kind) {
      case 'usage':
        postings.push(debit('unbilled_receivables', amount, line.line_key));
        postings.push(credit('usage_revenue', amount, line.line_key));
        usageAndDiscounts = usageAndDiscounts.plus(amount);
        subtotal = subtotal.plus(amount);
        break;
      case 'discount':
        postings.push(debit('contra_revenue_discounts', amount.negated(), line.line_key));
        postings.push(credit('unbilled_receivables', amount.negated(), line.line_key));
        usageAndDiscounts = usageAndDiscounts.plus(amount);
        subtotal = subtotal.plus(amount);
        break;
      case 'fee': {
        const toDate = ratably(amount);
        postings.push(debit('unbilled_receivables', toDate, line.line_key));
        postings.push(credit('subscription_revenue', toDate, line.line_key));
        subtotal = subtotal.plus(toDate);
        break;
      }
      case 'commit_true_up':
      case 'credit':
      case 'adjustment':
        // The commit is recognized below from the terms; credits are drawn below against the
        // subtotal to date; adjustments belong to the invoice that bills them.
        break;
    }
  }

  const commit = input.commit.amount === null ? null : new Decimal(input.commit.amount);
  if (commit !== null && !commit.isZero()) {
    const inside = Decimal.min(usageAndDiscounts, commit);
    if (input.commit.policy === 'ratable') {
      // Straight-line, unless usage inside the commit already exceeds the line: then that usage is it.
      const recognizedCommit = Decimal.max(ratably(commit), inside);
      const shortfall = recognizedCommit.minus(inside);
      postings.push(debit('usage_revenue', inside, 'commit_true_up'));
      postings.push(debit('unbilled_receivables', shortfall, 'commit_true_up'));
      postings.push(credit('commitment_revenue', recognizedCommit, 'commit_true_up'));
      subtotal = subtotal.plus(shortfall);
    } else if (day.isLastDayOfPeriod) {
      // Drawdown: usage is revenue as consumed; the shortfall is breakage at the end of the commitment period.
      const shortfall = Decimal.max(commit.minus(usageAndDiscounts), 0);
      postings.push(debit('unbilled_receivables', shortfall, 'commit_true_up'));
      postings.push(credit('breakage_revenue', shortfall, 'commit_true_up'));
      subtotal = subtotal.plus(shortfall);
    }
  }

  const terms = new Map(input.credits.map((candidate) => [candidate.id, candidate]));
  for (const use of drawDownCredits(input.credits, subtotal, day.billingPeriod, currency)) {
    const key = `credit:${use.credit.id}`;
    postings.push(credit('unbilled_receivables', use.amount, key));
    if (use.credit.kind === 'promotional') {
      postings.push(debit('contra_revenue_promotional_credits', use.amount, key));
      continue;
    }
    const prepaid = terms.get(use.credit.id)?.prepaid;
    if (prepaid === undefined) {
      throw new RevenueError(
        'invalid_recognition_input',
        `prepaid credit ${use.credit.id} is drawn without its terms (face value, consideration paid)`,
      );
    }
    // The same cumulative rounding as the invoice journal: released(c) = round(paid × c ÷ face).
    const face = new Decimal(prepaid.amount);
    const paid = new Decimal(prepaid.consideration_paid);
    const before = new Decimal(prepaid.consumed_before);
    const released = (consumed: Decimal): Decimal => roundMoneyHalfUp(paid.times(consumed).dividedBy(face), currency);
    const release = released(before.plus(use.amount)).minus(released(before));
    postings.push(debit('contract_liability_prepaid_credits', release, key));
    postings.push(debit('contra_revenue_prepaid_bonus', use.amount.minus(release), key));
  }

  const net = new Map<string, Posting>();
  for (const posting of postings) addPosting(net, posting);
  for (const [key, posting] of net) if (posting.amount.isZero()) net.delete(key);
  const total = sumDecimals([...net.values()].map((posting) => posting.amount));
  if (!total.isZero()) {
    throw new RevenueError(
      'invalid_recognition_input',
      `the position through ${day.day} does not balance (${total.toString()})`,
    );
  }
  return net;
}

/** Net signed amount per (account, source line) over entries. */
export function netBySource(entries: readonly JournalEntry[]): Map<string, Posting> {
  const net = new Map<string, Posting>();
  for (const entry of entries) {
    for (const line of entry.lines) {
      if (!isAccountCode(line.account)) {
        throw new RevenueError('invalid_recognition_input', `${entry.entry_key}: unknown account ${line.account}`);
      }
      const account: AccountCode = line.account;
      addPosting(net, {
        account,
        sourceLineKey: line.source_line_key,
        amount: new Decimal(line.debit).minus(line.credit),
      });
    }
  }
  return net;
}

function addPosting(net: Map<string, Posting>, posting: Posting): void {
  const key = `${posting.account}\u0000${posting.sourceLineKey ?? ''}`;
  const existing = net.get(key);
  net.set(key, { ...posting, amount: (existing?.amount ?? new Decimal(0)).plus(posting.amount) });
}
