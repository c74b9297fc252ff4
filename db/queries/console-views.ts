import type pg from 'pg';
import type { ExceptionStatus } from './review-exceptions.ts';
import type { InvoiceStatus } from './invoices.ts';

/**
 * The console's reads: pages of the exception queue and the invoice list (summary columns only,
 * never the large documents), usage by day, and the ops view's figures. Plain SQL; the console
 * shapes the results. Counts are int8 and sums NUMERIC: both come back as strings.
 */
type Queryable = Pick<pg.Pool, 'query'>;

export interface ExceptionSummary {
  readonly exceptionId: string;
  readonly invoiceId: string;
  readonly customerId: string;
  readonly period: string;
  readonly kind: string;
  readonly status: ExceptionStatus;
  readonly openedAt: string;
  readonly escalatedAt: string | undefined;
  readonly decidedAt: string | undefined;
  readonly reviewer: string | undefined;
  readonly amount: string | undefined;
  readonly currency: string | undefined;
  readonly workflowId: string;
  readonly breaches: readonly { rule: string; detail: string }[];
}

interface ExceptionSummaryRow {
  exception_id: string;
  invoice_id: string;
  customer_id: string;
  period: string;
  kind: string;
  status: ExceptionStatus;
  opened_at: Date;
  escalated_at: Date | null;
  decided_at: Date | null;
  reviewer: string | null;
  amount: string | null;
  currency: string | null;
  workflow_id: string;
  breaches: { rule: string; detail: string }[];
}

const EXCEPTION_SUMMARY_COLUMNS =
  'exception_id, invoice_id, customer_id, period, kind, status, opened_at, escalated_at, decided_at, reviewer, amount::text AS amount, currency, workflow_id, breaches';

function exceptionSummary(row: ExceptionSummaryRow): ExceptionSummary {
  return {
    exceptionId: row.exception_id,
    invoiceId: row.invoice_id,
    customerId: row.customer_id,
    period: row.period,
    kind: row.kind,
    status: row.status,
    openedAt: row.opened_at.toISOString(),
    escalatedAt: row.escalated_at?.toISOString(),
    decidedAt: row.decided_at?.toISOString(),
    reviewer: row.reviewer ?? undefined,
    amount: row.amount ?? undefined,
    currency: row.currency ?? undefined,
    workflowId: row.workflow_id,
    breaches: row.breaches,
  };
}

export interface ExceptionPageFilter {
  /** `waiting` = open or escalated. */
  readonly status: 'waiting' | 'all' | ExceptionStatus;
  readonly kind?: string;
  readonly customerId?: string;
  /** priority: escalated first, then oldest, then largest; age: oldest first; amount: largest first. */
  readonly sort: 'priority' | 'age' | 'amount';
  readonly limit: number;
  readonly offset: number;
}

const EXCEPTION_ORDER = {
  priority: "(status = 'escalated') DESC, opened_at, amount DESC NULLS LAST, exception_id",
  age: 'opened_at, exception_id',
  amount: 'amount DESC NULLS LAST, opened_at, exception_id',
} as const;

