import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDemoReport } from '../../demo/report.ts';
import { publishedTerms } from '../../terms/index.ts';
import { reconcileAndRecord } from '../../revenue/index.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// A ledger a few years old holds far more issued invoices than one period: the tie-out of a period
// reads that period's invoices (and the later ones adjusting it), however many others there are.
let bed: BillingTestbed;
const customerId = 'rec-many';

beforeAll(async () => {
  bed = await BillingTestbed.create('reconcile_many');
  await bed.publishContract(buildContract({ customer_id: customerId }));
  await bed.storeEvents(
    [
      buildUsageEvent({
        customer_id: customerId,
        timestamp: '2026-10-03T10:00:00.000Z',
        quantity: '600000',
        metadata: { sku: 'llm.tokens', region: 'us-east-1' },
      }),
    ],
    '2026-10-04T00:00:00.000Z',
  );
  await bed.withWorker(async () => {
    await (await bed.startPeriod(bed.periodInput(customerId, '2026-10'))).result();
  });
  // 100,000 issued invoices of earlier periods (other customers), copies of the real one's document.
  await bed.pool.query(
    `INSERT INTO invoices (invoice_id, customer_id, period, mode, calculation_version, snapshot_id, status, currency,
                           subtotal, total, document, invoice_number, issued_at)
     SELECT 'inv:bulk-' || g || ':2025-01', 'bulk-' || g, '2025-01', mode, calculation_version, snapshot_id, status,
            currency, subtotal, total, document, 'BULK-' || g, issued_at
       FROM invoices, generate_series(1, 100000) AS g
      WHERE invoice_id = $1`,
    [`inv:${customerId}:2026-10`],
  );
}, 300_000);

afterAll(async () => {
  await bed.close();
});

describe('a long history of invoices', () => {
  it('ties out the period it is asked for, not the first 100,000 invoices of the ledger', async () => {
    const result = await reconcileAndRecord(
      { pool: bed.pool, terms: publishedTerms(bed.pool) },
      { period: '2026-10', customerIds: [customerId] },
    );
    expect(result.rows).toEqual([
      expect.objectContaining({ customer_id: customerId, sku: 'llm.tokens', metered: '6.00', invoiced: '6.00' }),
    ]);
    expect(result.differences).toEqual([]);
  });

  it("the demo's report finds its own run's invoices, however many earlier runs left on the stack", async () => {
    const report = await readDemoReport(bed.pool, ['2026-10'], [customerId]);
    expect(report.totalsByCurrency).toEqual([expect.objectContaining({ currency: 'USD', invoices: 1 })]);
  });
});
