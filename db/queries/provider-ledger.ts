import type pg from 'pg';

type Queryable = pg.Pool | pg.PoolClient;

export interface LedgerInvoiceRow {
  readonly invoice_id: string;
  readonly external_invoice_id: string;
  readonly external_customer_id: string;
  readonly customer_id: string;
  readonly invoice_number: string;
  readonly period: string;
  readonly currency: string;
  readonly period_start: string;
  readonly period_end: string;
  /** Decimal strings, as issued (NUMERIC in Postgres). */
  readonly subtotal: string;
  readonly total: string;
  readonly issued_at: string;
  readonly line_count: number;
}

export interface LedgerLineRow {
  readonly invoice_id: string;
  readonly line_key: string;
  readonly external_item_id: string;
  readonly position: number;
  readonly kind: string;
  readonly description: string;
  /** A decimal string (NUMERIC in Postgres). */
  readonly amount: string;
  readonly line: unknown;
}

/**
 * Inserts the invoice row unless it exists; true when this call inserted it. Every unique key
 * arbitrates (no conflict target): with only `invoice_id` named, a concurrent insert of the same
 * invoice could fail on `external_invoice_id` (derived from the invoice id) instead of doing nothing.
 */
export async function insertLedgerInvoice(db: Queryable, row: LedgerInvoiceRow): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO provider_ledger_invoices (invoice_id, external_invoice_id, external_customer_id, customer_id, invoice_number,
       period, currency, period_start, period_end, subtotal, total, issued_at, line_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::numeric, $11::numeric, $12, $13)
     ON CONFLICT DO NOTHING`,
    [
      row.invoice_id,
      row.external_invoice_id,
      row.external_customer_id,
      row.customer_id,
      row.invoice_number,
      row.period,
      row.currency,
      row.period_start,
      row.period_end,
      row.subtotal,
      row.total,
      row.issued_at,
      row.line_count,
    ],
  );
  return result.rowCount === 1;
}

/** Inserts the lines of an invoice in one statement; lines that exist already are left as they are. */
export async function insertLedgerLines(db: Queryable, lines: readonly LedgerLineRow[]): Promise<number> {
  if (lines.length === 0) return 0;
  const result = await db.query(
    `INSERT INTO provider_ledger_lines (invoice_id, line_key, external_item_id, position, kind, description, amount, line)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::numeric[], $8::jsonb[])
     ON CONFLICT DO NOTHING`,
    [
      lines.map((l) => l.invoice_id),
      lines.map((l) => l.line_key),
      lines.map((l) => l.external_item_id),
      lines.map((l) => l.position),
      lines.map((l) => l.kind),
      lines.map((l) => l.description),
      lines.map((l) => l.amount),
      lines.map((l) => JSON.stringify(l.line)),
    ],
  );
  return result.rowCount ?? 0;
}

/** The ledger's copy of an invoice and its lines in position order, or undefined. */
export async function findLedgerInvoice(
  db: Queryable,
  invoiceId: string,
): Promise<{ invoice: LedgerInvoiceRow; lines: LedgerLineRow[] } | undefined> {
  const invoices = await db.query<LedgerInvoiceRow>(
    `SELECT invoice_id, external_invoice_id, external_customer_id, customer_id, invoice_number, period, currency,
       to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS period_start,
       to_char(period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS period_end,
       subtotal::text AS subtotal, total::text AS total,
       to_char(issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS issued_at, line_count
     FROM provider_ledger_invoices WHERE invoice_id = $1`,
    [invoiceId],
  );
  const invoice = invoices.rows[0];
  if (invoice === undefined) return undefined;
  const lines = await db.query<LedgerLineRow>(
    `SELECT invoice_id, line_key, external_item_id, position, kind, description, amount::text AS amount, line
     FROM provider_ledger_lines WHERE invoice_id = $1 ORDER BY position`,
    [invoiceId],
  );
  return { invoice, lines: lines.rows };
}
