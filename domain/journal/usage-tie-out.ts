import type { InvoiceLine, IssuedInvoice } from '../../contracts/invoice.ts';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { Decimal, describeMoney, formatDecimal, formatMoney, sumDecimals } from '../money.ts';
import type { AccountCode } from './chart-of-accounts.ts';
import { assertBalanced, JournalError } from './journal-entry.ts';
import type { JournalPolicy } from './journal-policy.ts';

export interface UsageTieOutInput {
  /** The service period to tie out, YYYY-MM. */
  readonly period: string;
  /** The period's issued invoices, and every later invoice whose adjustment lines correct the period. One currency. */
  readonly invoices: readonly IssuedInvoice[];
  /** The posted entries of those invoices, as the ledger holds them (all of them: the tie-out picks what serves the period). */
  readonly entries: readonly JournalEntry[];
  /** The same adjustment mapping the entries were posted with (default: adjustments correct usage). */
  readonly policy?: Pick<JournalPolicy, 'adjustmentObligations'>;
}

type TieOutDifferenceReason =
  /** An invoice line with a non-zero amount has no posting. */
  | 'line_not_posted'
  /** A line's postings add up to something other than the line's amount. */
  | 'amount_mismatch'
  /** A posting serving the period names an invoice line that does not exist there. */
  | 'posting_without_line'
  | 'entry_unbalanced'
  /** An invoice of the period has no `invoice_issued` entry. */
  | 'invoice_not_issued'
  /** The receivable posted for an invoice differs from its total. */
  | 'receivable_mismatch'
  /** An invoice's entries leave Unbilled AR non-zero (something billed was never recognized, or the reverse). */
  | 'unbilled_not_cleared'
  /** An invoice's entries leave Deferred revenue non-zero (a fee billed but never released, or the reverse). */
  | 'deferred_not_cleared'
  /** The headline: Σ usage billed for the period ≠ usage revenue recognized for it. */
  | 'usage_revenue_mismatch';

interface TieOutDifference {
  readonly reason: TieOutDifferenceReason;
  readonly invoice_id: string | null;
  readonly line_key: string | null;
  readonly entry_key: string | null;
  readonly account: AccountCode | null;
  readonly expected: string;
  readonly actual: string;
  readonly detail: string;
}

export interface UsageTieOut {
  readonly period: string;
  readonly currency: string;
  /** Σ usage lines of the period's invoices + Σ usage adjustments (from any invoice) correcting the period. */
  readonly usage_billed: string;
  /** Net credit to Usage revenue by `usage_rated` and `adjustment_posted` entries serving the period. */
  readonly usage_revenue_recognized: string;
  /** Net debit to Contra-revenue – discounts serving the period. */
  readonly discounts: string;
  /** Usage revenue moved into Commitment revenue by a ratable commit (0 under drawdown). */
  readonly commit_reclassified: string;
  /** usage_revenue_recognized − discounts − commit_reclassified: what the period's usage earned as Usage revenue. */
  readonly net_usage_revenue: string;
  readonly differences: readonly TieOutDifference[];
}

/**
 * Reconciliation tie-out for one service period: Σ usage line amounts = usage revenue recognized,
 * and every invoice line ties to its postings. Independent of how the journal was built, it checks:
 * - each usage line (and each adjustment correcting usage) is credited to Usage revenue, exactly;
 * - each non-fee line moves Unbilled AR by its signed amount, and each fee line is credited to
 *   Subscription revenue by its amount (the posting carries the invoice line key);
 * - each of the period's invoices is issued (AR = total) and leaves Unbilled AR and Deferred revenue at zero;
 * - every entry balances; no posting serving the period points at a line that is not there.
 * Every difference comes back with a reason; an empty `differences` means the period ties out.
 *
 * Discounts stay a separate figure (net_usage_revenue); promotional credits and prepaid bonus are
 * concessions on the invoice as a whole and are not attributed to usage.
 */
