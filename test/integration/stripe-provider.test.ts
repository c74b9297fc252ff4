import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import type { ProviderSyncResult, StripeTarget } from '../../contracts/provider-sync.ts';
import { findSyncRecord } from '../../db/queries/provider-sync-records.ts';
import { ProviderError } from '../../providers/provider-error.ts';
import {
  createStripeClient,
  StripeBillingProvider,
  type StripeProviderOptions,
} from '../../providers/stripe-provider.ts';
import { buildIssuedInvoice, buildJpyInvoice, newInvoiceId } from '../builders/issued-invoice-builder.ts';
import { FakeStripeServer } from '../harness/fake-stripe-server.ts';
import { testPool } from '../harness/services.ts';

const pool = testPool(8);
let fake: FakeStripeServer;
const target: StripeTarget = { kind: 'stripe', customer: 'cus_acme' };
const sleeps: number[] = [];

beforeEach(async () => {
  fake = await FakeStripeServer.start();
  fake.addCustomer({ id: 'cus_acme', email: 'billing@acme.test' });
  sleeps.length = 0;
});
afterEach(async () => {
  await fake.close();
});
afterAll(async () => {
  await pool.end();
});

/** A provider on the fake. The SDK's own retries are off unless asked for, so each fault is seen once. */
function stripeProvider(
  options: { maxNetworkRetries?: number; timeoutMs?: number; apiKey?: string } & Partial<StripeProviderOptions> = {},
): StripeBillingProvider {
  const stripe = createStripeClient({
    ...fake.clientOptions(),
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
    timeoutMs: options.timeoutMs ?? 500,
  });
  return new StripeBillingProvider({
    stripe,
    pool,
    rateLimitRetry: options.rateLimitRetry ?? { attempts: 3, initialDelayMs: 10, maxDelayMs: 40 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...(options.maxKeyGenerations === undefined ? {} : { maxKeyGenerations: options.maxKeyGenerations }),
  });
}

/** What a retrying activity does: call again after every retryable failure; a permanent one ends it. */
async function syncLikeARetryingActivity(
  provider: StripeBillingProvider,
  invoice: IssuedInvoice,
  maxAttempts = 10,
): Promise<{ result: ProviderSyncResult; failures: ProviderError[] }> {
  const failures: ProviderError[] = [];
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    try {
      return { result: await provider.syncInvoice(invoice, target), failures };
    } catch (error) {
      if (!(error instanceof ProviderError) || !error.retryable) throw error;
      failures.push(error);
    }
  }
  throw new Error(`no success in ${maxAttempts} attempts: ${failures.map((failure) => failure.message).join(' | ')}`);
}

function postKeys(): string[] {
  return fake.requests
    .filter((request) => request.method === 'POST')
    .map((request) => request.idempotencyKey ?? '(none)');
}

/** The one invoice the fake holds for a Tally invoice, with its items in line order. */
function heldFor(invoice: IssuedInvoice): {
  stripeInvoice: ReturnType<FakeStripeServer['invoices']>[number];
  items: Array<{ lineKey: string; amount: number; currency: string }>;
} {
  const invoices = fake
    .invoices({ customer: 'cus_acme' })
    .filter((each) => each.metadata.tally_invoice_id === invoice.invoice_id);
  expect(invoices).toHaveLength(1);
  const stripeInvoice = invoices[0] as ReturnType<FakeStripeServer['invoices']>[number];
  const items = fake
    .invoiceItems({ invoice: stripeInvoice.id })
    .map((item) => ({ lineKey: item.metadata.tally_line_key as string, amount: item.amount, currency: item.currency }))
    .sort(
      (a, b) =>
        invoice.lines.findIndex((line) => line.line_key === a.lineKey) -
        invoice.lines.findIndex((line) => line.line_key === b.lineKey),
    );
  return { stripeInvoice, items };
}