/** One page of the queue, its total and the waiting count per kind. */
export async function exceptionPage(
  db: Queryable,
  filter: ExceptionPageFilter,
): Promise<{ exceptions: ExceptionSummary[]; total: number; byKind: { kind: string; waiting: number }[] }> {
  const conditions: string[] = [];
  const parameters: unknown[] = [];
  if (filter.status === 'waiting') conditions.push("status IN ('open', 'escalated')");
  else if (filter.status !== 'all') {
    parameters.push(filter.status);
    conditions.push(`status = $${parameters.length}`);
  }
  for (const [column, value] of [
    ['kind', filter.kind],
    ['customer_id', filter.customerId],
  ] as const) {
    if (value === undefined) continue;
    parameters.push(value);
    conditions.push(`${column} = $${parameters.length}`);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const total = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM review_exceptions ${where}`, parameters);
  // The page's keys first, from the narrow columns alone (an index-only scan for the waiting queue),
  // then only those rows in full: sorting and skipping never read the context documents.
  const page = await db.query<ExceptionSummaryRow>(
    `WITH page AS (
       SELECT exception_id, row_number() OVER (ORDER BY ${EXCEPTION_ORDER[filter.sort]}) AS position
         FROM review_exceptions ${where}
        ORDER BY position LIMIT $${parameters.length + 1} OFFSET $${parameters.length + 2})
     SELECT ${EXCEPTION_SUMMARY_COLUMNS} FROM page JOIN review_exceptions USING (exception_id) ORDER BY page.position`,
    [...parameters, filter.limit, filter.offset],
  );
  const kinds = await db.query<{ kind: string; n: string }>(
    "SELECT kind, count(*)::text AS n FROM review_exceptions WHERE status IN ('open', 'escalated') GROUP BY kind ORDER BY kind",
  );
  return {
    exceptions: page.rows.map(exceptionSummary),
    total: Number.parseInt(total.rows[0]?.n ?? '0', 10),
    byKind: kinds.rows.map((row) => ({ kind: row.kind, waiting: Number.parseInt(row.n, 10) })),
  };
}

/** Every exception of a customer (newest first): the earlier decisions a reviewer reads. */
export async function exceptionsOfCustomer(db: Queryable, customerId: string, limit = 50): Promise<ExceptionSummary[]> {
  const { rows } = await db.query<ExceptionSummaryRow>(
    `SELECT ${EXCEPTION_SUMMARY_COLUMNS} FROM review_exceptions WHERE customer_id = $1 ORDER BY opened_at DESC LIMIT $2`,
    [customerId, limit],
  );
  return rows.map(exceptionSummary);
}

export async function exceptionsOfInvoice(db: Queryable, invoiceId: string): Promise<ExceptionSummary[]> {
  const { rows } = await db.query<ExceptionSummaryRow>(
    `SELECT ${EXCEPTION_SUMMARY_COLUMNS} FROM review_exceptions WHERE invoice_id = $1 ORDER BY opened_at`,
    [invoiceId],
  );
  return rows.map(exceptionSummary);
}

export interface InvoiceSummary {
  readonly invoiceId: string;
  readonly customerId: string;
  readonly period: string;
  readonly status: InvoiceStatus;
  readonly currency: string;
  readonly subtotal: string;
  readonly total: string;
  readonly invoiceNumber: string | undefined;
  readonly issuedAt: string | undefined;
}

interface InvoiceSummaryRow {
  invoice_id: string;
  customer_id: string;
  period: string;
  status: InvoiceStatus;
  currency: string;
  subtotal: string;
  total: string;
  invoice_number: string | null;
  issued_at: Date | null;
}

function invoiceSummary(row: InvoiceSummaryRow): InvoiceSummary {
  return {
    invoiceId: row.invoice_id,
    customerId: row.customer_id,
    period: row.period,
    status: row.status,
    currency: row.currency,
    subtotal: row.subtotal,
    total: row.total,
    invoiceNumber: row.invoice_number ?? undefined,
    issuedAt: row.issued_at?.toISOString(),
  };
}

const INVOICE_SUMMARY_COLUMNS =
  'invoice_id, customer_id, period, status, currency, subtotal::text AS subtotal, total::text AS total, invoice_number, issued_at';

/**
 * A page of live invoices, newest period first, keyset-paged on (period, customer_id) so that the
 * thousandth page costs what the first does. `next` is the cursor of the following page.
 */
export async function invoicePage(
  db: Queryable,
  filter: {
    customerId?: string;
    period?: string;
    status?: InvoiceStatus;
    after?: { period: string; customerId: string };
    limit: number;
  },
): Promise<{ invoices: InvoiceSummary[]; next: { period: string; customerId: string } | undefined }> {
  const conditions = ["mode = 'live'"];
  const parameters: unknown[] = [];
  for (const [column, value] of [
    ['customer_id', filter.customerId],
    ['period', filter.period],
    ['status', filter.status],
  ] as const) {
    if (value === undefined) continue;
    parameters.push(value);
    conditions.push(`${column} = $${parameters.length}`);
  }
  if (filter.after !== undefined) {
    parameters.push(filter.after.period, filter.after.customerId);
    conditions.push(`(period, customer_id) < ($${parameters.length - 1}, $${parameters.length})`);
  }
  parameters.push(filter.limit + 1);
  const { rows } = await db.query<InvoiceSummaryRow>(
    `SELECT ${INVOICE_SUMMARY_COLUMNS} FROM invoices WHERE ${conditions.join(' AND ')}
      ORDER BY period DESC, customer_id DESC LIMIT $${parameters.length}`,
    parameters,
  );
  const invoices = rows.slice(0, filter.limit).map(invoiceSummary);
  const last = invoices.at(-1);
  return {
    invoices,
    next: rows.length > filter.limit && last ? { period: last.period, customerId: last.customerId } : undefined,
  };
}

/** A customer's live invoices (summaries), newest first: earlier invoices beside an exception. */
export async function invoicesOfCustomer(db: Queryable, customerId: string, limit = 24): Promise<InvoiceSummary[]> {
  const { rows } = await db.query<InvoiceSummaryRow>(
    `SELECT ${INVOICE_SUMMARY_COLUMNS} FROM invoices WHERE customer_id = $1 AND mode = 'live' ORDER BY period DESC LIMIT $2`,
    [customerId, limit],
  );
  return rows.map(invoiceSummary);
}

/** Lines of a customer's later invoices that point at `invoiceId` (late usage, backfills). */
export async function adjustmentsPointingAt(
  db: Queryable,
  invoice: { invoiceId: string; customerId: string; period: string },
): Promise<
  {
    invoiceId: string;
    invoiceNumber: string | undefined;
    period: string;
    status: InvoiceStatus;
    /** The currency of the invoice that carries the line (every money cell in the console says its currency). */
    currency: string;
    line: Record<string, unknown>;
  }[]
> {
  const { rows } = await db.query<{
    invoice_id: string;
    invoice_number: string | null;
    period: string;
    status: InvoiceStatus;
    currency: string;
    line: Record<string, unknown>;
  }>(
    `SELECT i.invoice_id, i.invoice_number, i.period, i.status, i.currency, l.line
       FROM invoices i, jsonb_array_elements(i.document -> 'lines') AS l(line)
      WHERE i.customer_id = $1 AND i.mode = 'live' AND i.period >= $2 AND i.invoice_id <> $3
        AND l.line ->> 'kind' = 'adjustment' AND l.line ->> 'corrects_invoice_id' = $3
      ORDER BY i.period, l.line ->> 'line_key'`,
    [invoice.customerId, invoice.period, invoice.invoiceId],
  );
  return rows.map((row) => ({
    invoiceId: row.invoice_id,
    invoiceNumber: row.invoice_number ?? undefined,
    period: row.period,
    status: row.status,
    currency: row.currency,
    line: row.line,
  }));
}

export interface ProviderSyncSummary {
  readonly provider: string;
  readonly externalInvoiceId: string;
  readonly status: string;
  readonly syncedAt: string;
}

export async function syncRecordsOfInvoice(db: Queryable, invoiceId: string): Promise<ProviderSyncSummary[]> {
  const { rows } = await db.query<{ provider: string; external_invoice_id: string; status: string; synced_at: Date }>(
    'SELECT provider, external_invoice_id, status, synced_at FROM provider_sync_records WHERE invoice_id = $1 ORDER BY provider',
    [invoiceId],
  );
  return rows.map((row) => ({
    provider: row.provider,
    externalInvoiceId: row.external_invoice_id,
    status: row.status,
    syncedAt: row.synced_at.toISOString(),
  }));
}

export interface DailyUsage {
  readonly sku: string;
  readonly unit: string;
  /** `YYYY-MM-DD` (UTC). */
  readonly day: string;
  readonly eventCount: number;
  readonly quantity: string;
}

/** A customer's usage per sku and UTC day in [from, to) (events billed in their period; late ones excluded). */
export async function dailyUsage(db: Queryable, customerId: string, from: string, to: string): Promise<DailyUsage[]> {
  const { rows } = await db.query<{ sku: string; unit: string; day: string; n: string; quantity: string }>(
    `SELECT sku, unit, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::text AS n, sum(quantity)::text AS quantity
       FROM usage_events WHERE customer_id = $1 AND event_time >= $2 AND event_time < $3 AND NOT late
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    [customerId, from, to],
  );
  return rows.map((row) => ({
    sku: row.sku,
    unit: row.unit,
    day: row.day,
    eventCount: Number.parseInt(row.n, 10),
    quantity: row.quantity,
  }));
}

