import { afterAll, describe, expect, it } from 'vitest';
import { findInvoice, StoredInvoiceError } from '../../db/queries/invoices.ts';
import { findReviewException, StoredDecisionError } from '../../db/queries/review-exceptions.ts';
import { feeLine, issuedInvoice } from '../builders/issued-invoice.ts';
import { testPool } from '../harness/services.ts';

// Rows whose JSON crosses into code are read as their contracts: an invoice as the contract of its
// status, an exception's decision and proposal as the decision contract. What breaks one is refused
// with the row, the field and the rule, never handed on as if it held.

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

describe('exception decisions read as the decision contract', () => {
  const suffix = Date.now().toString(36);

  async function storeDecided(customerId: string, decision: unknown, proposal: unknown = null): Promise<string> {
    const exceptionId = `exc:${customerId}`;
    await pool.query(
      `INSERT INTO review_exceptions (exception_id, invoice_id, customer_id, period, kind, breaches, context, workflow_id, status, reviewer, decision, decided_at, proposal, proposed_by, proposed_at)
       VALUES ($1, NULL, $2, '2026-10', 'threshold', '[]', '{"previousInvoices": [], "priorDecisions": []}', 'wf', 'adjusted', 'ana', $3, now(), $4, CASE WHEN $4::jsonb IS NULL THEN NULL ELSE 'ana' END, CASE WHEN $4::jsonb IS NULL THEN NULL ELSE now() END)`,
      [exceptionId, customerId, JSON.stringify(decision), proposal === null ? null : JSON.stringify(proposal)],
    );
    return exceptionId;
  }

  it('gives the decision and the proposal their types', async () => {
    const adjust = { kind: 'adjust', exceptionId: 'x', reviewer: 'ana', reason: 'goodwill', amount: '-25.00' };
    const exceptionId = await storeDecided(`dec-ok-${suffix}`, { ...adjust, confirmedBy: 'ben' }, adjust);
    const exception = await findReviewException(pool, exceptionId);
    expect(exception?.decision).toMatchObject({ kind: 'adjust', amount: '-25.00', confirmedBy: 'ben' });
    expect(exception?.proposal?.decision.amount).toBe('-25.00');
  });

  it('refuses a stored decision that breaks the contract, naming the exception, the column and the field', async () => {
    const exceptionId = await storeDecided(`dec-bad-${suffix}`, {
      kind: 'adjust',
      exceptionId: 'x',
      reviewer: 'ana',
      reason: 'goodwill',
      amount: 25,
    });
    const read = findReviewException(pool, exceptionId);
    await expect(read).rejects.toBeInstanceOf(StoredDecisionError);
    await expect(read).rejects.toThrow(
      `exception ${exceptionId}: its stored decision breaks the decision contract at amount`,
    );
  });
});
