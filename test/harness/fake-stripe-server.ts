import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stateful stand-in for the few Stripe API endpoints Tally's provider uses, for tests (the real
 * API cannot be reached from here). It keeps Stripe's semantics where they matter for exactly-once
 * effects:
 *
 * - form-encoded bodies and bracketed query strings as the SDK sends them (`metadata[k]=v`);
 * - `Authorization: Bearer <key>` (401 otherwise); error bodies `{ error: { type, code, message, param } }`;
 * - `Idempotency-Key` on POST: the first response is stored once the endpoint began executing
 *   (2xx, a business 4xx, and 5xx, including an injected stored 500) and replayed for the same key
 *   with `Idempotent-Replayed: true`; the same key with other parameters or another endpoint is
 *   400 `idempotency_error`; parameter-validation failures are not stored (Stripe validates before
 *   executing);
 * - `pending_invoice_items_behavior` (`include` attaches the customer's pending items in the
 *   invoice's currency; `exclude`, the default), `invoice` on item creation (draft invoices only),
 *   finalize (`open`, or `paid` when nothing is due; a `number`);
 * - lists newest first with `limit`/`starting_after`/`has_more`; `created` range filters.
 *
 * Fault injection (`inject`) scripts failures per test: an error status at the edge (not stored:
 * 429, 409, 502-504) or inside the endpoint (stored and replayed: 500), a timeout (the
 * request is held until the client gives up, committed first or never), and a lost response (the
 * request commits, then the socket is destroyed without an answer). Every request is logged.
 *
 * `validateWith` forwards each request, byte for byte, to a stripe-mock server first; what
 * stripe-mock rejects is answered with its rejection and listed in `shapeRejections`.
 */

export type FakeStripeFault =
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly type?: string;
      readonly code?: string;
      readonly message?: string;
      /**
       * Stored under the idempotency key and replayed (a failure inside the endpoint). Default: a 5xx
       * other than 502/503/504, which come from the edge before the endpoint runs.
       */
      readonly stored?: boolean;
      readonly headers?: Readonly<Record<string, string>>;
    }
  /** The request commits, then the connection is destroyed without a response. */
  | { readonly kind: 'lost_response' }
  /** The request is held until the client times out; `commit` (default true) processes it first. */
  | { readonly kind: 'timeout'; readonly commit?: boolean };

export interface FakeStripeFaultRule {
  readonly method?: 'GET' | 'POST';
  /** Exact path (`/v1/invoiceitems`) or a pattern (`/^\/v1\/invoices\/[^/]+\/finalize$/`). */
  readonly path?: string | RegExp;
  /** How many matching requests this fault hits (default 1). */
  readonly times?: number;
  readonly fault: FakeStripeFault;
}

export interface FakeStripeRequestRecord {
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, unknown>;
  readonly params: Record<string, unknown>;
  readonly idempotencyKey: string | undefined;
  /** The HTTP status answered, or what happened instead. */
  outcome: number | 'lost_response' | 'timeout';
  replayed: boolean;
  /** The endpoint executed and succeeded (the answer may still have been lost or held). */
  committed: boolean;
  readonly fault: FakeStripeFault['kind'] | undefined;
}

export interface FakeStripeShapeRejection {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly body: string;
}

interface StripeList<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

export interface FakeCustomer {
  id: string;
  object: 'customer';
  created: number;
  email: string | null;
  name: string | null;
  currency: string | null;
  metadata: Record<string, string>;
  livemode: false;
  deleted?: true;
}

export interface FakeInvoiceItem {
  id: string;
  object: 'invoiceitem';
  amount: number;
  currency: string;
  customer: string;
  date: number;
  description: string | null;
  discountable: boolean;
  invoice: string | null;
  livemode: false;
  metadata: Record<string, string>;
  period: { start: number; end: number };
  proration: false;
  quantity: number;
  parent: null;
  pricing: null;
  tax_rates: [];
  test_clock: null;
}

interface FakeInvoiceLine {
  id: string;
  object: 'line_item';
  amount: number;
  currency: string;
  description: string | null;
  invoice: string;
  livemode: false;
  metadata: Record<string, string>;
  period: { start: number; end: number };
  parent: {
    type: 'invoice_item_details';
    invoice_item_details: { invoice_item: string; proration: false; subscription: null };
  };
  quantity: number;
}

