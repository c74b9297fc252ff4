import type pg from 'pg';
import Stripe from 'stripe';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import type { ProviderSyncResult, ProviderTarget } from '../contracts/provider-sync.ts';
import { findSyncRecord, insertSyncRecord } from '../db/queries/provider-sync-records.ts';
import type { BillingProvider } from './billing-provider.ts';
import { ProviderError, providerErrorCodeForStatus, storageError } from './provider-error.ts';
import {
  idempotencyKey,
  planStripeInvoice,
  type StripeInvoicePlan,
  type StripeItemPlan,
} from './stripe-invoice-plan.ts';

export interface StripeClientOptions {
  readonly apiKey: string;
  /** Where the API is; the defaults are Stripe's. Tests point these at a local server. */
  readonly host?: string;
  readonly port?: number;
  readonly protocol?: 'http' | 'https';
  /** Per-request timeout (the SDK's default is 80 s). */
  readonly timeoutMs?: number;
  /** The SDK's own retries of connection errors, timeouts, 409 and 5xx, with the same idempotency key (default 2). */
  readonly maxNetworkRetries?: number;
}

/** A Stripe client pinned to the SDK's API version, with telemetry off. */
export function createStripeClient(options: StripeClientOptions): Stripe {
  return new Stripe(options.apiKey, {
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
    timeout: options.timeoutMs ?? 30_000,
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    telemetry: false,
    appInfo: { name: 'tally' },
  });
}

