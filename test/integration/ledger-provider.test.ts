import { afterAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../providers/provider-error.ts';
import { LedgerBillingProvider } from '../../providers/ledger-provider.ts';
import { buildIssuedInvoice, buildJpyInvoice } from '../builders/issued-invoice-builder.ts';
import { testPool } from '../harness/services.ts';

const pool = testPool(12);
const ledger = new LedgerBillingProvider({ pool });
afterAll(async () => {
  await pool.end();
});

async function rowCounts(invoiceId: string): Promise<{ invoices: number; lines: number; records: number }> {
  const { rows } = await pool.query<{ invoices: string; lines: string; records: string }>(
    `SELECT (SELECT count(*) FROM provider_ledger_invoices WHERE invoice_id = $1) AS invoices,
            (SELECT count(*) FROM provider_ledger_lines WHERE invoice_id = $1) AS lines,
            (SELECT count(*) FROM provider_sync_records WHERE invoice_id = $1) AS records`,
    [invoiceId],
  );
  const row = rows[0] as { invoices: string; lines: string; records: string };
  return {
    invoices: Number.parseInt(row.invoices, 10),
    lines: Number.parseInt(row.lines, 10),
    records: Number.parseInt(row.records, 10),
  };
}

describe('the ledger provider', () => {
  it('records an issued invoice once, however often it is synced, with deterministic external ids', async () => {
    const invoice = buildIssuedInvoice();
    const first = await ledger.syncInvoice(invoice, { kind: 'ledger' });
    const second = await ledger.syncInvoice(invoice, { kind: 'ledger' });

    expect(second).toEqual(first);
    expect(first).toMatchObject({
      provider: 'ledger',
      invoice_id: invoice.invoice_id,
      external_customer_id: 'acme',
      external_invoice_id: `ledger_inv_${invoice.invoice_id}`,
      status: 'recorded',
      items: Object.fromEntries(
        invoice.lines.map((line) => [line.line_key, `ledger_item_${invoice.invoice_id}:${line.line_key}`]),
      ),
    });
    expect(await rowCounts(invoice.invoice_id)).toEqual({ invoices: 1, lines: 5, records: 1 });

    const { rows } = await pool.query<{ line_key: string; amount: string; description: string }>(
      'SELECT line_key, amount::text AS amount, description FROM provider_ledger_lines WHERE invoice_id = $1 ORDER BY position',
      [invoice.invoice_id],
    );
    expect(rows).toEqual([
      { line_key: 'usage:tokens-us', amount: '600.00', description: 'llm.tokens (tokens-us): 15000 tokens' },
      { line_key: 'fee:platform', amount: '500.00', description: 'Platform fee' },
      { line_key: 'discount:launch-10', amount: '-60.00', description: 'Launch discount 10%' },
      { line_key: 'commit_true_up', amount: '0.00', description: 'Minimum commit true-up' },
      { line_key: 'credit:promo-q4', amount: '-50.00', description: 'Promotional credit promo-q4' },
    ]);
    const totals = await pool.query<{ subtotal: string; total: string }>(
      'SELECT subtotal::text AS subtotal, total::text AS total FROM provider_ledger_invoices WHERE invoice_id = $1',
      [invoice.invoice_id],
    );
    expect(totals.rows[0]).toEqual({ subtotal: '1040.00', total: '990.00' });
  });

  it('gives concurrent syncs of one invoice one row set and one answer', async () => {
    // Several invoices, eight syncs each at once: enough for the inserts to meet on every unique key.
    for (let round = 0; round < 12; round++) {
      const invoice = { ...buildJpyInvoice(), invoice_id: `inv:jpy-concurrent-${round}:2026-10` };
      const results = await Promise.all(
        Array.from({ length: 8 }, () => ledger.syncInvoice(invoice, { kind: 'ledger', customer: 'ACME-ERP-7' })),
      );

      for (const result of results) expect(result).toEqual(results[0]);
      expect(results[0]?.external_customer_id).toBe('ACME-ERP-7');
      expect(await rowCounts(invoice.invoice_id)).toEqual({ invoices: 1, lines: 4, records: 1 });
    }
  });

  it('refuses the same invoice id with different content and keeps what was recorded first', async () => {
    const invoice = buildIssuedInvoice();
    await ledger.syncInvoice(invoice, { kind: 'ledger' });
    const changedLines = invoice.lines.map((line) =>
      line.line_key === 'fee:platform' ? { ...line, amount: '450.00' } : line,
    );
    const changed = { ...invoice, lines: changedLines, subtotal: '990.00', total: '940.00' };

    const error = await ledger.syncInvoice(changed, { kind: 'ledger' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'provider_invoice_conflict', retryable: false });
    expect((error as Error).message).toMatch(
      /total is 990\.00, not 940\.00.*line fee:platform is fee 500\.00, not fee 450\.00/,
    );

    const extraLine = {
      ...invoice,
      lines: [
        ...invoice.lines,
        { kind: 'fee' as const, line_key: 'fee:seats', price_id: 'seats', description: 'Seats', amount: '0.00' },
      ],
    };
    await expect(ledger.syncInvoice(extraLine, { kind: 'ledger' })).rejects.toMatchObject({
      code: 'provider_invoice_conflict',
    });
    expect(await rowCounts(invoice.invoice_id)).toEqual({ invoices: 1, lines: 5, records: 1 });
  });

  it('is not the provider of a Stripe target', async () => {
    await expect(
      ledger.syncInvoice(buildIssuedInvoice(), { kind: 'stripe', customer: 'cus_123' }),
    ).rejects.toMatchObject({ code: 'provider_not_configured', retryable: false });
  });

  it('classifies an unreachable database as retryable', async () => {
    const { createPool } = await import('../../db/pool.ts');
    const deadPool = createPool('postgres://tally:tally@127.0.0.1:1/tally', { max: 1 });
    try {
      await expect(
        new LedgerBillingProvider({ pool: deadPool }).syncInvoice(buildIssuedInvoice(), { kind: 'ledger' }),
      ).rejects.toMatchObject({ code: 'provider_storage_unavailable', retryable: true });
    } finally {
      await deadPool.end();
    }
  });
});
