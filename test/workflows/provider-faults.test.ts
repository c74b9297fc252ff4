import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../contracts/contract.ts';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { findReviewException } from '../../db/queries/review-exceptions.ts';
import { Decimal, toMinorUnitsString } from '../../domain/money.ts';
import { decideUpdate, statusQuery } from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { FakeStripeServer } from '../harness/fake-stripe-server.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

let testbed: BillingTestbed;
let stripe: FakeStripeServer;
beforeAll(async () => {
  testbed = await BillingTestbed.create('provider_faults');
  stripe = await FakeStripeServer.start();
});
afterAll(async () => {
  await stripe.close();
  await testbed.close();
});

const OCTOBER = '2026-10';

function stripeContract(customerId: string, stripeCustomer: string): Contract {
  return buildContract({
    customer_id: customerId,
    starts_at: '2026-01-01T00:00:00Z',
    credits: [{ id: 'promo', kind: 'promotional', amount: '3.00', granted_at: '2026-09-01T00:00:00Z' }],
    provider: { kind: 'stripe', customer: stripeCustomer },
  });
}

async function storeUsage(customerId: string): Promise<void> {
  await testbed.storeEvents(
    [1, 2, 3].map((index) =>
      buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-${index}`,
        timestamp: `2026-10-0${index}T12:00:00.000Z`,
        quantity: '120000',
      }),
    ),
  );
}

/** The SDK does not retry on its own here: every fault reaches the activity, which retries with backoff. */
const providers = () => ({ stripe: { ...stripe.clientOptions(), timeoutMs: 1_500, maxNetworkRetries: 0 } });

describe('provider sync under faults', () => {
  it('survives a timeout, a 5xx and a lost response, then makes exactly one Stripe invoice with the right items', async () => {
    const customerId = 'stripe-faulty';
    stripe.addCustomer({ id: 'cus_faulty' });
    await testbed.publishContract(stripeContract(customerId, 'cus_faulty'));
    await storeUsage(customerId);
    stripe.inject(
      { method: 'POST', path: '/v1/invoices', fault: { kind: 'timeout' } },
      { method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'error', status: 503 } },
      { method: 'POST', path: /^\/v1\/invoices\/[^/]+\/finalize$/, fault: { kind: 'lost_response' } },
    );
    const result = await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customerId, OCTOBER));
      const finished = await handle.result();
      await recordHistory(handle, 'provider-faults-retried');
      const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap(
        (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
      );
      return { ...finished, scheduled };
    }, providers());
    expect(result.stage).toBe('completed');
    // A remote provider is a regular activity (server-side retries and backoff), unlike the ledger sink.
    expect(result.scheduled).toEqual(['syncInvoice']);
    expect(stripe.pendingFaults()).toBe(0);

    const issued = (await findInvoice(testbed.pool, `inv:${customerId}:${OCTOBER}`))?.document as IssuedInvoice;
    const invoices = stripe.invoices({ customer: 'cus_faulty' });
    expect(invoices).toHaveLength(1);
    expect(invoices[0]).toMatchObject({ status: 'open', metadata: { tally_invoice_id: issued.invoice_id } });
    const items = stripe.invoiceItems({ customer: 'cus_faulty' });
    const billable = issued.lines.filter((line) => !new Decimal(line.amount).isZero());
    expect(items.map((item) => [item.metadata.tally_line_key, String(item.amount)]).sort()).toEqual(
      billable.map((line) => [line.line_key, toMinorUnitsString(new Decimal(line.amount), issued.currency)]).sort(),
    );
    expect(items.every((item) => item.invoice === invoices[0]?.id)).toBe(true);
    expect(invoices[0]?.total).toBe(Number(toMinorUnitsString(new Decimal(issued.total), issued.currency)));
  }, 120_000);

  it('turns a permanent provider error into an exception for a person, and syncs once it is approved', async () => {
    const customerId = 'stripe-missing-customer';
    await testbed.publishContract(stripeContract(customerId, 'cus_not_yet'));
    await storeUsage(customerId);
    await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customerId, OCTOBER));
      let exceptionId: string | undefined;
      const deadline = Date.now() + 60_000;
      while ((exceptionId = (await handle.query(statusQuery)).openExceptionId) === undefined) {
        if (Date.now() > deadline) throw new Error('no exception opened');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const exception = await findReviewException(testbed.pool, exceptionId);
      expect(exception).toMatchObject({ kind: 'provider_sync_failed', status: 'open' });
      expect(exception?.breaches[0]?.detail).toMatch(/cus_not_yet/);
      // Nothing reached Stripe; the invoice is issued and waits.
      expect(stripe.invoices({ customer: 'cus_not_yet' })).toEqual([]);
      expect((await findInvoice(testbed.pool, `inv:${customerId}:${OCTOBER}`))?.status).toBe('issued');

      stripe.addCustomer({ id: 'cus_not_yet' });
      await handle.executeUpdate(decideUpdate, {
        args: [{ kind: 'approve', exceptionId, reviewer: 'ops-dee', note: 'customer created in Stripe' }],
      });
      expect((await handle.result()).stage).toBe('completed');
      await recordHistory(handle, 'provider-error-exception-approved');
    }, providers());
    expect(stripe.invoices({ customer: 'cus_not_yet' })).toHaveLength(1);
  }, 120_000);
});