export interface StripeProviderOptions {
  readonly stripe: Stripe;
  /** Where `provider_sync_records` lives. */
  readonly pool: pg.Pool;
  /**
   * Backoff for 429 (rate limit, lock timeout), which the SDK does not retry. Everything else the
   * SDK retries itself or is left to the caller (the activity's retry policy).
   */
  readonly rateLimitRetry?: { readonly attempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** How many idempotency-key generations one step may walk through (see `createWithKeyWalk`). */
  readonly maxKeyGenerations?: number;
  /** Let Stripe advance the invoice after finalizing it (collect payment or email it, per the customer's settings). Default true. */
  readonly autoAdvanceOnFinalize?: boolean;
  /** Injected for tests; the default waits in real time. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_RATE_LIMIT_RETRY = { attempts: 4, initialDelayMs: 1_000, maxDelayMs: 8_000 };
const DEFAULT_MAX_KEY_GENERATIONS = 5;
const PAGE_SIZE = 100;

/**
 * Syncs an issued invoice to Stripe as one finalized invoice whose invoice items are the invoice's
 * lines (Tally rates usage itself; Stripe only collects).
 *
 * Steps, each safe to repeat after a crash or a lost response at any point:
 *  0. a completed sync recorded in `provider_sync_records` is returned as it is;
 *  1. the customer named by the contract must exist;
 *  2. the draft invoice: looked up by `metadata.tally_invoice_id` among the customer's invoices,
 *     else created (`tally:<invoice_id>:invoice`), with pending items excluded and auto_advance off;
 *  3. one invoice item per line on that draft: the draft's items are listed and only missing lines
 *     are created (`tally:<invoice_id>:item:<line_key>`); then every line must be there exactly
 *     once, with its amount and currency, and nothing else may be on the invoice;
 *  4. finalize (`tally:<invoice_id>:finalize`) unless the invoice already left draft;
 *  5. record the external ids and return them.
 */
export class StripeBillingProvider implements BillingProvider {
  readonly kind = 'stripe' as const;
  private readonly stripe: Stripe;
  private readonly rateLimitRetry: {
    readonly attempts: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
  };
  private readonly maxKeyGenerations: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: StripeProviderOptions) {
    this.stripe = options.stripe;
    this.rateLimitRetry = options.rateLimitRetry ?? DEFAULT_RATE_LIMIT_RETRY;
    this.maxKeyGenerations = options.maxKeyGenerations ?? DEFAULT_MAX_KEY_GENERATIONS;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async syncInvoice(invoice: IssuedInvoice, target: ProviderTarget): Promise<ProviderSyncResult> {
    if (target.kind !== 'stripe') {
      throw new ProviderError(
        'stripe',
        'provider_not_configured',
        `invoice ${invoice.invoice_id} targets provider ${target.kind}, not Stripe`,
      );
    }
    const plan = planStripeInvoice(invoice, target.customer);

    // 0. A completed sync is final: Stripe is not asked again.
    const recorded = await this.storage(() => findSyncRecord(this.options.pool, invoice.invoice_id, 'stripe'));
    if (recorded !== undefined) {
      if (recorded.external_customer_id !== target.customer) {
        throw new ProviderError(
          'stripe',
          'provider_invoice_conflict',
          `invoice ${invoice.invoice_id} was synced to Stripe customer ${recorded.external_customer_id} (${recorded.external_invoice_id}), not ${target.customer}`,
        );
      }
      return recorded;
    }

    // 1. The customer must exist: Tally never creates Stripe customers.
    await this.ensureCustomer(plan.customer, invoice.invoice_id);

    // 2. The draft (or the invoice a previous attempt already created).
    let stripeInvoice =
      (await this.findInvoice(plan)) ??
      (await this.createWithKeyWalk(
        plan.invoiceKeyBase,
        `create the invoice of ${plan.invoiceId}`,
        (key) => this.stripe.invoices.create(plan.invoiceParams, { idempotencyKey: key }),
        () => this.findInvoice(plan),
      ));
    const externalInvoiceId = requireId(stripeInvoice);
    if (stripeInvoice.currency !== plan.currency) {
      throw mismatch(plan, `Stripe invoice ${externalInvoiceId} is in ${stripeInvoice.currency}, not ${plan.currency}`);
    }

    // 3. The items, then a check of the whole invoice before it is finalized.
    const items =
      stripeInvoice.status === 'draft'
        ? await this.ensureItems(plan, externalInvoiceId)
        : await this.listOurItems(plan, externalInvoiceId);
    verifyItems(plan, externalInvoiceId, items);

    // 4. Finalize.
    if (stripeInvoice.status === 'draft') stripeInvoice = await this.finalize(plan, externalInvoiceId);

    // 5. Record and return.
    const record = await this.storage(() =>
      insertSyncRecord(this.options.pool, {
        provider: 'stripe',
        invoice_id: plan.invoiceId,
        external_customer_id: plan.customer,
        external_invoice_id: externalInvoiceId,
        status: stripeInvoice.status ?? 'unknown',
        items: Object.fromEntries(
          plan.items.map((item) => [item.lineKey, (items.byLineKey.get(item.lineKey) as Stripe.InvoiceItem).id]),
        ),
      }),
    );
    if (record.external_invoice_id !== externalInvoiceId) {
      throw new ProviderError(
        'stripe',
        'provider_invoice_conflict',
        `invoice ${plan.invoiceId} has sync record ${record.external_invoice_id}, but Stripe holds it as ${externalInvoiceId}`,
      );
    }
    return record;
  }

  private async ensureCustomer(customer: string, invoiceId: string): Promise<void> {
    let found: Stripe.Customer | Stripe.DeletedCustomer;
    try {
      found = await this.request(`retrieve customer ${customer}`, () => this.stripe.customers.retrieve(customer));
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'provider_not_found') {
        throw new ProviderError(
          'stripe',
          'provider_customer_not_found',
          `Stripe customer ${customer} (the contract's provider.customer for invoice ${invoiceId}) does not exist`,
          error.details,
        );
      }
      throw error;
    }
    if (found.deleted === true) {
      throw new ProviderError(
        'stripe',
        'provider_customer_not_found',
        `Stripe customer ${customer} (the contract's provider.customer for invoice ${invoiceId}) was deleted`,
      );
    }
  }

  /**
   * The Stripe invoice of a Tally invoice, found by metadata among the customer's invoices created
   * since shortly before it was issued. A list, not the search API: search is eventually
   * consistent and could miss an invoice whose creation response was just lost.
   */
  private async findInvoice(plan: StripeInvoicePlan): Promise<Stripe.Invoice | undefined> {
    const found: Stripe.Invoice[] = [];
    await this.request(`list the invoices of ${plan.customer}`, () =>
      this.stripe.invoices
        .list({ customer: plan.customer, created: { gte: plan.createdAfterUnixSeconds }, limit: PAGE_SIZE })
        .autoPagingEach((stripeInvoice) => {
          if (stripeInvoice.metadata?.tally_invoice_id === plan.invoiceId) found.push(stripeInvoice);
        }),
    );
    if (found.length > 1) {
      throw mismatch(
        plan,
        `Stripe holds ${found.length} invoices for it (${found.map((each) => each.id).join(', ')}); void all but one`,
      );
    }
    return found[0];
  }

  private async ensureItems(plan: StripeInvoicePlan, externalInvoiceId: string): Promise<OurItems> {
    let items = await this.listOurItems(plan, externalInvoiceId);
    // One at a time: items on one invoice contend for its lock, and 250 requests in a burst would
    // meet the rate limit; the count is bounded, so sequential is fast enough.
    for (const item of plan.items) {
      if (items.byLineKey.has(item.lineKey)) continue;
      const created = await this.createWithKeyWalk(
        item.keyBase,
        `create the item of line ${item.lineKey} on ${plan.invoiceId}`,
        (key) =>
          this.stripe.invoiceItems.create({ ...item.params, invoice: externalInvoiceId }, { idempotencyKey: key }),
        async () => {
          items = await this.listOurItems(plan, externalInvoiceId);
          return items.byLineKey.get(item.lineKey);
        },
      );
      items.byLineKey.set(item.lineKey, created);
    }
    // Read back what the invoice holds now: the check runs on Stripe's state, not on our requests.
    return this.listOurItems(plan, externalInvoiceId);
  }

  /** The invoice items on a Stripe invoice, split into ours (by line_key) and anything else. */
  private async listOurItems(plan: StripeInvoicePlan, externalInvoiceId: string): Promise<OurItems> {
    const result: OurItems = { byLineKey: new Map(), duplicates: [], foreign: [] };
    await this.request(`list the items of ${externalInvoiceId}`, () =>
      this.stripe.invoiceItems.list({ invoice: externalInvoiceId, limit: PAGE_SIZE }).autoPagingEach((item) => {
        const lineKey = item.metadata?.tally_line_key;
        if (item.metadata?.tally_invoice_id !== plan.invoiceId || lineKey === undefined) result.foreign.push(item.id);
        else if (result.byLineKey.has(lineKey)) result.duplicates.push(item.id);
        else result.byLineKey.set(lineKey, item);
      }),
    );
    return result;
  }

  private async finalize(plan: StripeInvoicePlan, externalInvoiceId: string): Promise<Stripe.Invoice> {
    const params: Stripe.InvoiceFinalizeInvoiceParams = { auto_advance: this.options.autoAdvanceOnFinalize ?? true };
    return this.createWithKeyWalk(
      plan.finalizeKeyBase,
      `finalize ${externalInvoiceId} (${plan.invoiceId})`,
      (key) => this.stripe.invoices.finalizeInvoice(externalInvoiceId, params, { idempotencyKey: key }),
      async () => {
        const current = await this.request(`retrieve ${externalInvoiceId}`, () =>
          this.stripe.invoices.retrieve(externalInvoiceId),
        );
        return current.status === 'draft' ? undefined : current;
      },
    );
  }

  /**
   * Sends a write under the step's deterministic idempotency key. Stripe stores a server error
   * (5xx) under the key once the endpoint began executing, and replays it for that key for a day;
   * so when the key replays a stored server error, this looks the object up (it may exist after
   * all) and, only if it is absent, walks on to the step's next key generation. Every attempt walks
   * the same keys in the same order, so concurrent or repeated attempts still share keys.
   */
  private async createWithKeyWalk<T>(
    keyBase: string,
    what: string,
    send: (key: string) => Promise<T>,
    lookup: () => Promise<T | undefined>,
  ): Promise<T> {
    for (let generation = 1; generation <= this.maxKeyGenerations; generation += 1) {
      try {
        return await this.request(what, () => send(idempotencyKey(keyBase, generation)));
      } catch (error) {
        if (!(error instanceof ProviderError && error.code === 'provider_unavailable' && error.replayedServerError))
          throw error;
        const found = await lookup();
        if (found !== undefined) return found;
      }
    }
    throw new ProviderError(
      'stripe',
      'provider_idempotency_keys_exhausted',
      `${what}: each of ${this.maxKeyGenerations} idempotency keys from ${keyBase} replays a stored Stripe server error; ` +
        'Stripe keeps keys for 24 hours: retry after that or investigate',
    );
  }

  /** One API call: 429 gets a bounded backoff here; every failure leaves as a classified ProviderError. */
  private async request<T>(what: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await send();
      } catch (error) {
        const providerError = stripeErrorToProviderError(what, error);
        if (providerError.code !== 'provider_rate_limited' || attempt >= this.rateLimitRetry.attempts)
          throw providerError;
        await this.sleep(
          Math.min(this.rateLimitRetry.initialDelayMs * 2 ** (attempt - 1), this.rateLimitRetry.maxDelayMs),
        );
      }
    }
  }

  private async storage<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw storageError('stripe', error);
    }
  }
}

