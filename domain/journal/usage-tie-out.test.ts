import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import {
  adjustmentLine,
  creditLine,
  discountLine,
  feeLine,
  issuedInvoice,
  trueUpLine,
  usageLine,
} from '../../test/builders/issued-invoice.ts';
import { journalEntriesForInvoice, tieOutUsageRevenue, type JournalPolicy } from './index.ts';

const policy: JournalPolicy = { commitPolicy: 'ratable', commitAmount: '1000.00' };
const october = issuedInvoice([
  usageLine('tokens-us', '600.00'),
  usageLine('images', '100.00'),
  feeLine('platform', '500.00'),
  discountLine('launch-10', '-60.00'),
  trueUpLine('360.00'),
  creditLine('promo-q4', 'promotional', '-50.00'),
  creditLine('prepaid-1', 'prepaid', '-200.00'),
]);
const prepaidCredits = [
  { credit_id: 'prepaid-1', amount: '1000.00', consideration_paid: '900.00', consumed_before: '0' },
];
const octoberEntries = journalEntriesForInvoice({ invoice: october, policy, prepaidCredits });
const november = issuedInvoice(
  [
    usageLine('tokens-us', '1200.00'),
    adjustmentLine('adj:tokens-us:2026-10', '2026-10', '45.00', { corrects_invoice_id: october.invoice_id }),
  ],
  { period: '2026-11' },
);
const novemberEntries = journalEntriesForInvoice({ invoice: november, policy });

const tieOut = (entries: readonly JournalEntry[]) =>
  tieOutUsageRevenue({ period: '2026-10', invoices: [october, november], entries });

/** The entries with one entry changed (or dropped, when `change` returns null). */
function tamper(
  entries: readonly JournalEntry[],
  entryType: string,
  change: (entry: JournalEntry) => JournalEntry | null,
): JournalEntry[] {
  return entries.flatMap((entry) => {
    if (entry.entry_type !== entryType) return [entry];
    const changed = change(entry);
    return changed ? [changed] : [];
  });
}

describe('tieOutUsageRevenue', () => {
  const all = [...octoberEntries, ...novemberEntries];

  it('ties a period out: usage billed (with the late adjustment from November) = usage revenue recognized', () => {
    const result = tieOut(all);
    expect(result.differences).toEqual([]);
    expect(result).toMatchObject({
      period: '2026-10',
      currency: 'USD',
      usage_billed: '745.00',
      usage_revenue_recognized: '745.00',
      discounts: '60.00',
      commit_reclassified: '640.00',
      net_usage_revenue: '45.00',
    });
  });

  it('finds a usage entry that was never posted', () => {
    const reasons = tieOut(tamper(all, 'usage_rated', () => null)).differences.map((difference) => [
      difference.reason,
      difference.line_key,
      difference.account,
    ]);
    expect(reasons).toEqual([
      ['line_not_posted', 'tokens-us', 'unbilled_receivables'],
      ['line_not_posted', 'tokens-us', 'usage_revenue'],
      ['line_not_posted', 'images', 'unbilled_receivables'],
      ['line_not_posted', 'images', 'usage_revenue'],
      ['unbilled_not_cleared', null, 'unbilled_receivables'],
      ['usage_revenue_mismatch', null, 'usage_revenue'],
    ]);
  });

  it('finds an amount that differs from its line, and names line, entry and figures', () => {
    const changed = tamper(all, 'usage_rated', (entry) => ({
      ...entry,
      lines: entry.lines.map((line) =>
        line.source_line_key === 'images'
          ? {
              ...line,
              debit: line.debit === '0.00' ? '0.00' : '90.00',
              credit: line.credit === '0.00' ? '0.00' : '90.00',
            }
          : line,
      ),
    }));
    const differences = tieOut(changed).differences;
    expect(differences.map((difference) => difference.reason)).toEqual([
      'amount_mismatch',
      'amount_mismatch',
      'unbilled_not_cleared',
      'usage_revenue_mismatch',
    ]);
    expect(differences[1]).toMatchObject({
      invoice_id: october.invoice_id,
      line_key: 'images',
      account: 'usage_revenue',
      entry_key: 'invoice:inv-acme-2026-10:usage_rated:calc-v1',
      expected: '-100.00',
      actual: '-90.00',
    });
    expect(differences[3]).toMatchObject({ expected: '745.00', actual: '735.00' });
    // The sentences (tally reconcile prints them) name the currency, each figure at least in cents.
    expect(differences.map((difference) => difference.detail)).toEqual([
      `line images of invoice ${october.invoice_id}: unbilled_receivables moved by 90.00 USD (net debit), the line says 100.00 USD`,
      `line images of invoice ${october.invoice_id}: usage_revenue moved by -90.00 USD (net debit), the line says -100.00 USD`,
      `invoice ${october.invoice_id} leaves -10.00 USD in Unbilled AR`,
      '2026-10: usage billed 745.00 USD ≠ usage revenue recognized 735.00 USD',
    ]);
  });

  it('finds an invoice that was never issued in the journal', () => {
    expect(
      tieOut(tamper(all, 'invoice_issued', () => null)).differences.map((difference) => difference.reason),
    ).toEqual(['invoice_not_issued', 'unbilled_not_cleared', 'deferred_not_cleared']);
  });

  it('finds the late adjustment missing from the period it corrects', () => {
    const differences = tieOut(tamper(all, 'adjustment_posted', () => null)).differences;
    expect(differences.map((difference) => [difference.reason, difference.invoice_id, difference.line_key])).toEqual([
      ['line_not_posted', november.invoice_id, 'adj:tokens-us:2026-10'],
      ['line_not_posted', november.invoice_id, 'adj:tokens-us:2026-10'],
      ['usage_revenue_mismatch', null, null],
    ]);
  });

  it('finds an unbalanced entry and a posting for a line the invoice does not have', () => {
    const unbalanced = tamper(all, 'discount_applied', (entry) => ({
      ...entry,
      lines: entry.lines.map((line) => (line.debit === '0.00' ? line : { ...line, debit: '61.00' })),
    }));
    expect(tieOut(unbalanced).differences.map((difference) => difference.reason)).toEqual(['entry_unbalanced']);
    const stray = tamper(all, 'usage_rated', (entry) => ({
      ...entry,
      lines: entry.lines.map((line) =>
        line.source_line_key === 'images' ? { ...line, source_line_key: 'ghost' } : line,
      ),
    }));
    expect(tieOut(stray).differences.map((difference) => [difference.reason, difference.line_key])).toEqual([
      ['posting_without_line', 'ghost'],
      ['posting_without_line', 'ghost'],
      ['line_not_posted', 'images'],
      ['line_not_posted', 'images'],
    ]);
  });
});