/** Events received per minute over the last `minutes` (the BRIN index on received_at bounds the scan). */
export async function eventsPerMinute(db: Queryable, minutes: number): Promise<{ minute: string; events: number }[]> {
  const { rows } = await db.query<{ minute: Date; n: string }>(
    `SELECT date_trunc('minute', received_at) AS minute, count(*)::text AS n FROM usage_events
      WHERE received_at >= now() - make_interval(mins => $1) GROUP BY 1 ORDER BY 1`,
    [minutes],
  );
  return rows.map((row) => ({ minute: row.minute.toISOString(), events: Number.parseInt(row.n, 10) }));
}

export async function lastReceivedAt(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ at: Date | null }>(
    `SELECT max(received_at) AS at FROM usage_events WHERE received_at >= now() - interval '40 days'`,
  );
  return rows[0]?.at?.toISOString();
}

export async function rejectsPerHour(
  db: Queryable,
  hours: number,
): Promise<{ hour: string; reason: string; events: number }[]> {
  const { rows } = await db.query<{ hour: Date; reason: string; n: string }>(
    `SELECT date_trunc('hour', received_at) AS hour, reason, count(*)::text AS n FROM rejected_events
      WHERE received_at >= now() - make_interval(hours => $1) GROUP BY 1, 2 ORDER BY 1, 2`,
    [hours],
  );
  return rows.map((row) => ({ hour: row.hour.toISOString(), reason: row.reason, events: Number.parseInt(row.n, 10) }));
}