interface OurItems {
  readonly byLineKey: Map<string, Stripe.InvoiceItem>;
  /** Items of ours beyond the first per line_key. */
  readonly duplicates: string[];
  /** Items on the invoice that are not this invoice's lines. */
  readonly foreign: string[];
}

/** Every line exactly once with its amount and currency, and nothing else: or a permanent mismatch. */
function verifyItems(plan: StripeInvoicePlan, externalInvoiceId: string, items: OurItems): void {
  const problems: string[] = [];
  if (items.foreign.length > 0) problems.push(`items that are not its lines: ${items.foreign.join(', ')}`);
  if (items.duplicates.length > 0) problems.push(`duplicate items: ${items.duplicates.join(', ')}`);
  const planned = new Map<string, StripeItemPlan>(plan.items.map((item) => [item.lineKey, item]));
  for (const item of plan.items) {
    const held = items.byLineKey.get(item.lineKey);
    if (held === undefined) problems.push(`line ${item.lineKey} is missing`);
    else if (held.amount !== item.amount || held.currency !== plan.currency) {
      problems.push(`line ${item.lineKey} is ${held.amount} ${held.currency}, not ${item.amount} ${plan.currency}`);
    }
  }
  for (const lineKey of items.byLineKey.keys())
    if (!planned.has(lineKey)) problems.push(`line ${lineKey} is not on the issued invoice`);
  if (problems.length > 0) throw mismatch(plan, `Stripe invoice ${externalInvoiceId}: ${problems.join('; ')}`);
}

