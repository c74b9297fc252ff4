import type { AdjustmentLine, CreditLine, FeeLine, InvoiceLine, IssuedInvoice } from '../../contracts/invoice.ts';
import type { JournalEntry, JournalEntryType } from '../../contracts/journal-entry.ts';
import { assertNever } from '../assert-never.ts';
import { Decimal, roundMoneyHalfUp, sumDecimals } from '../money.ts';
import { periodNameProblem } from '../period.ts';
import type { AccountCode } from './chart-of-accounts.ts';
import {
  buildEntry,
  credit,
  debit,
  JournalError,
  journalEntryKey,
  type EntryHeader,
  type Posting,
} from './journal-entry.ts';
import type { AdjustmentObligation, JournalPolicy, PrepaidCreditTerms } from './journal-policy.ts';

export interface InvoiceJournalInput {
  readonly invoice: IssuedInvoice;
  readonly policy: JournalPolicy;
  /** One per prepaid credit the invoice draws on (its `credit` lines of kind `prepaid`). */
  readonly prepaidCredits?: readonly PrepaidCreditTerms[];
}

/**
 * The revenue journal of one issued invoice (ASC 606; docs/decisions/journal.md). Entries, in order:
 *
 * | entry type | debit | credit |
 * | --- | --- | --- |
 * | usage_rated | Unbilled AR | Usage revenue (one pair per usage line) |
 * | discount_applied | Contra-revenue – discounts | Unbilled AR |
 * | commit_recognized (ratable) | Usage revenue (usage inside the commit) + Unbilled AR (shortfall) | Commitment revenue (the commit) |
 * | commit_shortfall_breakage (drawdown) | Unbilled AR | Revenue – breakage |
 * | promotional_credit_applied | Contra-revenue – promotional | Unbilled AR |
 * | prepaid_credit_consumed | Contract liability (effective price) + Contra-revenue – prepaid bonus | Unbilled AR |
 * | adjustment_posted (one per line) | Unbilled AR | the corrected obligation's revenue (negative: the reverse) |
 * | invoice_issued | AR (total) | Deferred revenue (fees) + Unbilled AR (the rest) |
 * | subscription_recognized | Deferred revenue | Subscription revenue |
 *
 * Every entry balances (asserted), carries a deterministic `entry_key`
 * (`invoice:<invoice_id>:<entry type>:<calculation version>`; adjustments add the line key to the
 * source), posts in the invoice's period and serves the invoice's period, except adjustments, which
 * serve the period they correct. Across an invoice, Unbilled AR and Deferred revenue net to zero and
 * AR carries the invoice total.
 *
 * Worked example (USD, drawdown): usage 600.00, fee 500.00, discount −60.00, promotional credit
 * −50.00 → total 990.00. Entries: Unbilled AR 600 / Usage revenue 600; Contra-discounts 60 /
 * Unbilled AR 60; Contra-promotional 50 / Unbilled AR 50; AR 990 / Deferred 500 + Unbilled AR 490;
 * Deferred 500 / Subscription revenue 500. Net revenue 990.00 = the total (no liability released).
 */