export interface FakeInvoice {
  id: string;
  object: 'invoice';
  customer: string;
  currency: string;
  status: 'draft' | 'open' | 'paid';
  number: string | null;
  auto_advance: boolean;
  collection_method: string;
  created: number;
  description: string | null;
  metadata: Record<string, string>;
  subtotal: number;
  total: number;
  amount_due: number;
  amount_paid: number;
  amount_remaining: number;
  livemode: false;
  lines: StripeList<FakeInvoiceLine>;
  status_transitions: {
    finalized_at: number | null;
    paid_at: number | null;
    voided_at: null;
    marked_uncollectible_at: null;
  };
  period_start: number;
  period_end: number;
}

interface HandlerResult {
  status: number;
  body: unknown;
  stage: 'validation' | 'execution';
}
interface StoredResponse {
  fingerprint: string;
  status: number;
  body: string;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code?: string,
    readonly param?: string,
    readonly stage: 'validation' | 'execution' = 'validation',
  ) {
    super(message);
  }
}

export interface FakeStripeOptions {
  readonly apiKey?: string;
  /** A stripe-mock (or any Stripe-shaped) server that must accept every request first. */
  readonly validateWith?: { readonly host: string; readonly port: number };
}

export class FakeStripeServer {
  readonly apiKey: string;
  readonly requests: FakeStripeRequestRecord[] = [];
  readonly shapeRejections: FakeStripeShapeRejection[] = [];
  /** Requests stripe-mock accepted, as `METHOD path`. */
  readonly validatedRequests: string[] = [];
  private readonly customers = new Map<string, FakeCustomer>();
  private readonly items = new Map<string, FakeInvoiceItem>();
  private readonly invoiceStore = new Map<string, FakeInvoice>();
  private readonly idempotency = new Map<string, StoredResponse>();
  private readonly faults: Array<{ rule: FakeStripeFaultRule; remaining: number }> = [];
  private readonly creationOrder = new Map<string, number>();
  private sequence = 0;
  private invoiceNumber = 0;
  private clockSeconds: number | undefined;

  private constructor(
    private readonly server: http.Server,
    options: FakeStripeOptions,
  ) {
    this.apiKey = options.apiKey ?? 'sk_test_tallyfake';
    this.validateWith = options.validateWith;
  }

  private readonly validateWith: FakeStripeOptions['validateWith'];

