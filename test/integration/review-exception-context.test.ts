import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCEPTION_KINDS } from '../../contracts/review-exception.ts';
import {
  ExceptionContextError,
  findReviewException,
  insertReviewException,
} from '../../db/queries/review-exceptions.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { runTallyAsOperator } from '../cli/run-tally.ts';

// The context a reviewer reads is a contract per kind (contracts/review-exception.ts): what the
// database's kinds are, what a producer may store, what a reader may trust, and what `tally review
// show` prints for the kinds that are not the close's own.
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('exception_context');
});
afterAll(async () => {
  await testbed.close();
});

/** Stores an exception as any producer's transaction would, straight into the table. */
async function storeException(row: {
  exceptionId: string;
  customerId: string;
  kind: string;
  context: unknown;
}): Promise<void> {
  await testbed.pool.query(
    `INSERT INTO review_exceptions (exception_id, invoice_id, customer_id, period, kind, breaches, context, workflow_id, status)
     VALUES ($1, $2, $3, '2026-10', $4, $5, $6, $7, 'open')`,
    [
      row.exceptionId,
      null,
      row.customerId,
      row.kind,
      JSON.stringify([{ rule: row.kind, detail: `a ${row.kind} difference` }]),
      JSON.stringify(row.context),
      `test:${row.exceptionId}`,
    ],
  );
}

describe('review exception contexts', () => {
  it('tally review show prints both sides of a reconciliation difference, and says a marketplace exception has no invoice', async () => {
    await storeException({
      exceptionId: 'reconciliation:2026-10:revenue_to_gl:ledger_unbalanced:XTS',
      customerId: '*',
      kind: 'reconciliation',
      context: {
        reconciliation: {
          stage: 'revenue_to_gl',
          reason: 'ledger_unbalanced',
          customer_id: null,
          invoice_id: null,
          line_key: null,
          sku: null,
          currency: 'XTS',
          expected: '0.00',
          actual: '12.34',
          detail: 'the trial balance through 2026-10 is off by 12.34 XTS',
        },
      },
    });
    const reconciliation = await runTallyAsOperator(
      testbed,
      {},
      'review',
      'show',
      'reconciliation:2026-10:revenue_to_gl:ledger_unbalanced:XTS',
    );
    expect(reconciliation.status, reconciliation.stderr).toBe(0);
    expect(reconciliation.stdout).toContain('revenue_to_gl (XTS):');
    expect(reconciliation.stdout).toMatch(/0\.00 .*12\.34/);
    // The close's sections mean nothing for a difference found after the invoice.
    expect(reconciliation.stdout).not.toContain('previous invoices:');

    await storeException({
      exceptionId: 'exc:mkt:at-risk:ctx-aws/jobs/2026-10-01T10:00:00Z/0',
      customerId: 'ctx-aws',
      kind: 'marketplace_window_at_risk',
      context: {
        marketplace: 'aws',
        asOf: '2026-10-01T13:00:00.000Z',
        records: [
          {
            bucketId: 'ctx-aws/jobs/2026-10-01T10:00:00Z/0',
            dimension: 'jobs',
            hour: '2026-10-01T10:00:00Z',
            sentQuantity: '7',
            attempts: 3,
            lastAnswer: null,
            halfWindowAt: '2026-10-01T13:00:00.000Z',
            deadline: '2026-10-01T16:00:00.000Z',
          },
        ],
      },
    });
    const marketplace = await runTallyAsOperator(
      testbed,
      {},
      'review',
      'show',
      'exc:mkt:at-risk:ctx-aws/jobs/2026-10-01T10:00:00Z/0',
    );
    expect(marketplace.status, marketplace.stderr).toBe(0);
    expect(marketplace.stdout).toContain('customer ctx-aws, period 2026-10, no invoice,');
    expect(marketplace.stdout).not.toContain('invoice null');
    expect(marketplace.stdout).toMatch(/aws records:[\s\S]*jobs[\s\S]*7/);
  });

  it('the contract names exactly the kinds the database holds', async () => {
    const { rows } = await testbed.pool.query<{ kind: string }>(
      'SELECT kind FROM review_exception_kinds ORDER BY kind',
    );
    expect(rows.map((row) => row.kind)).toEqual([...EXCEPTION_KINDS].sort());
  });

  it('a producer whose context breaks its kind is refused before anything is stored', async () => {
    const attempt = insertReviewException(testbed.pool, {
      exceptionId: 'exc:ctx-broken:2026-10:threshold:1',
      invoiceId: null,
      customerId: 'ctx-broken',
      period: '2026-10',
      kind: 'threshold',
      breaches: [{ rule: 'total_above', detail: 'total 10.00 USD is above 1.00' }],
      workflowId: 'billing:ctx-broken:2026-10',
      // A close's reviewer needs the customer's history: a producer that forgets it is a bug.
      context: { priorDecisions: [] } as never,
    });
    await expect(attempt).rejects.toThrow(ExceptionContextError);
    await expect(attempt).rejects.toThrow(/threshold\): its context breaks the contract at context\.previousInvoices/);
    expect(await findReviewException(testbed.pool, 'exc:ctx-broken:2026-10:threshold:1')).toBeUndefined();
  });

  it('a stored context that breaks its kind is refused when read, naming exception, field and rule', async () => {
    await storeException({
      exceptionId: 'exc:shadow:ctx-written-by-hand',
      customerId: 'ctx-by-hand',
      kind: 'shadow_variance',
      context: { shadowRun: 'shadow-1', legacyImportId: null, comparison: { customer_id: 'ctx-by-hand' } },
    });
    await expect(findReviewException(testbed.pool, 'exc:shadow:ctx-written-by-hand')).rejects.toThrow(
      /exception exc:shadow:ctx-written-by-hand \(shadow_variance\): its stored context breaks the contract at context\.comparison\.status/,
    );
  });
});