export function journalEntriesForInvoice(input: InvoiceJournalInput): JournalEntry[] {
  const { invoice, policy } = input;
  validateInvoice(invoice);
  const currency = invoice.currency;
  const header = (
    entryType: JournalEntryType,
    memo: string,
    extra?: { sourcePart: string; servicePeriod: string },
  ): EntryHeader => ({
    entry_key: journalEntryKey(
      { kind: 'invoice', parts: extra ? [invoice.invoice_id, extra.sourcePart] : [invoice.invoice_id] },
      entryType,
      invoice.calculation_version,
    ),
    entry_type: entryType,
    customer_id: invoice.customer_id,
    invoice_id: invoice.invoice_id,
    currency,
    service_period: extra?.servicePeriod ?? invoice.period,
    posting_period: invoice.period,
    calculation_version: invoice.calculation_version,
    memo: `${memo} (${invoice.customer_id} ${invoice.period}, invoice ${invoice.invoice_number})`,
  });
  const amountOf = (line: InvoiceLine): Decimal => new Decimal(line.amount);
  const entries: (JournalEntry | null)[] = [];

  const usage = invoice.lines.filter((line) => line.kind === 'usage');
  entries.push(
    buildEntry(
      header('usage_rated', 'Usage rated'),
      usage.flatMap((line) => [
        debit('unbilled_receivables', amountOf(line), line.line_key),
        credit('usage_revenue', amountOf(line), line.line_key),
      ]),
    ),
  );

  const discounts = invoice.lines.filter((line) => line.kind === 'discount');
  entries.push(
    buildEntry(
      header('discount_applied', 'Discounts'),
      discounts.flatMap((line) => [
        debit('contra_revenue_discounts', amountOf(line).negated(), line.line_key),
        credit('unbilled_receivables', amountOf(line).negated(), line.line_key),
      ]),
    ),
  );

  const netUsage = sumDecimals([...usage, ...discounts].map(amountOf));
  entries.push(commitEntry(invoice, policy, netUsage, header));

  const credits = invoice.lines.filter((line) => line.kind === 'credit');
  entries.push(
    buildEntry(
      header('promotional_credit_applied', 'Promotional credits applied'),
      credits
        .filter((line) => line.credit_kind === 'promotional')
        .flatMap((line) => [
          debit('contra_revenue_promotional_credits', amountOf(line).negated(), line.line_key),
          credit('unbilled_receivables', amountOf(line).negated(), line.line_key),
        ]),
    ),
  );

  const prepaidLines = credits.filter((line) => line.credit_kind === 'prepaid' && !amountOf(line).isZero());
  entries.push(
    buildEntry(
      header('prepaid_credit_consumed', 'Prepaid credits consumed'),
      prepaidLines.flatMap((line) => prepaidConsumptionPostings(invoice, line, input.prepaidCredits ?? [])),
    ),
  );

  for (const line of invoice.lines) {
    if (line.kind !== 'adjustment') continue;
    const account = adjustmentAccount(line, policy);
    entries.push(
      buildEntry(
        header(
          'adjustment_posted',
          `Adjustment of ${line.corrects_period} (invoice ${line.corrects_invoice_id}): ${line.reason}`,
          { sourcePart: line.line_key, servicePeriod: line.corrects_period },
        ),
        [debit('unbilled_receivables', amountOf(line), line.line_key), credit(account, amountOf(line), line.line_key)],
      ),
    );
  }

  const fees = invoice.lines.filter((line): line is FeeLine => line.kind === 'fee');
  const feeTotal = sumDecimals(fees.map(amountOf));
  const total = new Decimal(invoice.total);
  entries.push(
    buildEntry(header('invoice_issued', 'Invoice issued'), [
      debit('accounts_receivable', total),
      ...fees.map((line) => credit('deferred_revenue_subscriptions', amountOf(line), line.line_key)),
      credit('unbilled_receivables', total.minus(feeTotal)),
    ]),
  );

  entries.push(
    buildEntry(
      header('subscription_recognized', 'Subscription fees recognized for the service period'),
      fees.flatMap((line) => [
        debit('deferred_revenue_subscriptions', amountOf(line), line.line_key),
        credit('subscription_revenue', amountOf(line), line.line_key),
      ]),
    ),
  );

  return entries.filter((entry): entry is JournalEntry => entry !== null);
}

function commitEntry(
  invoice: IssuedInvoice,
  policy: JournalPolicy,
  netUsage: Decimal,
  header: (entryType: JournalEntryType, memo: string) => EntryHeader,
): JournalEntry | null {
  const trueUps = invoice.lines.filter((line) => line.kind === 'commit_true_up');
  const trueUp = sumDecimals(trueUps.map((line) => new Decimal(line.amount)));
  const trueUpKey = trueUps[0]?.line_key ?? null;
  const commitAmount =
    policy.commitAmount === undefined || policy.commitAmount === null ? null : new Decimal(policy.commitAmount);
  if (commitAmount === null || commitAmount.isZero()) {
    if (!trueUp.isZero()) {
      throw new JournalError(
        'commit_policy_mismatch',
        `invoice ${invoice.invoice_id}: bills a commit true-up of ${trueUp.toString()} but the journal policy has no commit amount`,
      );
    }
    return null;
  }
  const expectedTrueUp = Decimal.max(commitAmount.minus(netUsage), 0);
  if (!trueUp.eq(expectedTrueUp)) {
    throw new JournalError(
      'commit_policy_mismatch',
      `invoice ${invoice.invoice_id}: commit ${commitAmount.toString()} with usage net of discounts ${netUsage.toString()} calls for a true-up of ${expectedTrueUp.toString()}, the invoice bills ${trueUp.toString()}`,
    );
  }
  switch (policy.commitPolicy) {
    case 'ratable':
      // The commit is recognized whole; the usage inside it is reclassified from Usage revenue
      // (it satisfies the same stand-ready obligation) and the shortfall is a contract asset.
      return buildEntry(header('commit_recognized', `Minimum commit ${commitAmount.toString()} recognized ratably`), [
        debit('usage_revenue', Decimal.min(netUsage, commitAmount)),
        debit('unbilled_receivables', trueUp, trueUpKey),
        credit('commitment_revenue', commitAmount),
      ]);
    case 'drawdown':
      return buildEntry(
        header(
          'commit_shortfall_breakage',
          `Commit shortfall recognized as breakage (commit ${commitAmount.toString()})`,
        ),
        [debit('unbilled_receivables', trueUp, trueUpKey), credit('breakage_revenue', trueUp, trueUpKey)],
      );
    default:
      return assertNever(policy.commitPolicy, 'commit policy');
  }
}