describe('the Stripe provider against the fake Stripe server', () => {
  it('syncs an issued invoice as one finalized invoice with one item per line, amounts in minor units', async () => {
    const invoice = buildIssuedInvoice();
    const result = await stripeProvider().syncInvoice(invoice, target);

    const { stripeInvoice, items } = heldFor(invoice);
    expect(stripeInvoice).toMatchObject({
      status: 'open',
      currency: 'usd',
      customer: 'cus_acme',
      auto_advance: true,
      total: 99_000,
      metadata: {
        tally_invoice_id: invoice.invoice_id,
        tally_invoice_number: invoice.invoice_number,
        tally_period: '2026-10',
        tally_customer_id: 'acme',
      },
    });
    expect(stripeInvoice.number).not.toBeNull();
    expect(items).toEqual([
      { lineKey: 'usage:tokens-us', amount: 60_000, currency: 'usd' },
      { lineKey: 'fee:platform', amount: 50_000, currency: 'usd' },
      { lineKey: 'discount:launch-10', amount: -6_000, currency: 'usd' },
      { lineKey: 'commit_true_up', amount: 0, currency: 'usd' },
      { lineKey: 'credit:promo-q4', amount: -5_000, currency: 'usd' },
    ]);
    const usageItem = fake
      .invoiceItems({ invoice: stripeInvoice.id })
      .find((item) => item.metadata.tally_line_key === 'usage:tokens-us');
    expect(usageItem).toMatchObject({
      description: 'llm.tokens (tokens-us): 15000 tokens',
      period: { start: Date.UTC(2026, 9, 1) / 1000, end: Date.UTC(2026, 10, 1) / 1000 },
      metadata: { tally_invoice_id: invoice.invoice_id, tally_line_key: 'usage:tokens-us', tally_line_kind: 'usage' },
    });

    // Deterministic keys, derived from the invoice and its lines; the draft excludes foreign pending items.
    const id = invoice.invoice_id;
    expect(postKeys()).toEqual([
      `tally:${id}:invoice`,
      ...invoice.lines.map((line) => `tally:${id}:item:${line.line_key}`),
      `tally:${id}:finalize`,
    ]);
    const invoiceCreate = fake.requests.find((request) => request.method === 'POST' && request.path === '/v1/invoices');
    expect(invoiceCreate?.params).toMatchObject({
      pending_invoice_items_behavior: 'exclude',
      auto_advance: 'false',
      currency: 'usd',
    });

    expect(result).toMatchObject({
      provider: 'stripe',
      invoice_id: id,
      external_customer_id: 'cus_acme',
      external_invoice_id: stripeInvoice.id,
      status: 'open',
    });
    expect(Object.keys(result.items).sort()).toEqual(invoice.lines.map((line) => line.line_key).sort());
    expect(new Set(Object.values(result.items))).toEqual(
      new Set(fake.invoiceItems({ invoice: stripeInvoice.id }).map((item) => item.id)),
    );
    expect(await findSyncRecord(pool, id, 'stripe')).toEqual(result);

    // Syncing again returns the recorded ids and does not touch Stripe.
    const requestsBefore = fake.requests.length;
    expect(await stripeProvider().syncInvoice(invoice, target)).toEqual(result);
    expect(fake.requests.length).toBe(requestsBefore);
  });

  it("sends JPY amounts as whole yen (no minor digits) and ISK with Stripe's two", async () => {
    const yen = buildJpyInvoice();
    await stripeProvider().syncInvoice(yen, target);
    const held = heldFor(yen);
    expect(held.items).toEqual([
      { lineKey: 'usage:tokens-jp', amount: 1_200, currency: 'jpy' },
      { lineKey: 'fee:platform', amount: 50_000, currency: 'jpy' },
      { lineKey: 'discount:launch-10', amount: -120, currency: 'jpy' },
      { lineKey: 'credit:prepaid-1', amount: -1_080, currency: 'jpy' },
    ]);
    expect(held.stripeInvoice.total).toBe(50_000);

    const krona = buildIssuedInvoice({
      currency: 'ISK',
      lines: [
        { kind: 'fee', line_key: 'fee:platform', price_id: 'platform', description: 'Platform fee', amount: '7500' },
      ],
      subtotal: '7500',
      total: '7500',
    });
    await stripeProvider().syncInvoice(krona, target);
    expect(heldFor(krona).items).toEqual([{ lineKey: 'fee:platform', amount: 750_000, currency: 'isk' }]);
  });

  it('recovers from timeouts, server errors and lost responses into exactly one invoice with the right items', async () => {
    const invoice = buildIssuedInvoice();
    const [firstLine, secondLine] = invoice.lines;
    fake.inject(
      // attempt 1: the customer check meets an overloaded edge
      { method: 'GET', path: '/v1/customers/cus_acme', fault: { kind: 'error', status: 503 } },
      // attempt 2: the draft is created, but both the answer and the SDK's own retry's answer are lost
      { method: 'POST', path: '/v1/invoices', times: 2, fault: { kind: 'lost_response' } },
      // attempt 3: the draft is found by its metadata; the first item is created but the client times out
      { method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'timeout' } },
      // attempt 4: the first item is found on the draft; the second fails inside Stripe with a stored 500
      { method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'error', status: 500 } },
      // attempt 5: the second item's key replays the 500; it is looked up, absent, and created under the next key;
      //            then finalizing meets a 409 lock timeout
      {
        method: 'POST',
        path: /^\/v1\/invoices\/[^/]+\/finalize$/,
        fault: {
          kind: 'error',
          status: 409,
          code: 'lock_timeout',
          message:
            'This object cannot be accessed right now because another API request or Stripe process is currently accessing it.',
        },
      },
    );

    const { result, failures } = await syncLikeARetryingActivity(stripeProvider(), invoice);

    expect(failures.map((failure) => failure.code)).toEqual([
      'provider_unavailable',
      'provider_unavailable',
      'provider_unavailable',
      'provider_unavailable',
      'provider_conflict',
    ]);
    expect(fake.pendingFaults()).toBe(0);
    const { stripeInvoice, items } = heldFor(invoice);
    expect(stripeInvoice.status).toBe('open');
    expect(items.map((item) => `${item.lineKey} ${item.amount}`)).toEqual([
      'usage:tokens-us 60000',
      'fee:platform 50000',
      'discount:launch-10 -6000',
      'commit_true_up 0',
      'credit:promo-q4 -5000',
    ]);
    expect(fake.invoices()).toHaveLength(1);
    expect(fake.invoiceItems()).toHaveLength(5);
    expect(fake.creations('/v1/invoices')).toHaveLength(1);
    expect(fake.creations('/v1/invoiceitems')).toHaveLength(5);
    const id = invoice.invoice_id;
    expect(postKeys().filter((key) => key.includes(':retry-'))).toEqual([
      `tally:${id}:item:${secondLine?.line_key}:retry-2`,
    ]);
    expect(postKeys().filter((key) => key === `tally:${id}:item:${firstLine?.line_key}`)).toHaveLength(1);
    expect(result.external_invoice_id).toBe(stripeInvoice.id);
    expect(result.items[secondLine?.line_key as string]).toBe(
      fake.invoiceItems().find((item) => item.metadata.tally_line_key === secondLine?.line_key)?.id,
    );
  });

  it('finds what a lost attempt created even after Stripe has forgotten the idempotency keys', async () => {
    const invoice = buildIssuedInvoice();
    fake.inject(
      { method: 'POST', path: '/v1/invoices', times: 2, fault: { kind: 'lost_response' } },
      { method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'timeout' } },
    );
    const provider = stripeProvider();
    await expect(provider.syncInvoice(invoice, target)).rejects.toMatchObject({ code: 'provider_unavailable' });
    fake.forgetIdempotencyKeys();
    await expect(provider.syncInvoice(invoice, target)).rejects.toMatchObject({ code: 'provider_unavailable' });
    fake.forgetIdempotencyKeys();
    await provider.syncInvoice(invoice, target);

    expect(fake.invoices()).toHaveLength(1);
    expect(heldFor(invoice).items).toHaveLength(5);
    expect(fake.invoiceItems()).toHaveLength(5);
  });

  it('lets the SDK retry 5xx and 409 under the same key within one call', async () => {
    const invoice = buildIssuedInvoice();
    fake.inject(
      { method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'error', status: 503 } },
      { method: 'POST', path: /finalize$/, fault: { kind: 'error', status: 409, code: 'lock_timeout' } },
    );
    await stripeProvider({ maxNetworkRetries: 2 }).syncInvoice(invoice, target);
    expect(fake.pendingFaults()).toBe(0);
    expect(heldFor(invoice).items).toHaveLength(5);
    expect(fake.creations('/v1/invoiceitems')).toHaveLength(5);
  });

  it('backs off on 429, which the SDK does not retry, and gives up retryably', async () => {
    const invoice = buildIssuedInvoice();
    fake.inject({
      method: 'POST',
      path: '/v1/invoiceitems',
      times: 2,
      fault: { kind: 'error', status: 429, code: 'rate_limit', message: 'Too many requests hit the API too quickly.' },
    });
    await stripeProvider().syncInvoice(invoice, target);
    expect(sleeps).toEqual([10, 20]);
    expect(heldFor(invoice).items).toHaveLength(5);

    const limited = buildIssuedInvoice();
    fake.inject({
      method: 'POST',
      path: '/v1/invoices',
      times: 3,
      fault: { kind: 'error', status: 429, code: 'rate_limit' },
    });
    await expect(stripeProvider().syncInvoice(limited, target)).rejects.toMatchObject({
      code: 'provider_rate_limited',
      retryable: true,
    });
  });

  it("surfaces a permanent 400 as non-retryable, with Stripe's code and request id", async () => {
    fake.inject({
      method: 'POST',
      path: '/v1/invoiceitems',
      fault: { kind: 'error', status: 400, code: 'parameter_invalid_integer', message: 'Invalid integer: amount' },
    });
    const error = await stripeProvider()
      .syncInvoice(buildIssuedInvoice(), target)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({
      code: 'provider_invalid_request',
      retryable: false,
      details: { httpStatus: 400, providerCode: 'parameter_invalid_integer' },
    });
    expect((error as ProviderError).details.requestId).toMatch(/^req_/);
  });

  it('refuses a missing or deleted customer and a wrong API key permanently', async () => {
    await expect(
      stripeProvider().syncInvoice(buildIssuedInvoice(), { kind: 'stripe', customer: 'cus_nobody' }),
    ).rejects.toMatchObject({ code: 'provider_customer_not_found', retryable: false });
    fake.addCustomer({ id: 'cus_gone', deleted: true });
    await expect(
      stripeProvider().syncInvoice(buildIssuedInvoice(), { kind: 'stripe', customer: 'cus_gone' }),
    ).rejects.toMatchObject({ code: 'provider_customer_not_found', retryable: false });
    await expect(
      stripeProvider({ apiKey: 'sk_test_revoked' }).syncInvoice(buildIssuedInvoice(), target),
    ).rejects.toMatchObject({ code: 'provider_authentication_failed', retryable: false });
    expect(fake.invoices()).toHaveLength(0);
  });

  it('reports a reused idempotency key with different parameters as a clear permanent error', async () => {
    const invoice = buildIssuedInvoice();
    // An earlier attempt (say, by a previous release) used the invoice's key with other parameters.
    const other = createStripeClient({ ...fake.clientOptions(), maxNetworkRetries: 0 });
    await other.invoices.create(
      { customer: 'cus_acme', currency: 'eur' },
      { idempotencyKey: `tally:${invoice.invoice_id}:invoice` },
    );

    const error = await stripeProvider()
      .syncInvoice(invoice, target)
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'provider_idempotency_conflict',
      retryable: false,
      details: { httpStatus: 400, providerCode: 'idempotency_error' },
    });
    expect((error as Error).message).toMatch(/reused idempotency key with different parameters/);
  });

  it('walks idempotency-key generations only while a stored 500 replays, and stops at the limit', async () => {
    const invoice = buildIssuedInvoice();
    fake.inject({ method: 'POST', path: '/v1/invoices', times: 3, fault: { kind: 'error', status: 500 } });
    const provider = stripeProvider({ maxKeyGenerations: 2 });
    await expect(provider.syncInvoice(invoice, target)).rejects.toMatchObject({ code: 'provider_unavailable' });
    await expect(provider.syncInvoice(invoice, target)).rejects.toMatchObject({ code: 'provider_unavailable' });
    const error = await provider.syncInvoice(invoice, target).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'provider_idempotency_keys_exhausted', retryable: false });
    expect(fake.invoices()).toHaveLength(0);
    const id = invoice.invoice_id;
    expect(postKeys()).toEqual([
      `tally:${id}:invoice`,
      `tally:${id}:invoice`,
      `tally:${id}:invoice:retry-2`,
      `tally:${id}:invoice`,
      `tally:${id}:invoice:retry-2`,
    ]);
  });

  it('leaves a draft that holds something else unfinalized and says what is wrong', async () => {
    const invoice = buildIssuedInvoice();
    fake.inject({ method: 'POST', path: /finalize$/, fault: { kind: 'error', status: 503 } });
    await expect(stripeProvider().syncInvoice(invoice, target)).rejects.toMatchObject({ code: 'provider_unavailable' });
    const draft = heldFor(invoice).stripeInvoice;
    // Someone adds an item to the draft by hand before the retry.
    const other = createStripeClient({ ...fake.clientOptions(), maxNetworkRetries: 0 });
    const manual = await other.invoiceItems.create({
      customer: 'cus_acme',
      currency: 'usd',
      amount: 100,
      invoice: draft.id,
    });

    const error = await stripeProvider()
      .syncInvoice(invoice, target)
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'provider_invoice_mismatch', retryable: false });
    expect((error as Error).message).toContain(manual.id);
    expect(heldFor(invoice).stripeInvoice.status).toBe('draft');
  });

  it("does not sweep the customer's other pending items into the invoice", async () => {
    fake.addPendingItem({ customer: 'cus_acme', amount: 777, currency: 'usd', description: 'set up by hand' });
    const invoice = buildIssuedInvoice();
    await stripeProvider().syncInvoice(invoice, target);
    expect(heldFor(invoice).items).toHaveLength(5);
    expect(fake.invoiceItems({ invoice: null }).map((item) => item.amount)).toEqual([777]);
  });

  it('gives overlapping syncs of one invoice (a retry while the first attempt still runs) one invoice and one answer', async () => {
    const invoice = buildIssuedInvoice();
    const provider = stripeProvider({ maxNetworkRetries: 2 });
    const results = await Promise.all([
      provider.syncInvoice(invoice, target),
      provider.syncInvoice(invoice, target),
      provider.syncInvoice(invoice, target),
    ]);
    for (const result of results) expect(result).toEqual(results[0]);
    expect(fake.invoices()).toHaveLength(1);
    expect(fake.invoiceItems()).toHaveLength(5);
  });

  it('refuses more lines than a Stripe invoice takes before sending anything', async () => {
    const lines = Array.from({ length: 251 }, (_, index) => ({
      kind: 'fee' as const,
      line_key: `fee:${index}`,
      price_id: `fee-${index}`,
      description: `Fee ${index}`,
      amount: '1.00',
    }));
    const invoice = buildIssuedInvoice({ invoice_id: newInvoiceId(), lines, subtotal: '251.00', total: '251.00' });
    await expect(stripeProvider().syncInvoice(invoice, target)).rejects.toMatchObject({
      code: 'provider_too_many_lines',
      retryable: false,
    });
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses an amount that is not a whole number of minor units', async () => {
    const invoice = buildIssuedInvoice({
      lines: [{ kind: 'fee', line_key: 'fee:odd', price_id: 'odd', description: 'Odd', amount: '1.005' }],
      subtotal: '1.005',
      total: '1.005',
    });
    await expect(stripeProvider().syncInvoice(invoice, target)).rejects.toMatchObject({
      code: 'provider_unrepresentable_line',
      retryable: false,
    });
  });
});
