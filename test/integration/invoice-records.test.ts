import { afterAll, describe, expect, it } from 'vitest';
import { findInvoice, StoredInvoiceError } from '../../db/queries/invoices.ts';
import { feeLine, issuedInvoice } from '../builders/issued-invoice.ts';
import { testPool } from '../harness/services.ts';

// An invoice row is read as the contract of its status: a document that breaks it is refused with the
// invoice, the field and the rule, never handed on as if it were an invoice.

const pool = testPool(2);
afterAll(() => pool.end());

async function storeDraft(customerId: string, document: unknown): Promise<string> {
  const snapshotId = `snap:${customerId}:2026-10`;
  await pool.query(
    `INSERT INTO period_snapshots (snapshot_id, customer_id, period, mode, calculation_version, event_cutoff, event_count, event_fingerprint, aggregates, counters)
     VALUES ($1, $2, '2026-10', 'live', 'calc', now(), 0, repeat('0', 64), '[]', '{}')`,
    [snapshotId, customerId],
  );
  const invoiceId = `inv:${customerId}:2026-10`;
  await pool.query(
    `INSERT INTO invoices (invoice_id, customer_id, period, mode, calculation_version, snapshot_id, status, currency, subtotal, total, document)
     VALUES ($1, $2, '2026-10', 'live', 'calc', $3, 'draft', 'USD', 500, 500, $4)`,
    [invoiceId, customerId, snapshotId, JSON.stringify(document)],
  );
  return invoiceId;
}

describe('invoice rows read as the invoice contract', () => {
  const suffix = Date.now().toString(36);

  it('gives a draft its document as an invoice, without an invoice number', async () => {
    const {
      invoice_id: _id,
      invoice_number: _number,
      ...draft
    } = issuedInvoice([feeLine('fee:platform', '500.00')], {
      customer_id: `rec-ok-${suffix}`,
    });
    const invoiceId = await storeDraft(`rec-ok-${suffix}`, draft);
    const record = await findInvoice(pool, invoiceId);
    expect(record?.status).toBe('draft');
    expect(record?.invoiceNumber).toBeUndefined();
    expect(record?.document.total).toBe('500.00');
  });

  it('refuses a stored document that breaks the contract, naming the invoice, the field and the rule', async () => {
    const broken = { ...issuedInvoice([feeLine('fee:platform', '500.00')]), total: 500 };
    const invoiceId = await storeDraft(`rec-bad-${suffix}`, broken);
    const read = findInvoice(pool, invoiceId);
    await expect(read).rejects.toBeInstanceOf(StoredInvoiceError);
    await expect(read).rejects.toThrow(
      `invoice ${invoiceId} (draft): its stored document breaks the invoice contract at total`,
    );
  });
});