/**
 * Meters gone silent: a customer's sku that reported in the last `lookbackDays` but not in the last
 * `silentHours` (from ingest's running totals, one row per customer, period and sku: no event scan).
 */
export async function silentMeters(
  db: Queryable,
  silentHours: number,
  lookbackDays: number,
): Promise<{ customerId: string; sku: string; lastSeenAt: string }[]> {
  const { rows } = await db.query<{ customer_id: string; sku: string; last_seen: Date }>(
    `SELECT customer_id, sku, max(updated_at) AS last_seen FROM usage_running_totals
      WHERE period >= to_char((now() - make_interval(days => $2)) AT TIME ZONE 'UTC', 'YYYY-MM')
      GROUP BY 1, 2
     HAVING max(updated_at) < now() - make_interval(hours => $1) AND max(updated_at) >= now() - make_interval(days => $2)
      ORDER BY 3 DESC LIMIT 100`,
    [silentHours, lookbackDays],
  );
  return rows.map((row) => ({ customerId: row.customer_id, sku: row.sku, lastSeenAt: row.last_seen.toISOString() }));
}

/** Waiting exceptions per kind by age bucket (hours), and how many escalated. */
export async function exceptionAging(
  db: Queryable,
): Promise<{ kind: string; under1d: number; d1to3: number; d3to7: number; over7d: number; escalated: number }[]> {
  const { rows } = await db.query<Record<'kind' | 'a' | 'b' | 'c' | 'd' | 'e', string>>(
    `SELECT kind,
            count(*) FILTER (WHERE opened_at > now() - interval '1 day')::text AS a,
            count(*) FILTER (WHERE opened_at <= now() - interval '1 day' AND opened_at > now() - interval '3 days')::text AS b,
            count(*) FILTER (WHERE opened_at <= now() - interval '3 days' AND opened_at > now() - interval '7 days')::text AS c,
            count(*) FILTER (WHERE opened_at <= now() - interval '7 days')::text AS d,
            count(*) FILTER (WHERE status = 'escalated')::text AS e
       FROM review_exceptions WHERE status IN ('open', 'escalated') GROUP BY kind ORDER BY kind`,
  );
  const int = (text: string) => Number.parseInt(text, 10);
  return rows.map((row) => ({
    kind: row.kind,
    under1d: int(row.a),
    d1to3: int(row.b),
    d3to7: int(row.c),
    over7d: int(row.d),
    escalated: int(row.e),
  }));
}

