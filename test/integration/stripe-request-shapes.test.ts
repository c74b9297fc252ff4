import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { createStripeClient, StripeBillingProvider } from '../../providers/stripe-provider.ts';
import { planStripeInvoice } from '../../providers/stripe-invoice-plan.ts';
import { buildIssuedInvoice, buildJpyInvoice } from '../builders/issued-invoice-builder.ts';
import { FakeStripeServer } from '../harness/fake-stripe-server.ts';
import { testPool } from '../harness/services.ts';
import { startStripeMock, type RunningStripeMock } from '../harness/stripe-mock.ts';

/**
 * Request shapes against stripe-mock, Stripe's mock server that validates every request against
 * its bundled OpenAPI spec. stripe-mock keeps no state, so the sync runs through the fake in
 * validating mode: each request goes byte for byte to stripe-mock first and must be accepted
 * there; the fake then answers statefully. Exactly-once is proven against the fake alone
 * (stripe-provider.test.ts); this file proves the shapes.
 */
const pool = testPool(4);
let mock: RunningStripeMock;
beforeAll(async () => {
  mock = await startStripeMock();
}, 600_000);
afterAll(async () => {
  await mock.stop();
  await pool.end();
});

const ID_SEGMENT = /\/(cus|in|ii)_[A-Za-z0-9]+/g;

describe("the Stripe provider's requests", () => {
  it('are all accepted by stripe-mock, across a whole sync including its retry paths', async () => {
    const fake = await FakeStripeServer.start({ validateWith: mock });
    try {
      fake.addCustomer({ id: 'cus_acme' });
      const provider = new StripeBillingProvider({
        stripe: createStripeClient({ ...fake.clientOptions(), maxNetworkRetries: 0, timeoutMs: 5_000 }),
        pool,
      });
      await provider.syncInvoice(buildIssuedInvoice(), { kind: 'stripe', customer: 'cus_acme' });
      await provider.syncInvoice(buildJpyInvoice(), { kind: 'stripe', customer: 'cus_acme' });
      // A stored 500 on finalize: the retry replays it, retrieves the invoice, and finalizes under the next key.
      const retried = buildIssuedInvoice();
      fake.inject({ method: 'POST', path: /finalize$/, fault: { kind: 'error', status: 500 } });
      await expect(provider.syncInvoice(retried, { kind: 'stripe', customer: 'cus_acme' })).rejects.toMatchObject({
        code: 'provider_unavailable',
      });
      await provider.syncInvoice(retried, { kind: 'stripe', customer: 'cus_acme' });

      expect(fake.shapeRejections).toEqual([]);
      expect(new Set(fake.validatedRequests.map((request) => request.replace(ID_SEGMENT, '/{id}')))).toEqual(
        new Set([
          'GET /v1/customers/{id}',
          'GET /v1/invoices',
          'POST /v1/invoices',
          'GET /v1/invoices/{id}',
          'GET /v1/invoiceitems',
          'POST /v1/invoiceitems',
          'POST /v1/invoices/{id}/finalize',
        ]),
      );
      expect(fake.validatedRequests.length).toBe(fake.requests.length);
    } finally {
      await fake.close();
    }
  });

  it('are refused by stripe-mock when malformed (the check can fail)', async () => {
    const fake = await FakeStripeServer.start({ validateWith: mock });
    try {
      const stripe = createStripeClient({ ...fake.clientOptions(), maxNetworkRetries: 0 });
      await expect(
        stripe.invoiceItems.create({ customer: 'cus_acme', currency: 'usd', amount: 'ten' as unknown as number }),
      ).rejects.toMatchObject({ statusCode: 400 });
      expect(fake.shapeRejections).toHaveLength(1);
      expect(fake.shapeRejections[0]?.body).toMatch(/amount/);
    } finally {
      await fake.close();
    }
  });
});

describe("the fake Stripe server's answers", () => {
  it("use only fields, with the same JSON types, that stripe-mock's objects have", async () => {
    const fake = await FakeStripeServer.start();
    try {
      fake.addCustomer({ id: 'cus_acme' });
      const plan = planStripeInvoice(buildIssuedInvoice(), 'cus_acme');
      const objectsFrom = async (stripe: Stripe): Promise<Record<string, object>> => {
        const customer = await stripe.customers.retrieve('cus_acme');
        const draft = await stripe.invoices.create(plan.invoiceParams);
        const item = await stripe.invoiceItems.create({
          ...(plan.items[0] as (typeof plan.items)[number]).params,
          invoice: draft.id,
        });
        const finalized = await stripe.invoices.finalizeInvoice(draft.id, { auto_advance: true });
        const itemList = await stripe.invoiceItems.list({ invoice: draft.id, limit: 100 });
        return { customer, draft, item, finalized, itemList };
      };
      const real = await objectsFrom(
        createStripeClient({
          apiKey: 'sk_test_shapes',
          host: mock.host,
          port: mock.port,
          protocol: 'http',
          maxNetworkRetries: 0,
        }),
      );
      const ours = await objectsFrom(createStripeClient({ ...fake.clientOptions(), maxNetworkRetries: 0 }));

      const problems: string[] = [];
      for (const [name, object] of Object.entries(ours)) compareShape(`${name}`, object, real[name], problems);
      expect(problems).toEqual([]);
    } finally {
      await fake.close();
    }
  });
});

/** Every field of `ours` must exist in `real` with the same JSON type (null matches anything); recurses into objects and first array elements. */
function compareShape(path: string, ours: unknown, real: unknown, problems: string[]): void {
  if (ours === null || real === null || ours === undefined) return;
  if (real === undefined) {
    problems.push(`${path}: stripe-mock has no such field`);
    return;
  }
  const kind = (value: unknown): string => (Array.isArray(value) ? 'array' : typeof value);
  if (kind(ours) !== kind(real)) {
    problems.push(`${path}: ${kind(ours)} here, ${kind(real)} in stripe-mock`);
    return;
  }
  if (Array.isArray(ours)) {
    if (ours.length > 0 && (real as unknown[]).length > 0)
      compareShape(`${path}[0]`, ours[0], (real as unknown[])[0], problems);
    return;
  }
  if (typeof ours === 'object') {
    // metadata is a free-form map: its keys are data, not shape.
    if (path.endsWith('.metadata')) return;
    for (const [key, value] of Object.entries(ours))
      compareShape(`${path}.${key}`, value, (real as Record<string, unknown>)[key], problems);
  }
}
