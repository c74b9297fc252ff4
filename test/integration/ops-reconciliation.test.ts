import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opsOverview } from '../../views/ops-overview.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// The ops view's reconciliation (usage → invoice → GL) for a period where one customer's invoice was
// issued, one was skipped (all zero, the contract wants no such invoice) and one was left to the
// legacy biller: the skipped and legacy periods are final, so their events are accounted for, not
// "not yet billed".
let testbed: BillingTestbed;
let files: RateCardFiles;
beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('ops_reconciliation', { ratecardsDir: files.root });
});
afterAll(async () => {
  await testbed?.close();
  await rm(files.root, { recursive: true, force: true });
});

describe('the ops view’s reconciliation', () => {
  it('counts the events of skipped and legacy periods as settled, not as not yet billed', async () => {
    const paid = `opsr${process.pid}`;
    const free = `opsrfree${process.pid}`;
    await files.publish(testbed.pool, await files.write(paid, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    await files.publish(testbed.pool, await files.write(free, '2026-09-01T00:00:00Z', { tokenPrice: '0' }));
    const customers = {
      issued: { id: `ops-issued-${process.pid}`, contract: { ratecard: paid }, events: 3 },
      skipped: { id: `ops-skipped-${process.pid}`, contract: { ratecard: free, invoice_when_zero: false }, events: 2 },
      legacy: {
        id: `ops-legacy-${process.pid}`,
        contract: { ratecard: paid, billing_authority: 'legacy' as const },
        events: 4,
      },
    };
    for (const customer of Object.values(customers))
      await testbed.publishContract(
        buildContract({
          customer_id: customer.id,
          starts_at: '2026-10-01T00:00:00Z',
          provider: { kind: 'ledger', customer: customer.id },
          ...customer.contract,
        }),
      );
    await testbed.storeEvents(
      Object.values(customers).flatMap((customer) =>
        Array.from({ length: customer.events }, (_, index) =>
          buildUsageEvent({
            customer_id: customer.id,
            event_id: `${customer.id}-${index}`,
            timestamp: `2026-10-0${index + 1}T10:00:00.000Z`,
            quantity: '1000',
            metadata: { sku: 'llm.tokens' },
          }),
        ),
      ),
    );
    const stages = await testbed.withWorker(async () => {
      const results: Record<string, string> = {};
      for (const [name, customer] of Object.entries(customers))
        results[name] = (await (await testbed.startPeriod(testbed.periodInput(customer.id, '2026-10'))).result()).stage;
      return results;
    });
    expect(stages).toEqual({ issued: 'completed', skipped: 'skipped', legacy: 'legacy' });

    const overview = await opsOverview(testbed.pool);
    const october = overview.reconciliation.find((row) => row.period === '2026-10' && row.currency === 'USD');
    expect(october).toMatchObject({
      invoices: 3,
      issued: 1,
      skipped: 1,
      legacy: 1,
      eventsStored: '9',
      eventsInvoiced: '3',
      eventsSkippedOrLegacy: '6',
      eventsUnaccounted: '0',
    });
  }, 180_000);
});