  /** Starts a fake on an ephemeral port of 127.0.0.1. */
  static async start(options: FakeStripeOptions = {}): Promise<FakeStripeServer> {
    const server = http.createServer();
    const fake = new FakeStripeServer(server, options);
    server.on('request', (req, res) => {
      fake.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { type: 'api_error', message: `fake stripe crashed: ${String(error)}` } }));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** What `createStripeClient` needs to talk to this fake. */
  clientOptions(): { apiKey: string; host: string; port: number; protocol: 'http' } {
    return { apiKey: this.apiKey, host: '127.0.0.1', port: this.port, protocol: 'http' };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Fixes the fake's clock (unix seconds) for `created`, `date` and `finalized_at`; default: real time. */
  setClock(unixSeconds: number | undefined): void {
    this.clockSeconds = unixSeconds;
  }

  /** A customer as if created in the dashboard (ids are the caller's, e.g. `cus_acme`). */
  addCustomer(customer: {
    id: string;
    email?: string;
    name?: string;
    currency?: string;
    deleted?: boolean;
  }): FakeCustomer {
    const created: FakeCustomer = {
      id: customer.id,
      object: 'customer',
      created: this.now(),
      email: customer.email ?? null,
      name: customer.name ?? null,
      currency: customer.currency ?? null,
      metadata: {},
      livemode: false,
      ...(customer.deleted === true ? { deleted: true as const } : {}),
    };
    this.customers.set(customer.id, created);
    return clone(created);
  }

  /** Adds a pending invoice item directly, as another integration or a person in the dashboard would. */
  addPendingItem(item: {
    customer: string;
    amount: number;
    currency: string;
    description?: string;
    metadata?: Record<string, string>;
  }): FakeInvoiceItem {
    const created = this.newItem({
      ...item,
      description: item.description ?? null,
      metadata: item.metadata ?? {},
      invoice: null,
      period: { start: this.now(), end: this.now() },
    });
    return clone(created);
  }

  /** Scripts a fault; rules are tried in the order added, each for its `times` matching requests. */
  inject(...rules: FakeStripeFaultRule[]): void {
    for (const rule of rules) this.faults.push({ rule, remaining: rule.times ?? 1 });
  }

  /** Forgets every stored idempotency key, as Stripe does after 24 hours. */
  forgetIdempotencyKeys(): void {
    this.idempotency.clear();
  }

  /** Faults injected but not yet hit (a test that expects all of them used asserts 0). */
  pendingFaults(): number {
    return this.faults.reduce((sum, each) => sum + each.remaining, 0);
  }

  invoices(filter: { customer?: string } = {}): FakeInvoice[] {
    return [...this.invoiceStore.values()]
      .filter((each) => filter.customer === undefined || each.customer === filter.customer)
      .map(clone);
  }

  invoiceItems(filter: { customer?: string; invoice?: string | null } = {}): FakeInvoiceItem[] {
    return [...this.items.values()]
      .filter((each) => filter.customer === undefined || each.customer === filter.customer)
      .filter((each) => filter.invoice === undefined || each.invoice === filter.invoice)
      .map(clone);
  }

  /** POSTs to `pathOf` that executed and succeeded (whether or not the client got the answer); replays excluded. */
  creations(pathOf: string): FakeStripeRequestRecord[] {
    return this.requests.filter((each) => each.method === 'POST' && each.path === pathOf && each.committed);
  }

  // ---------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const idempotencyKey = headerValue(req.headers['idempotency-key']);
    const params = method === 'POST' ? parseForm(body) : {};
    const query = parseForm(url.search.slice(1));
    const fault = this.takeFault(method, path);
    const record: FakeStripeRequestRecord = {
      seq: ++this.sequence,
      method,
      path,
      query,
      params,
      idempotencyKey,
      outcome: 0,
      replayed: false,
      committed: false,
      fault: fault?.kind,
    };
    this.requests.push(record);

    if (this.validateWith !== undefined) {
      const verdict = await forward(this.validateWith, req, body);
      if (verdict.status >= 400) {
        this.shapeRejections.push({ method, path: req.url ?? path, status: verdict.status, body: verdict.body });
        record.outcome = verdict.status;
        res.writeHead(verdict.status, { 'content-type': 'application/json', 'request-id': requestId() });
        res.end(verdict.body);
        return;
      }
      this.validatedRequests.push(`${method} ${path}`);
    }

    if (headerValue(req.headers.authorization) !== `Bearer ${this.apiKey}`) {
      this.respond(res, record, 401, errorBody('invalid_request_error', 'Invalid API Key provided.'), {});
      return;
    }
    if (fault?.kind === 'error' && !(fault.stored ?? storedByDefault(fault.status))) {
      this.respond(
        res,
        record,
        fault.status,
        errorBody(
          fault.type ?? defaultErrorType(fault.status),
          fault.message ?? `injected ${fault.status}`,
          fault.code,
        ),
        fault.headers ?? {},
      );
      return;
    }
    if (fault?.kind === 'timeout' && fault.commit === false) {
      holdUntilClientLeaves(req, res, () => {
        record.outcome = 'timeout';
      });
      return;
    }

    // The endpoint: replay, or execute (and store) under the idempotency key.
    let status: number;
    let responseBody: string;
    const replayHeaders: Record<string, string> = {};
    const stored = method === 'POST' && idempotencyKey !== undefined ? this.idempotency.get(idempotencyKey) : undefined;
    const fingerprint = `${method} ${path} ${canonicalJson(params)}`;
    if (stored !== undefined && stored.fingerprint !== fingerprint) {
      status = 400;
      responseBody = JSON.stringify(
        errorBody(
          'idempotency_error',
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
        ),
      );
    } else if (stored !== undefined) {
      status = stored.status;
      responseBody = stored.body;
      replayHeaders['idempotent-replayed'] = 'true';
      record.replayed = true;
    } else {
      let result: HandlerResult;
      if (fault?.kind === 'error') {
        result = {
          status: fault.status,
          body: errorBody(
            fault.type ?? defaultErrorType(fault.status),
            fault.message ?? `injected ${fault.status}`,
            fault.code,
          ),
          stage: 'execution',
        };
      } else {
        result = this.route(method, path, params, query);
      }
      status = result.status;
      responseBody = JSON.stringify(result.body);
      record.committed = fault?.kind !== 'error' && status < 300;
      if (method === 'POST' && idempotencyKey !== undefined && result.stage === 'execution') {
        this.idempotency.set(idempotencyKey, { fingerprint, status, body: responseBody });
      }
    }

    if (fault?.kind === 'lost_response') {
      record.outcome = 'lost_response';
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'timeout') {
      holdUntilClientLeaves(req, res, () => {
        record.outcome = 'timeout';
      });
      return;
    }
    const headers = {
      ...replayHeaders,
      ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
      ...(fault?.kind === 'error' ? (fault.headers ?? {}) : {}),
    };
    record.outcome = status;
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId(), ...headers });
    res.end(responseBody);
  }

  private respond(
    res: http.ServerResponse,
    record: FakeStripeRequestRecord,
    status: number,
    body: unknown,
    headers: Record<string, string>,
  ): void {
    record.outcome = status;
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId(), ...headers });
    res.end(JSON.stringify(body));
  }

  private takeFault(method: string, path: string): FakeStripeFault | undefined {
    for (const entry of this.faults) {
      if (entry.remaining <= 0) continue;
      const { rule } = entry;
      if (rule.method !== undefined && rule.method !== method) continue;
      if (rule.path !== undefined && !(typeof rule.path === 'string' ? rule.path === path : rule.path.test(path)))
        continue;
      entry.remaining -= 1;
      return rule.fault;
    }
    return undefined;
  }

  private route(
    method: string,
    path: string,
    params: Record<string, unknown>,
    query: Record<string, unknown>,
  ): HandlerResult {
    try {
      const segments = path.split('/').filter((part) => part.length > 0);
      if (segments[0] !== 'v1') throw unrecognized(method, path);
      const [, resource, id, action] = segments;
      if (resource === 'customers' && method === 'POST' && id === undefined) return ok(this.createCustomer(params));
      if (resource === 'customers' && method === 'GET' && id !== undefined && action === undefined)
        return ok(this.retrieveCustomer(id));
      if (resource === 'invoiceitems' && method === 'POST' && id === undefined)
        return ok(this.createInvoiceItem(params));
      if (resource === 'invoiceitems' && method === 'GET' && id === undefined) return ok(this.listInvoiceItems(query));
      if (resource === 'invoiceitems' && method === 'GET' && id !== undefined && action === undefined)
        return ok(clone(this.requireItem(id)));
      if (resource === 'invoices' && method === 'POST' && id === undefined) return ok(this.createInvoice(params));
      if (resource === 'invoices' && method === 'GET' && id === 'search') return ok(this.searchInvoices(query));
      if (resource === 'invoices' && method === 'GET' && id === undefined) return ok(this.listInvoices(query));
      if (resource === 'invoices' && method === 'GET' && id !== undefined && action === undefined)
        return ok(clone(this.requireInvoice(id)));
      if (resource === 'invoices' && method === 'POST' && id !== undefined && action === 'finalize')
        return ok(this.finalizeInvoice(id, params));
      throw unrecognized(method, path);
    } catch (error) {
      if (error instanceof ApiError) {
        return {
          status: error.status,
          body: errorBody(error.type, error.message, error.code, error.param),
          stage: error.stage,
        };
      }
      throw error;
    }
  }

  private createCustomer(params: Record<string, unknown>): FakeCustomer {
    allowOnly(params, ['email', 'name', 'metadata', 'description', 'expand']);
    const customer: FakeCustomer = {
      id: newId('cus'),
      object: 'customer',
      created: this.now(),
      email: optionalString(params, 'email') ?? null,
      name: optionalString(params, 'name') ?? null,
      currency: null,
      metadata: metadataParam(params),
      livemode: false,
    };
    this.customers.set(customer.id, customer);
    return clone(customer);
  }

  private retrieveCustomer(id: string): FakeCustomer | { id: string; object: 'customer'; deleted: true } {
    const customer = this.customers.get(id);
    if (customer === undefined)
      throw new ApiError(
        404,
        'invalid_request_error',
        `No such customer: '${id}'`,
        'resource_missing',
        'id',
        'execution',
      );
    return customer.deleted === true ? { id, object: 'customer', deleted: true } : clone(customer);
  }

  private createInvoiceItem(params: Record<string, unknown>): FakeInvoiceItem {
    allowOnly(params, [
      'customer',
      'amount',
      'currency',
      'description',
      'period',
      'metadata',
      'invoice',
      'discountable',
      'expand',
    ]);
    const customerId = requiredString(params, 'customer');
    const amount = integerParam(params, 'amount', true) as number;
    const currency = requiredString(params, 'currency').toLowerCase();
    if (!/^[a-z]{3}$/.test(currency))
      throw new ApiError(
        400,
        'invalid_request_error',
        `Invalid currency: ${currency}`,
        'parameter_invalid_string',
        'currency',
      );
    const period = periodParam(params);
    const metadata = metadataParam(params);
    const invoiceId = optionalString(params, 'invoice');
    const customer = this.customers.get(customerId);
    if (customer === undefined || customer.deleted === true)
      throw new ApiError(
        400,
        'invalid_request_error',
        `No such customer: '${customerId}'`,
        'resource_missing',
        'customer',
        'execution',
      );
    let invoice: FakeInvoice | undefined;
    if (invoiceId !== undefined) {
      invoice = this.invoiceStore.get(invoiceId);
      if (invoice === undefined)
        throw new ApiError(
          400,
          'invalid_request_error',
          `No such invoice: '${invoiceId}'`,
          'resource_missing',
          'invoice',
          'execution',
        );
      if (invoice.customer !== customerId)
        throw new ApiError(
          400,
          'invalid_request_error',
          `Invoice ${invoiceId} belongs to another customer`,
          undefined,
          'invoice',
          'execution',
        );
      if (invoice.status !== 'draft')
        throw new ApiError(
          400,
          'invalid_request_error',
          `You can only add invoice items to draft invoices; ${invoiceId} is ${invoice.status}`,
          'invoice_not_editable',
          'invoice',
          'execution',
        );
      if (invoice.currency !== currency)
        throw new ApiError(
          400,
          'invalid_request_error',
          `The currency of the invoice item (${currency}) must match the invoice's (${invoice.currency})`,
          undefined,
          'currency',
          'execution',
        );
    }
    const item = this.newItem({
      customer: customerId,
      amount,
      currency,
      description: optionalString(params, 'description') ?? null,
      metadata,
      invoice: invoiceId ?? null,
      period: period ?? { start: this.now(), end: this.now() },
    });
    if (invoice !== undefined) this.recomputeInvoice(invoice);
    return clone(item);
  }

  private newItem(fields: {
    customer: string;
    amount: number;
    currency: string;
    description: string | null;
    metadata: Record<string, string>;
    invoice: string | null;
    period: { start: number; end: number };
  }): FakeInvoiceItem {
    const item: FakeInvoiceItem = {
      id: newId('ii'),
      object: 'invoiceitem',
      amount: fields.amount,
      currency: fields.currency,
      customer: fields.customer,
      date: this.now(),
      description: fields.description,
      discountable: true,
      invoice: fields.invoice,
      livemode: false,
      metadata: fields.metadata,
      period: fields.period,
      proration: false,
      quantity: 1,
      parent: null,
      pricing: null,
      tax_rates: [],
      test_clock: null,
    };
    this.items.set(item.id, item);
    this.creationOrder.set(item.id, this.creationOrder.size);
    return item;
  }

  private listInvoiceItems(query: Record<string, unknown>): StripeList<FakeInvoiceItem> {
    allowOnly(query, [
      'customer',
      'invoice',
      'pending',
      'limit',
      'starting_after',
      'ending_before',
      'created',
      'expand',
    ]);
    const customer = optionalString(query, 'customer');
    const invoice = optionalString(query, 'invoice');
    const pending = optionalString(query, 'pending');
    const created = rangeParam(query, 'created');
    const matches = [...this.items.values()].filter(
      (item) =>
        (customer === undefined || item.customer === customer) &&
        (invoice === undefined || item.invoice === invoice) &&
        (pending === undefined || (pending === 'true') === (item.invoice === null)) &&
        created(item.date),
    );
    return this.page(matches, query, '/v1/invoiceitems', (item) => item.date);
  }

  private requireItem(id: string): FakeInvoiceItem {
    const item = this.items.get(id);
    if (item === undefined)
      throw new ApiError(
        404,
        'invalid_request_error',
        `No such invoiceitem: '${id}'`,
        'resource_missing',
        'id',
        'execution',
      );
    return item;
  }

  private createInvoice(params: Record<string, unknown>): FakeInvoice {
    allowOnly(params, [
      'customer',
      'currency',
      'auto_advance',
      'collection_method',
      'days_until_due',
      'description',
      'metadata',
      'pending_invoice_items_behavior',
      'expand',
    ]);
    const customerId = requiredString(params, 'customer');
    const behavior = optionalString(params, 'pending_invoice_items_behavior') ?? 'exclude';
    if (behavior !== 'include' && behavior !== 'exclude') {
      throw new ApiError(
        400,
        'invalid_request_error',
        `Invalid pending_invoice_items_behavior: must be one of include or exclude`,
        'parameter_invalid_string',
        'pending_invoice_items_behavior',
      );
    }
    const collectionMethod = optionalString(params, 'collection_method') ?? 'charge_automatically';
    const autoAdvance = booleanParam(params, 'auto_advance');
    const metadata = metadataParam(params);
    const customer = this.customers.get(customerId);
    if (customer === undefined || customer.deleted === true)
      throw new ApiError(
        400,
        'invalid_request_error',
        `No such customer: '${customerId}'`,
        'resource_missing',
        'customer',
        'execution',
      );
    const currency = (optionalString(params, 'currency') ?? customer.currency ?? 'usd').toLowerCase();
    const now = this.now();
    const invoice: FakeInvoice = {
      id: newId('in'),
      object: 'invoice',
      customer: customerId,
      currency,
      status: 'draft',
      number: null,
      auto_advance: autoAdvance ?? true,
      collection_method: collectionMethod,
      created: now,
      description: optionalString(params, 'description') ?? null,
      metadata,
      subtotal: 0,
      total: 0,
      amount_due: 0,
      amount_paid: 0,
      amount_remaining: 0,
      livemode: false,
      lines: { object: 'list', data: [], has_more: false, url: '' },
      status_transitions: { finalized_at: null, paid_at: null, voided_at: null, marked_uncollectible_at: null },
      period_start: now,
      period_end: now,
    };
    invoice.lines.url = `/v1/invoices/${invoice.id}/lines`;
    this.invoiceStore.set(invoice.id, invoice);
    this.creationOrder.set(invoice.id, this.creationOrder.size);
    if (behavior === 'include') {
      for (const item of this.items.values()) {
        if (item.customer === customerId && item.invoice === null && item.currency === currency)
          item.invoice = invoice.id;
      }
    }
    this.recomputeInvoice(invoice);
    return clone(invoice);
  }

  private listInvoices(query: Record<string, unknown>): StripeList<FakeInvoice> {
    allowOnly(query, [
      'customer',
      'status',
      'limit',
      'starting_after',
      'ending_before',
      'created',
      'collection_method',
      'expand',
    ]);
    const customer = optionalString(query, 'customer');
    const status = optionalString(query, 'status');
    const created = rangeParam(query, 'created');
    const matches = [...this.invoiceStore.values()].filter(
      (invoice) =>
        (customer === undefined || invoice.customer === customer) &&
        (status === undefined || invoice.status === status) &&
        created(invoice.created),
    );
    return this.page(matches, query, '/v1/invoices', (invoice) => invoice.created);
  }

  /** The search API, for the query forms `metadata['k']:'v'` and `customer:'cus_…'` joined by AND. */
  private searchInvoices(query: Record<string, unknown>): {
    object: 'search_result';
    data: FakeInvoice[];
    has_more: false;
    next_page: null;
    url: string;
  } {
    allowOnly(query, ['query', 'limit', 'page', 'expand']);
    const text = requiredString(query, 'query');
    const clauses = text.split(/\s+AND\s+/i).map((clause) => {
      const match = /^(?:metadata\['([^']+)'\]|(customer|status|currency)):'([^']*)'$/.exec(clause.trim());
      if (match === null)
        throw new ApiError(
          400,
          'invalid_request_error',
          `Unsupported search query clause: ${clause}`,
          'parameter_invalid_string',
          'query',
        );
      return { metadataKey: match[1], field: match[2], value: match[3] as string };
    });
    const data = [...this.invoiceStore.values()].filter((invoice) =>
      clauses.every((clause) =>
        clause.metadataKey !== undefined
          ? invoice.metadata[clause.metadataKey] === clause.value
          : String(invoice[clause.field as 'customer' | 'status' | 'currency']) === clause.value,
      ),
    );
    return {
      object: 'search_result',
      data: data.map(clone),
      has_more: false,
      next_page: null,
      url: '/v1/invoices/search',
    };
  }

  private requireInvoice(id: string): FakeInvoice {
    const invoice = this.invoiceStore.get(id);
    if (invoice === undefined)
      throw new ApiError(
        404,
        'invalid_request_error',
        `No such invoice: '${id}'`,
        'resource_missing',
        'id',
        'execution',
      );
    return invoice;
  }

  private finalizeInvoice(id: string, params: Record<string, unknown>): FakeInvoice {
    allowOnly(params, ['auto_advance', 'expand']);
    const autoAdvance = booleanParam(params, 'auto_advance');
    const invoice = this.requireInvoice(id);
    if (invoice.status !== 'draft') {
      throw new ApiError(
        400,
        'invalid_request_error',
        "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
        'invoice_not_editable',
        undefined,
        'execution',
      );
    }
    this.recomputeInvoice(invoice);
    this.invoiceNumber += 1;
    invoice.number = `FAKE0001-${String(this.invoiceNumber).padStart(4, '0')}`;
    invoice.status_transitions.finalized_at = this.now();
    if (autoAdvance !== undefined) invoice.auto_advance = autoAdvance;
    if (invoice.amount_due === 0) {
      invoice.status = 'paid';
      invoice.status_transitions.paid_at = this.now();
    } else {
      invoice.status = 'open';
    }
    return clone(invoice);
  }

  private recomputeInvoice(invoice: FakeInvoice): void {
    const items = [...this.items.values()]
      .filter((item) => item.invoice === invoice.id)
      .sort((a, b) => (this.creationOrder.get(a.id) ?? 0) - (this.creationOrder.get(b.id) ?? 0));
    invoice.lines.data = items.map((item) => ({
      id: `il_${item.id.slice(3)}`,
      object: 'line_item',
      amount: item.amount,
      currency: item.currency,
      description: item.description,
      invoice: invoice.id,
      livemode: false,
      metadata: item.metadata,
      period: item.period,
      parent: {
        type: 'invoice_item_details',
        invoice_item_details: { invoice_item: item.id, proration: false, subscription: null },
      },
      quantity: item.quantity,
    }));
    invoice.subtotal = items.reduce((sum, item) => sum + item.amount, 0);
    invoice.total = invoice.subtotal;
    // A negative total is not due: Stripe credits it to the customer's balance.
    invoice.amount_due = Math.max(invoice.total, 0);
    invoice.amount_remaining = invoice.amount_due;
    if (items.length > 0) {
      invoice.period_start = Math.min(...items.map((item) => item.period.start));
      invoice.period_end = Math.max(...items.map((item) => item.period.end));
    }
  }

  /** Stripe's list pagination: newest first, `limit` (1-100, default 10), `starting_after`. */
  private page<T extends { id: string }>(
    matches: T[],
    query: Record<string, unknown>,
    url: string,
    createdOf: (each: T) => number,
  ): StripeList<T> {
    const limit = integerParam(query, 'limit', false) ?? 10;
    if (limit < 1 || limit > 100)
      throw new ApiError(
        400,
        'invalid_request_error',
        'limit must be between 1 and 100',
        'parameter_invalid_integer',
        'limit',
      );
    const sorted = [...matches].sort(
      (a, b) =>
        createdOf(b) - createdOf(a) || (this.creationOrder.get(b.id) ?? 0) - (this.creationOrder.get(a.id) ?? 0),
    );
    const after = optionalString(query, 'starting_after');
    let start = 0;
    if (after !== undefined) {
      const index = sorted.findIndex((each) => each.id === after);
      if (index < 0)
        throw new ApiError(
          400,
          'invalid_request_error',
          `No such object: '${after}'`,
          'resource_missing',
          'starting_after',
        );
      start = index + 1;
    }
    const data = sorted.slice(start, start + limit);
    return { object: 'list', data: data.map(clone), has_more: start + limit < sorted.length, url };
  }

  private now(): number {
    return this.clockSeconds ?? Math.floor(Date.now() / 1000);
  }
}

// -- helpers -----------------------------------------------------------------------------------

function ok(body: unknown): HandlerResult {
  return { status: 200, body, stage: 'execution' };
}

function errorBody(type: string, message: string, code?: string, param?: string): { error: Record<string, string> } {
  return {
    error: { type, message, ...(code === undefined ? {} : { code }), ...(param === undefined ? {} : { param }) },
  };
}

function storedByDefault(status: number): boolean {
  return status >= 500 && ![502, 503, 504].includes(status);
}

function defaultErrorType(status: number): string {
  if (status >= 500) return 'api_error';
  if (status === 429) return 'invalid_request_error';
  return 'invalid_request_error';
}

function unrecognized(method: string, path: string): ApiError {
  return new ApiError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function newId(prefix: string): string {
  const bytes = randomBytes(24);
  let text = '';
  for (const byte of bytes) text += ID_ALPHABET[byte % ID_ALPHABET.length];
  return `${prefix}_${text}`;
}

function requestId(): string {
  return newId('req').slice(0, 18);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Holds a request without answering until the client closes the connection (its timeout fired). */
function holdUntilClientLeaves(req: http.IncomingMessage, res: http.ServerResponse, onGone: () => void): void {
  const done = (): void => {
    onGone();
    if (!res.writableEnded) res.destroy();
  };
  if (req.socket.destroyed) done();
  else req.socket.once('close', done);
}

/**
 * Decodes `a=1&metadata[k]=v&period[start]=2&expand[0]=x` into nested objects (numeric brackets
 * make arrays), the encoding the SDK uses for bodies and query strings. Values stay strings.
 */
export function parseForm(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(rawKey);
    if (match === null) throw new ApiError(400, 'invalid_request_error', `Invalid parameter name: ${rawKey}`);
    const parts = [
      match[1] as string,
      ...[...(match[2] ?? '').matchAll(/\[([^[\]]*)\]/g)].map((part) => part[1] as string),
    ];
    let node: Record<string, unknown> | unknown[] = root;
    parts.forEach((part, index) => {
      const last = index === parts.length - 1;
      const key: string | number = Array.isArray(node) ? (part === '' ? node.length : Number.parseInt(part, 10)) : part;
      const container = node as Record<string | number, unknown>;
      if (last) {
        container[key] = value;
      } else {
        if (container[key] === undefined) container[key] = /^\d*$/.test(parts[index + 1] as string) ? [] : {};
        node = container[key] as Record<string, unknown> | unknown[];
      }
    });
  }
  return root;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function allowOnly(params: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key))
      throw new ApiError(400, 'invalid_request_error', `Received unknown parameter: ${key}`, 'parameter_unknown', key);
  }
}

