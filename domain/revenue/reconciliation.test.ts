import { describe, expect, it } from 'vitest';
import { issuedInvoice, usageLine } from '../../test/builders/issued-invoice.ts';
import { journalEntriesForInvoice } from '../journal/index.ts';
import { reconcilePeriod } from './reconciliation.ts';

describe('reconcilePeriod', () => {
  const invoice = issuedInvoice([usageLine('tokens-us', '600.00')]);
  const entries = journalEntriesForInvoice({ invoice, policy: { commitPolicy: 'drawdown' } });

  it('names the currency of every figure in the sentences tally reconcile prints', () => {
    const result = reconcilePeriod({
      period: '2026-10',
      // The stored events rate to 590 for 990 tokens: the invoice billed more than was metered.
      invoices: [{ invoice, meteredUsage: [usageLine('tokens-us', '590', { quantity: '990' })] }],
      adjustingInvoices: [],
      entries,
      glDifferences: [{ currency: 'USD', difference: '5' }],
    });
    expect(
      result.differences.map((difference) => `${difference.stage} ${difference.reason}: ${difference.detail}`),
    ).toEqual([
      `metered_to_invoice rated_amount_mismatch: acme llm.tokens (tokens-us): the stored events rate to 590.00 USD for 990, invoice ${invoice.invoice_id} bills 600.00 USD for 1000`,
      'revenue_to_gl ledger_unbalanced: the ledger through 2026-10 does not balance in USD: debits − credits = 5.00 USD',
    ]);
  });
});
