import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { createStripeClient } from '../../providers/stripe-provider.ts';
import { FakeStripeServer, parseForm } from '../harness/fake-stripe-server.ts';

/** The fake's own semantics, checked through the real SDK: the provider tests rely on them. */
let fake: FakeStripeServer;
let stripe: Stripe;
beforeEach(async () => {
  fake = await FakeStripeServer.start();
  fake.addCustomer({ id: 'cus_fake1' });
  stripe = createStripeClient({ ...fake.clientOptions(), maxNetworkRetries: 0, timeoutMs: 2_000 });
});
afterEach(async () => {
  await fake.close();
});

const itemParams = {
  customer: 'cus_fake1',
  currency: 'usd',
  amount: 1234,
  description: 'one',
  metadata: { k: 'v' },
  period: { start: 1, end: 2 },
};

describe('the fake Stripe server', () => {
  it('decodes the SDK form encoding into nested params', () => {
    expect(parseForm('amount=-6000&metadata[tally_line_key]=a%3Ab&period[start]=1&expand[0]=x&expand[1]=y')).toEqual({
      amount: '-6000',
      metadata: { tally_line_key: 'a:b' },
      period: { start: '1' },
      expand: ['x', 'y'],
    });
  });

  it('replays the first response for a reused idempotency key and refuses it with other parameters', async () => {
    const first = await stripe.invoiceItems.create(itemParams, { idempotencyKey: 'key-1' });
    const again = await stripe.invoiceItems.create(itemParams, { idempotencyKey: 'key-1' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(fake.invoiceItems()).toHaveLength(1);

    const error = await stripe.invoiceItems
      .create({ ...itemParams, amount: 1235 }, { idempotencyKey: 'key-1' })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
    expect(fake.invoiceItems()).toHaveLength(1);
  });

  it('stores an injected 500 under its key and replays it; an edge 503 is not stored', async () => {
    fake.inject({ method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'error', status: 500 } });
    await expect(stripe.invoiceItems.create(itemParams, { idempotencyKey: 'key-500' })).rejects.toMatchObject({
      statusCode: 500,
    });
    const replay = await stripe.invoiceItems
      .create(itemParams, { idempotencyKey: 'key-500' })
      .catch((caught: unknown) => caught as Stripe.errors.StripeError);
    expect(replay).toMatchObject({ statusCode: 500 });
    expect((replay as Stripe.errors.StripeError).headers?.['idempotent-replayed']).toBe('true');
    expect(fake.invoiceItems()).toHaveLength(0);

    fake.inject({ method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'error', status: 503 } });
    await expect(stripe.invoiceItems.create(itemParams, { idempotencyKey: 'key-503' })).rejects.toMatchObject({
      statusCode: 503,
    });
    await stripe.invoiceItems.create(itemParams, { idempotencyKey: 'key-503' });
    expect(fake.invoiceItems()).toHaveLength(1);
  });

  it('commits a request whose response it then loses, and replays it to the retry', async () => {
    fake.inject({ method: 'POST', path: '/v1/invoiceitems', times: 2, fault: { kind: 'lost_response' } });
    // The SDK retries a reset connection once by itself; both answers are lost.
    await expect(stripe.invoiceItems.create(itemParams, { idempotencyKey: 'key-lost' })).rejects.toMatchObject({
      type: 'StripeConnectionError',
    });
    expect(fake.invoiceItems()).toHaveLength(1);
    const retried = await stripe.invoiceItems.create(itemParams, { idempotencyKey: 'key-lost' });
    expect(retried.id).toBe(fake.invoiceItems()[0]?.id);
    expect(fake.invoiceItems()).toHaveLength(1);
  });

  it('holds a request past the client timeout, committed or not', async () => {
    const impatient = createStripeClient({ ...fake.clientOptions(), maxNetworkRetries: 0, timeoutMs: 300 });
    fake.inject({ method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'timeout', commit: false } });
    await expect(impatient.invoiceItems.create(itemParams, { idempotencyKey: 'key-t1' })).rejects.toMatchObject({
      type: 'StripeConnectionError',
    });
    expect(fake.invoiceItems()).toHaveLength(0);
    fake.inject({ method: 'POST', path: '/v1/invoiceitems', fault: { kind: 'timeout' } });
    await expect(impatient.invoiceItems.create(itemParams, { idempotencyKey: 'key-t2' })).rejects.toMatchObject({
      type: 'StripeConnectionError',
    });
    expect(fake.invoiceItems()).toHaveLength(1);
    expect(fake.pendingFaults()).toBe(0);
  });

  it('attaches pending items with include, leaves them with exclude, and finalizes to open with a number', async () => {
    fake.addPendingItem({ customer: 'cus_fake1', amount: 999, currency: 'usd' });
    fake.addPendingItem({ customer: 'cus_fake1', amount: 5, currency: 'eur' });
    const excluded = await stripe.invoices.create({
      customer: 'cus_fake1',
      currency: 'usd',
      pending_invoice_items_behavior: 'exclude',
    });
    expect(excluded.lines.data).toHaveLength(0);
    const included = await stripe.invoices.create({
      customer: 'cus_fake1',
      currency: 'usd',
      pending_invoice_items_behavior: 'include',
      auto_advance: false,
    });
    expect(included.lines.data.map((line) => line.amount)).toEqual([999]);
    expect(included).toMatchObject({ status: 'draft', number: null, total: 999, auto_advance: false });
    expect(fake.invoiceItems({ invoice: null }).map((item) => item.currency)).toEqual(['eur']);

    const finalized = await stripe.invoices.finalizeInvoice(included.id);
    expect(finalized.status).toBe('open');
    expect(finalized.number).toMatch(/^FAKE0001-\d{4}$/);
    await expect(stripe.invoices.finalizeInvoice(included.id)).rejects.toMatchObject({ statusCode: 400 });
    await expect(stripe.invoiceItems.create({ ...itemParams, invoice: included.id })).rejects.toMatchObject({
      statusCode: 400,
      code: 'invoice_not_editable',
    });
    const searched = await stripe.invoices.search({ query: "customer:'cus_fake1'" });
    expect(searched.data).toHaveLength(2);
  });

  it('pages lists newest first and filters by created', async () => {
    fake.setClock(1_000);
    const old = await stripe.invoices.create({ customer: 'cus_fake1' });
    fake.setClock(2_000);
    for (let index = 0; index < 3; index += 1) await stripe.invoices.create({ customer: 'cus_fake1' });
    const recent = await stripe.invoices
      .list({ customer: 'cus_fake1', created: { gte: 1_500 }, limit: 2 })
      .autoPagingToArray({ limit: 100 });
    expect(recent).toHaveLength(3);
    expect(recent.map((each) => each.id)).not.toContain(old.id);
    const firstPage = await stripe.invoices.list({ customer: 'cus_fake1', limit: 2 });
    expect(firstPage.has_more).toBe(true);
  });

  it('answers errors shaped like Stripe: unknown customer, unknown parameter, bad key', async () => {
    await expect(stripe.customers.retrieve('cus_nobody')).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      type: 'StripeInvalidRequestError',
    });
    await expect(
      stripe.invoiceItems.create({ ...itemParams, bogus_param: 'x' } as unknown as Stripe.InvoiceItemCreateParams),
    ).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown' });
    const wrongKey = createStripeClient({ ...fake.clientOptions(), apiKey: 'sk_test_wrong', maxNetworkRetries: 0 });
    await expect(wrongKey.customers.retrieve('cus_fake1')).rejects.toMatchObject({
      statusCode: 401,
      type: 'StripeAuthenticationError',
    });
  });
});