function requiredString(params: Record<string, unknown>, name: string): string {
  const value = optionalString(params, name);
  if (value === undefined || value === '')
    throw new ApiError(400, 'invalid_request_error', `Missing required param: ${name}.`, 'parameter_missing', name);
  return value;
}

function optionalString(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new ApiError(
      400,
      'invalid_request_error',
      `Invalid ${name}: must be a string`,
      'parameter_invalid_string',
      name,
    );
  return value;
}

function integerParam(params: Record<string, unknown>, name: string, required: boolean): number | undefined {
  const value = params[name];
  if (value === undefined) {
    if (required)
      throw new ApiError(400, 'invalid_request_error', `Missing required param: ${name}.`, 'parameter_missing', name);
    return undefined;
  }
  if (typeof value !== 'string' || !/^-?\d{1,16}$/.test(value)) {
    throw new ApiError(
      400,
      'invalid_request_error',
      `Invalid integer: ${String(value)}`,
      'parameter_invalid_integer',
      name,
    );
  }
  return Number.parseInt(value, 10);
}

function booleanParam(params: Record<string, unknown>, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false')
    throw new ApiError(
      400,
      'invalid_request_error',
      `Invalid boolean: ${String(value)}`,
      'parameter_invalid_string',
      name,
    );
  return value === 'true';
}