function prepaidConsumptionPostings(
  invoice: IssuedInvoice,
  line: CreditLine,
  terms: readonly PrepaidCreditTerms[],
): Posting[] {
  const term = terms.find((candidate) => candidate.credit_id === line.credit_id);
  if (!term) {
    throw new JournalError(
      'prepaid_credit_terms_missing',
      `invoice ${invoice.invoice_id} line ${line.line_key}: no prepaid terms for credit ${line.credit_id} (consideration paid, amount, consumed before)`,
    );
  }
  const drawn = new Decimal(line.amount).negated();
  const amount = new Decimal(term.amount);
  const paid = new Decimal(term.consideration_paid);
  const before = new Decimal(term.consumed_before);
  const fail = (problem: string): never => {
    throw new JournalError(
      'invalid_prepaid_credit_terms',
      `invoice ${invoice.invoice_id} line ${line.line_key}: credit ${line.credit_id} ${problem}`,
    );
  };
  if (!amount.isPositive() || amount.isZero()) fail(`has a non-positive amount ${term.amount}`);
  if (paid.isNegative() || paid.gt(amount))
    fail(`consideration paid ${term.consideration_paid} is outside [0, ${term.amount}]`);
  if (before.isNegative()) fail(`consumed before ${term.consumed_before} is negative`);
  if (before.plus(drawn).gt(amount))
    fail(`draws ${drawn.toString()} after ${term.consumed_before} of ${term.amount}: more than was granted`);
  // Named rounding point: the liability released so far is rounded half-up, cumulatively, so the
  // releases of all draws add up to exactly what the consideration paid for what was drawn.
  const released = (consumed: Decimal): Decimal =>
    roundMoneyHalfUp(paid.times(consumed).dividedBy(amount), invoice.currency);
  const release = released(before.plus(drawn)).minus(released(before));
  return [
    debit('contract_liability_prepaid_credits', release, line.line_key),
    debit('contra_revenue_prepaid_bonus', drawn.minus(release), line.line_key),
    credit('unbilled_receivables', drawn, line.line_key),
  ];
}

function adjustmentAccount(line: AdjustmentLine, policy: JournalPolicy): AccountCode {
  const obligation: AdjustmentObligation =
    (line.price_id === undefined ? undefined : policy.adjustmentObligations?.[line.price_id]) ?? 'usage';
  switch (obligation) {
    case 'usage':
      return 'usage_revenue';
    case 'subscription':
      return 'subscription_revenue';
    case 'discount':
      return 'contra_revenue_discounts';
    case 'commit':
      return policy.commitPolicy === 'ratable' ? 'commitment_revenue' : 'breakage_revenue';
    default:
      return assertNever(obligation, 'adjustment obligation');
  }
}

const SIGN_RULES: Record<InvoiceLine['kind'], 'non_negative' | 'non_positive' | 'any'> = {
  usage: 'non_negative',
  fee: 'non_negative',
  commit_true_up: 'non_negative',
  discount: 'non_positive',
  credit: 'non_positive',
  adjustment: 'any',
};

/** What the journal relies on: whole minor units, the sign each kind of line has, and lines that add up to the total. */
function validateInvoice(invoice: IssuedInvoice): void {
  const fail = (where: string, problem: string): never => {
    throw new JournalError('invalid_invoice_for_journal', `invoice ${invoice.invoice_id}${where}: ${problem}`);
  };
  const periodProblem = periodNameProblem(invoice.period);
  if (periodProblem !== undefined) fail('', periodProblem);
  const lineKeys = new Set<string>();
  for (const line of invoice.lines) {
    const where = ` line ${line.line_key}`;
    if (lineKeys.has(line.line_key)) fail(where, 'line_key appears twice');
    lineKeys.add(line.line_key);
    const amount = new Decimal(line.amount);
    if (!roundMoneyHalfUp(amount, invoice.currency).eq(amount))
      fail(where, `amount ${line.amount} is not a whole number of ${invoice.currency} minor units`);
    const rule = SIGN_RULES[line.kind];
    if (rule === 'non_negative' && amount.isNegative() && !amount.isZero())
      fail(where, `a ${line.kind} line cannot be negative (${line.amount})`);
    if (rule === 'non_positive' && amount.isPositive() && !amount.isZero())
      fail(where, `a ${line.kind} line cannot be positive (${line.amount})`);
    if (line.kind === 'adjustment') {
      const correctsProblem = periodNameProblem(line.corrects_period);
      if (correctsProblem !== undefined) fail(where, `corrects_period: ${correctsProblem}`);
      // Late usage corrects an earlier period; a reviewer's adjustment corrects this very invoice.
      const ownReviewAdjustment =
        line.corrects_invoice_id === invoice.invoice_id && line.corrects_period === invoice.period;
      if (line.corrects_period >= invoice.period && !ownReviewAdjustment)
        fail(where, `corrects ${line.corrects_period}, which is neither an earlier period nor this invoice`);
    }
  }
  const lineTotal = sumDecimals(invoice.lines.map((line) => new Decimal(line.amount)));
  if (!lineTotal.eq(invoice.total))
    fail('', `lines add up to ${lineTotal.toString()}, the total says ${invoice.total}`);
}