/** The latest periods that have live invoices (newest first). */
export async function recentInvoicePeriods(db: Queryable, count: number): Promise<string[]> {
  // A loose index scan: one probe per distinct period instead of reading every invoice.
  const { rows } = await db.query<{ period: string }>(
    `WITH RECURSIVE periods AS (
       (SELECT period FROM invoices WHERE mode = 'live' ORDER BY period DESC LIMIT 1)
       UNION ALL
       SELECT (SELECT i.period FROM invoices i WHERE i.mode = 'live' AND i.period < p.period ORDER BY i.period DESC LIMIT 1)
         FROM periods p WHERE p.period IS NOT NULL)
     SELECT period FROM periods WHERE period IS NOT NULL LIMIT $1`,
    [count],
  );
  return rows.map((row) => row.period);
}

export interface PeriodReconciliation {
  readonly period: string;
  readonly currency: string;
  /** The customer-periods' current invoices (voided drafts apart: `voided`). */
  readonly invoices: number;
  readonly issued: number;
  readonly held: number;
  readonly drafts: number;
  /**
   * Held drafts a re-run voided (`tally period rerun`): kept for the audit trail, never billed, not
   * among `invoices`; the re-run's draft is the customer-period's invoice.
   */
  readonly voided: number;
  /** Final without a Tally invoice: all zero and not wanted (`skipped`), or billed by the legacy biller (`legacy`). */
  readonly skipped: number;
  readonly legacy: number;
  readonly synced: number;
  readonly journaled: number;
  /**
   * Events of the period stored by ingest (running totals, late ones included) of the customer-periods
   * whose current invoice (the first close's or a re-run's) is in this currency.
   */
  readonly eventsStored: string;
  /** Events in the issued invoices' snapshots. */
  readonly eventsInvoiced: string;
  /** Events in the snapshots of skipped and legacy periods: settled (nothing due, or billed by the legacy biller). */
  readonly eventsSkippedOrLegacy: string;
  /**
   * Late events of the period billed as adjustments on later invoices (or by a backfill); not those a
   * re-run's own draft took in (its snapshot has them: they are on `eventsInvoiced`).
   */
  readonly eventsLateAdjusted: string;
  /** Σ usage and adjustment lines on the period's issued invoices. */
  readonly usageBilled: string;
  /** Σ (credit − debit) to usage revenue in the journal entries of those invoices. */
  readonly usageRevenuePosted: string;
}