function metadataParam(params: Record<string, unknown>): Record<string, string> {
  const value = params.metadata;
  if (value === undefined || value === '') return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ApiError(
      400,
      'invalid_request_error',
      'Invalid metadata: must be a hash',
      'parameter_invalid_string',
      'metadata',
    );
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 50)
    throw new ApiError(
      400,
      'invalid_request_error',
      'Invalid metadata: at most 50 keys',
      'parameter_invalid_string',
      'metadata',
    );
  const metadata: Record<string, string> = {};
  for (const [key, each] of entries) {
    if (key.length > 40)
      throw new ApiError(
        400,
        'invalid_request_error',
        `Invalid metadata: key ${key} is longer than 40 characters`,
        'parameter_invalid_string',
        `metadata[${key}]`,
      );
    if (typeof each !== 'string' || each.length > 500)
      throw new ApiError(
        400,
        'invalid_request_error',
        `Invalid metadata[${key}]: a string of at most 500 characters`,
        'parameter_invalid_string',
        `metadata[${key}]`,
      );
    metadata[key] = each;
  }
  return metadata;
}

function periodParam(params: Record<string, unknown>): { start: number; end: number } | undefined {
  const value = params.period;
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null)
    throw new ApiError(
      400,
      'invalid_request_error',
      'Invalid period: must be a hash',
      'parameter_invalid_string',
      'period',
    );
  const period = value as Record<string, unknown>;
  allowOnly(period, ['start', 'end']);
  const start = integerParam(period, 'start', true) as number;
  const end = integerParam(period, 'end', true) as number;
  if (end < start)
    throw new ApiError(
      400,
      'invalid_request_error',
      'The period end must be after its start',
      'parameter_invalid_integer',
      'period[end]',
    );
  return { start, end };
}

/** A `created`-style filter: an exact integer or a hash of gt/gte/lt/lte. */
function rangeParam(params: Record<string, unknown>, name: string): (value: number) => boolean {
  const value = params[name];
  if (value === undefined) return () => true;
  if (typeof value === 'string') {
    const exact = integerParam(params, name, true) as number;
    return (each) => each === exact;
  }
  const range = value as Record<string, unknown>;
  allowOnly(range, ['gt', 'gte', 'lt', 'lte']);
  const bounds = Object.fromEntries(['gt', 'gte', 'lt', 'lte'].map((key) => [key, integerParam(range, key, false)]));
  return (each) =>
    (bounds.gt === undefined || each > bounds.gt) &&
    (bounds.gte === undefined || each >= bounds.gte) &&
    (bounds.lt === undefined || each < bounds.lt) &&
    (bounds.lte === undefined || each <= bounds.lte);
}

/** Sends the request as it came to another server and returns its verdict. */
function forward(
  target: { host: string; port: number },
  req: http.IncomingMessage,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: `${target.host}:${target.port}` };
    const outgoing = http.request(
      { host: target.host, port: target.port, method: req.method, path: req.url, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