function mismatch(plan: StripeInvoicePlan, detail: string): ProviderError {
  return new ProviderError(
    'stripe',
    'provider_invoice_mismatch',
    `invoice ${plan.invoiceId} does not match what Stripe holds for it (left unfinalized where still a draft): ${detail}`,
  );
}

function requireId(stripeInvoice: Stripe.Invoice): string {
  if (stripeInvoice.id === undefined) throw new Error('Stripe returned an invoice without an id');
  return stripeInvoice.id;
}

/**
 * Classifies a Stripe SDK failure. A connection error (timeout, reset, lost response) has no
 * status: retryable. 400 `idempotency_error` is the same key with other parameters: permanent, and
 * named for what it means here. The rest goes by status (see `providerErrorCodeForStatus`).
 */
function stripeErrorToProviderError(what: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (!(error instanceof Stripe.errors.StripeError)) {
    // Not from the API: a bug or an unexpected runtime failure; keep it visible but retryable
    // only if it is a plain network failure.
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code)) {
      return new ProviderError('stripe', 'provider_unavailable', `${what}: ${code}`, { cause: error });
    }
    throw error;
  }
  const httpStatus = typeof error.statusCode === 'number' ? error.statusCode : undefined;
  const requestId = typeof error.requestId === 'string' ? error.requestId : undefined;
  const providerCode = typeof error.code === 'string' ? error.code : error.rawType;
  const details = { httpStatus, providerCode, requestId, cause: error };
  const suffix = `${httpStatus === undefined ? 'no response' : `HTTP ${httpStatus}`}${providerCode === undefined ? '' : ` ${providerCode}`}${requestId === undefined ? '' : `, request ${requestId}`}`;
  if (error.rawType === 'idempotency_error' && httpStatus === 400) {
    return new ProviderError(
      'stripe',
      'provider_idempotency_conflict',
      `${what}: Stripe refused a reused idempotency key with different parameters: the invoice's content differs from a previous sync attempt ` +
        `(an issued invoice must never change): ${error.message} (${suffix})`,
      details,
    );
  }
  const code = providerErrorCodeForStatus(httpStatus);
  const headers = (error.headers ?? {}) as Record<string, unknown>;
  const replayed = headers['idempotent-replayed'] === 'true';
  return new ProviderError(
    'stripe',
    code,
    `${what}: ${error.message || 'request failed'} (${suffix}${replayed ? ', replayed' : ''})`,
    { ...details, replayedServerError: replayed && httpStatus !== undefined && httpStatus >= 500 },
  );
}
