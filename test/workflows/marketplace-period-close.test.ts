import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInvoice } from '../../db/queries/invoices.ts';
import { findSyncRecord } from '../../db/queries/provider-sync-records.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

// A contract with `marketplace:` is billed by the marketplace (SPEC §12): the period still closes,
// rates and issues Tally's record of the month (journal included), but step 6 records the invoice
// as billed by the marketplace instead of sending it to a provider. No workflow change: the
// provider the activity picks is the marketplace's record.

let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('mkt_close');
});
afterAll(async () => {
  await testbed.close();
});

describe('closing the period of a marketplace customer', () => {
  it('issues and journals the invoice, and records it as billed by the marketplace instead of syncing it', async () => {
    const contract = buildContract({
      customer_id: 'mkt-close-aws',
      ratecard: 'standard',
      marketplace: {
        kind: 'aws',
        customer_account: '123456789012',
        license_arn: 'arn:aws:license-manager::123456789012:license/l-close',
      },
    });
    await testbed.publishContract(contract);
    await testbed.storeEvents([
      buildUsageEvent({ customer_id: contract.customer_id, timestamp: '2026-10-14T09:30:00.000Z', quantity: '250000' }),
    ]);
    const result = await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(contract.customer_id, '2026-10'));
      const outcome = await handle.result();
      await recordHistory(handle, 'issued-and-billed-by-marketplace');
      return outcome;
    });
    expect(result).toMatchObject({ stage: 'completed', exceptionIds: [] });
    const invoice = await findInvoice(testbed.pool, result.invoiceId);
    expect(invoice?.status).toBe('issued');
    expect(await findSyncRecord(testbed.pool, result.invoiceId, 'marketplace')).toMatchObject({
      provider: 'marketplace',
      status: 'billed_by_marketplace',
      external_customer_id: 'aws:123456789012',
      external_invoice_id: `marketplace:${result.invoiceId}`,
    });
    expect(await findSyncRecord(testbed.pool, result.invoiceId, 'ledger')).toBeUndefined();
    const ledger = await testbed.pool.query('SELECT 1 FROM provider_ledger_invoices WHERE invoice_id = $1', [
      result.invoiceId,
    ]);
    expect(ledger.rowCount).toBe(0);
  });
});