/** Usage → invoice → GL, per period and currency. */
export async function reconcilePeriods(db: Queryable, periods: readonly string[]): Promise<PeriodReconciliation[]> {
  if (periods.length === 0) return [];
  const { rows } = await db.query<{
    period: string;
    currency: string;
    invoices: string;
    issued: string;
    held: string;
    drafts: string;
    voided: string;
    skipped: string;
    legacy: string;
    synced: string;
    journaled: string;
    events_invoiced: string;
    events_skipped_or_legacy: string;
    usage_billed: string;
    usage_posted: string;
    events_stored: string;
    events_late: string;
  }>(
    `WITH inv AS (
       SELECT invoice_id, customer_id, period, currency, status, snapshot_id, document, created_at
         FROM invoices WHERE mode = 'live' AND period = ANY($1)
     ), current_invoice AS (
       -- Each customer-period's current invoice: the one that is not voided (at most one, by
       -- invoices_one_live_per_period), whether the first close's or a re-run's (inv:…:r<n>); while a
       -- re-run has voided the held draft and not rated its own yet, that voided draft (its events
       -- are stored and not billed yet).
       SELECT DISTINCT ON (customer_id, period) customer_id, period, currency
         FROM inv ORDER BY customer_id, period, status = 'voided', created_at DESC
     ), per AS (
       SELECT inv.period, inv.currency, count(*) FILTER (WHERE inv.status <> 'voided') AS invoices,
              count(*) FILTER (WHERE inv.status = 'issued') AS issued,
              count(*) FILTER (WHERE inv.status = 'held') AS held,
              count(*) FILTER (WHERE inv.status = 'draft') AS drafts,
              count(*) FILTER (WHERE inv.status = 'voided') AS voided,
              count(*) FILTER (WHERE inv.status = 'skipped') AS skipped,
              count(*) FILTER (WHERE inv.status = 'legacy') AS legacy,
              count(*) FILTER (WHERE inv.status = 'issued' AND EXISTS (SELECT 1 FROM provider_sync_records r WHERE r.invoice_id = inv.invoice_id)) AS synced,
              count(*) FILTER (WHERE inv.status = 'issued' AND EXISTS (SELECT 1 FROM journal_entries j WHERE j.invoice_id = inv.invoice_id)) AS journaled,
              coalesce(sum(s.event_count) FILTER (WHERE inv.status = 'issued'), 0) AS events_invoiced,
              coalesce(sum(s.event_count) FILTER (WHERE inv.status IN ('skipped', 'legacy')), 0) AS events_skipped_or_legacy,
              coalesce(sum((SELECT sum((l ->> 'amount')::numeric) FROM jsonb_array_elements(inv.document -> 'lines') l
                             WHERE l ->> 'kind' IN ('usage', 'adjustment'))) FILTER (WHERE inv.status = 'issued'), 0) AS usage_billed,
              coalesce(sum((SELECT sum(jl.credit - jl.debit) FROM journal_entries j JOIN journal_lines jl USING (entry_key)
                             WHERE j.invoice_id = inv.invoice_id AND jl.account = 'usage_revenue')) FILTER (WHERE inv.status = 'issued'), 0) AS usage_posted
         FROM inv LEFT JOIN period_snapshots s ON s.snapshot_id = inv.snapshot_id
        GROUP BY inv.period, inv.currency
     )
     SELECT per.period, per.currency, per.invoices::text, per.issued::text, per.held::text, per.drafts::text,
            per.voided::text, per.skipped::text, per.legacy::text, per.synced::text, per.journaled::text,
            per.events_invoiced::text, per.events_skipped_or_legacy::text, per.usage_billed::text, per.usage_posted::text,
            coalesce((SELECT sum(t.event_count) FROM usage_running_totals t
                        JOIN current_invoice c ON c.customer_id = t.customer_id AND c.period = t.period
                       WHERE t.period = per.period AND c.currency = per.currency), 0)::text AS events_stored,
            -- A re-run's draft claims the held period's late events as its own (corrected = adjusting):
            -- its snapshot has them, so they are counted on the invoice, not again as adjusted.
            (SELECT count(*) FROM late_event_adjustments a JOIN inv ON inv.invoice_id = a.corrected_invoice_id
              WHERE inv.period = per.period AND inv.currency = per.currency
                AND a.adjusting_invoice_id IS DISTINCT FROM a.corrected_invoice_id)::text AS events_late
       FROM per ORDER BY per.period DESC, per.currency`,
    [periods],
  );
  return rows.map((row) => ({
    period: row.period,
    currency: row.currency,
    invoices: Number.parseInt(row.invoices, 10),
    issued: Number.parseInt(row.issued, 10),
    held: Number.parseInt(row.held, 10),
    drafts: Number.parseInt(row.drafts, 10),
    voided: Number.parseInt(row.voided, 10),
    skipped: Number.parseInt(row.skipped, 10),
    legacy: Number.parseInt(row.legacy, 10),
    synced: Number.parseInt(row.synced, 10),
    journaled: Number.parseInt(row.journaled, 10),
    eventsStored: row.events_stored,
    eventsInvoiced: row.events_invoiced,
    eventsSkippedOrLegacy: row.events_skipped_or_legacy,
    eventsLateAdjusted: row.events_late,
    usageBilled: row.usage_billed,
    usageRevenuePosted: row.usage_posted,
  }));
}

/** Recent invoices with unpriced usage (reported, never billed at zero). */
export async function invoicesWithUnpricedUsage(
  db: Queryable,
  periods: readonly string[],
): Promise<
  {
    invoiceId: string;
    customerId: string;
    period: string;
    unpriced: { sku: string; unit: string; event_count: number }[];
  }[]
> {
  const { rows } = await db.query<{
    invoice_id: string;
    customer_id: string;
    period: string;
    unpriced: { sku: string; unit: string; event_count: number }[];
  }>(
    `SELECT invoice_id, customer_id, period, document -> 'unpriced' AS unpriced FROM invoices
      WHERE mode = 'live' AND period = ANY($1) AND jsonb_array_length(coalesce(document -> 'unpriced', '[]'::jsonb)) > 0
      ORDER BY period DESC, customer_id LIMIT 100`,
    [periods],
  );
  return rows.map((row) => ({
    invoiceId: row.invoice_id,
    customerId: row.customer_id,
    period: row.period,
    unpriced: row.unpriced,
  }));
}