export function tieOutUsageRevenue(input: UsageTieOutInput): UsageTieOut {
  const { period } = input;
  const currencies = new Set(input.invoices.map((invoice) => invoice.currency));
  if (currencies.size > 1)
    throw new JournalError(
      'invalid_invoice_for_journal',
      `tie-out for ${period}: invoices in more than one currency (${[...currencies].join(', ')}); tie out each currency alone`,
    );
  const currency = [...currencies][0] ?? input.entries[0]?.currency ?? 'USD';
  const money = (value: Decimal): string => formatMoney(value, currency);
  /** A figure in a sentence (tally reconcile prints them): its code, at least the minor digits, never rounded. */
  const moneyText = (value: Decimal | string): string =>
    describeMoney(typeof value === 'string' ? value : formatDecimal(value), currency);
  const differences: TieOutDifference[] = [];
  const difference = (fields: Partial<TieOutDifference> & Pick<TieOutDifference, 'reason' | 'detail'>): void => {
    differences.push({
      invoice_id: null,
      line_key: null,
      entry_key: null,
      account: null,
      expected: '',
      actual: '',
      ...fields,
    });
  };

  for (const entry of input.entries) {
    try {
      assertBalanced(entry);
    } catch (error) {
      difference({
        reason: 'entry_unbalanced',
        entry_key: entry.entry_key,
        invoice_id: entry.invoice_id,
        detail: error instanceof Error ? error.message : String(error),
      });
    }
  }

  // Expectations: (invoice, line key, account) → net debit the postings must add up to.
  const expected = new Map<string, { invoiceId: string; lineKey: string; account: AccountCode; netDebit: Decimal }>();
  const expect = (invoiceId: string, line: InvoiceLine, account: AccountCode, netDebit: Decimal): void => {
    expected.set(groupKey(invoiceId, line.line_key, account), { invoiceId, lineKey: line.line_key, account, netDebit });
  };
  const linesInScope = new Set<string>();
  let usageBilled = new Decimal(0);
  for (const invoice of input.invoices) {
    for (const line of invoice.lines) {
      const amount = new Decimal(line.amount);
      const servesPeriod = line.kind === 'adjustment' ? line.corrects_period === period : invoice.period === period;
      if (!servesPeriod) continue;
      linesInScope.add(lineId(invoice.invoice_id, line.line_key));
      if (line.kind === 'fee') {
        expect(invoice.invoice_id, line, 'subscription_revenue', amount.negated());
        continue;
      }
      expect(invoice.invoice_id, line, 'unbilled_receivables', amount);
      const correctsUsage =
        line.kind === 'adjustment' &&
        (line.price_id === undefined || (input.policy?.adjustmentObligations?.[line.price_id] ?? 'usage') === 'usage');
      if (line.kind === 'usage' || correctsUsage) {
        expect(invoice.invoice_id, line, 'usage_revenue', amount.negated());
        usageBilled = usageBilled.plus(amount);
      }
    }
  }

  // Actuals: postings of entries serving the period that name an invoice line.
  const actual = new Map<string, Decimal>();
  const entryOf = new Map<string, string>();
  let usageRecognized = new Decimal(0);
  let discounts = new Decimal(0);
  let commitReclassified = new Decimal(0);
  for (const entry of input.entries) {
    if (entry.service_period !== period) continue;
    for (const line of entry.lines) {
      const netDebit = new Decimal(line.debit).minus(line.credit);
      if (
        line.account === 'usage_revenue' &&
        (entry.entry_type === 'usage_rated' || entry.entry_type === 'adjustment_posted')
      )
        usageRecognized = usageRecognized.minus(netDebit);
      if (line.account === 'usage_revenue' && entry.entry_type === 'commit_recognized')
        commitReclassified = commitReclassified.plus(netDebit);
      if (line.account === 'contra_revenue_discounts') discounts = discounts.plus(netDebit);
      if (line.source_line_key === null || entry.invoice_id === null) continue;
      if (!linesInScope.has(lineId(entry.invoice_id, line.source_line_key))) {
        difference({
          reason: 'posting_without_line',
          invoice_id: entry.invoice_id,
          line_key: line.source_line_key,
          entry_key: entry.entry_key,
          account: line.account as AccountCode,
          expected: money(new Decimal(0)),
          actual: money(netDebit),
          detail: `${entry.entry_key} line ${line.line_no} posts to ${line.account} for line ${line.source_line_key}, which is not a line of invoice ${entry.invoice_id} serving ${period}`,
        });
        continue;
      }
      const key = groupKey(entry.invoice_id, line.source_line_key, line.account as AccountCode);
      actual.set(key, (actual.get(key) ?? new Decimal(0)).plus(netDebit));
      entryOf.set(key, entry.entry_key);
    }
  }

  for (const [key, expectation] of expected) {
    const posted = actual.get(key);
    const where = {
      invoice_id: expectation.invoiceId,
      line_key: expectation.lineKey,
      account: expectation.account,
      entry_key: entryOf.get(key) ?? null,
    };
    if (posted === undefined) {
      if (!expectation.netDebit.isZero()) {
        difference({
          reason: 'line_not_posted',
          ...where,
          expected: money(expectation.netDebit),
          actual: money(new Decimal(0)),
          detail: `line ${expectation.lineKey} of invoice ${expectation.invoiceId} has no posting to ${expectation.account}`,
        });
      }
    } else if (!posted.eq(expectation.netDebit)) {
      difference({
        reason: 'amount_mismatch',
        ...where,
        expected: money(expectation.netDebit),
        actual: money(posted),
        detail: `line ${expectation.lineKey} of invoice ${expectation.invoiceId}: ${expectation.account} moved by ${moneyText(posted)} (net debit), the line says ${moneyText(expectation.netDebit)}`,
      });
    }
  }

  for (const invoice of input.invoices) {
    if (invoice.period !== period) continue;
    const own = input.entries.filter((entry) => entry.invoice_id === invoice.invoice_id);
    const issued = own.filter((entry) => entry.entry_type === 'invoice_issued');
    const net = (account: AccountCode, entries: readonly JournalEntry[]): Decimal =>
      sumDecimals(
        entries.flatMap((entry) =>
          entry.lines
            .filter((line) => line.account === account)
            .map((line) => new Decimal(line.debit).minus(line.credit)),
        ),
      );
    const somethingToIssue =
      !new Decimal(invoice.total).isZero() ||
      invoice.lines.some((line) => line.kind === 'fee' && !new Decimal(line.amount).isZero());
    if (issued.length === 0) {
      if (somethingToIssue)
        difference({
          reason: 'invoice_not_issued',
          invoice_id: invoice.invoice_id,
          expected: invoice.total,
          actual: money(new Decimal(0)),
          detail: `invoice ${invoice.invoice_id} has no invoice_issued entry`,
        });
    } else {
      const receivable = net('accounts_receivable', issued);
      if (!receivable.eq(invoice.total)) {
        difference({
          reason: 'receivable_mismatch',
          invoice_id: invoice.invoice_id,
          entry_key: issued[0]?.entry_key ?? null,
          account: 'accounts_receivable',
          expected: invoice.total,
          actual: money(receivable),
          detail: `invoice ${invoice.invoice_id}: AR ${moneyText(receivable)} ≠ total ${moneyText(invoice.total)}`,
        });
      }
    }
    const unbilled = net('unbilled_receivables', own);
    if (!unbilled.isZero()) {
      difference({
        reason: 'unbilled_not_cleared',
        invoice_id: invoice.invoice_id,
        account: 'unbilled_receivables',
        expected: money(new Decimal(0)),
        actual: money(unbilled),
        detail: `invoice ${invoice.invoice_id} leaves ${moneyText(unbilled)} in Unbilled AR`,
      });
    }
    const deferred = net('deferred_revenue_subscriptions', own);
    if (!deferred.isZero()) {
      difference({
        reason: 'deferred_not_cleared',
        invoice_id: invoice.invoice_id,
        account: 'deferred_revenue_subscriptions',
        expected: money(new Decimal(0)),
        actual: money(deferred),
        detail: `invoice ${invoice.invoice_id} leaves ${moneyText(deferred)} in Deferred revenue`,
      });
    }
  }

  if (!usageBilled.eq(usageRecognized)) {
    difference({
      reason: 'usage_revenue_mismatch',
      account: 'usage_revenue',
      expected: money(usageBilled),
      actual: money(usageRecognized),
      detail: `${period}: usage billed ${moneyText(usageBilled)} ≠ usage revenue recognized ${moneyText(usageRecognized)}`,
    });
  }

  return {
    period,
    currency,
    usage_billed: money(usageBilled),
    usage_revenue_recognized: money(usageRecognized),
    discounts: money(discounts),
    commit_reclassified: money(commitReclassified),
    net_usage_revenue: money(usageRecognized.minus(discounts).minus(commitReclassified)),
    differences,
  };
}

function lineId(invoiceId: string, lineKey: string): string {
  return JSON.stringify([invoiceId, lineKey]);
}

function groupKey(invoiceId: string, lineKey: string, account: AccountCode): string {
  return JSON.stringify([invoiceId, lineKey, account]);
}
