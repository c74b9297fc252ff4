import type pg from 'pg';
import type { Invoice, IssuedInvoice } from '../../contracts/invoice.ts';

/**
 * `skipped`: rated all zero under `invoice_when_zero: false`, never numbered nor sent (final, like issued).
 * `legacy`: rated while the legacy biller had the customer's billing authority; the legacy biller
 * invoices the period, Tally never numbers, sends nor journals it (final, like issued).
 */
export type InvoiceStatus = 'draft' | 'held' | 'issued' | 'skipped' | 'legacy';

export interface InvoiceRecord {
  readonly invoiceId: string;
  readonly customerId: string;
  readonly period: string;
  readonly mode: 'live' | 'shadow';
  readonly calculationVersion: string;
  readonly snapshotId: string;
  readonly status: InvoiceStatus;
  readonly invoiceNumber: string | undefined;
  readonly issuedAt: string | undefined;
  readonly heldReason: string | undefined;
  /** For issued invoices, the IssuedInvoice document. */
  readonly document: Invoice | IssuedInvoice;
}

interface InvoiceRow {
  invoice_id: string;
  customer_id: string;
  period: string;
  mode: 'live' | 'shadow';
  calculation_version: string;
  snapshot_id: string;
  status: InvoiceStatus;
  invoice_number: string | null;
  issued_at: Date | null;
  held_reason: string | null;
  document: Invoice | IssuedInvoice;
}

function rowToRecord(row: InvoiceRow): InvoiceRecord {
  return {
    invoiceId: row.invoice_id,
    customerId: row.customer_id,
    period: row.period,
    mode: row.mode,
    calculationVersion: row.calculation_version,
    snapshotId: row.snapshot_id,
    status: row.status,
    invoiceNumber: row.invoice_number ?? undefined,
    issuedAt: row.issued_at?.toISOString(),
    heldReason: row.held_reason ?? undefined,
    document: row.document,
  };
}

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * Saves a draft. A draft may be replaced while it is a draft (a retried rating step computes the
 * same document); once held or issued it is never touched again (the table's trigger refuses it).
 */
export async function saveDraftInvoice(
  db: Queryable,
  draft: {
    invoiceId: string;
    mode: 'live' | 'shadow';
    calculationVersion: string;
    snapshotId: string;
    document: Invoice;
  },
): Promise<InvoiceRecord> {
  const { document } = draft;
  await db.query(
    `INSERT INTO invoices (invoice_id, customer_id, period, mode, calculation_version, snapshot_id, status, currency, subtotal, total, document)
     VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10)
     ON CONFLICT (invoice_id) DO UPDATE
        SET document = EXCLUDED.document, subtotal = EXCLUDED.subtotal, total = EXCLUDED.total,
            snapshot_id = EXCLUDED.snapshot_id, updated_at = now()
      WHERE invoices.status = 'draft'`,
    [
      draft.invoiceId,
      document.customer_id,
      document.period,
      draft.mode,
      draft.calculationVersion,
      draft.snapshotId,
      document.currency,
      document.subtotal,
      document.total,
      JSON.stringify(document),
    ],
  );
  const stored = await findInvoice(db, draft.invoiceId);
  if (stored === undefined) throw new Error(`invoice ${draft.invoiceId} vanished after insert`);
  return stored;
}

export async function findInvoice(db: Queryable, invoiceId: string): Promise<InvoiceRecord | undefined> {
  const { rows } = await db.query<InvoiceRow>('SELECT * FROM invoices WHERE invoice_id = $1', [invoiceId]);
  return rows[0] === undefined ? undefined : rowToRecord(rows[0]);
}

/** An invoice by its id (`inv:<customer>:<period>`) or by its number (`<customer>-0001`), as people quote it. */
export async function findInvoiceByIdOrNumber(db: Queryable, idOrNumber: string): Promise<InvoiceRecord | undefined> {
  const { rows } = await db.query<InvoiceRow>(
    'SELECT * FROM invoices WHERE invoice_id = $1 OR invoice_number = $1 ORDER BY invoice_id = $1 DESC LIMIT 1',
    [idOrNumber],
  );
  return rows[0] === undefined ? undefined : rowToRecord(rows[0]);
}

/** Locks the invoice row for the rest of the caller's transaction. */
export async function lockInvoice(client: pg.PoolClient, invoiceId: string): Promise<InvoiceRecord> {
  const { rows } = await client.query<InvoiceRow>('SELECT * FROM invoices WHERE invoice_id = $1 FOR UPDATE', [
    invoiceId,
  ]);
  if (rows[0] === undefined) throw new Error(`invoice ${invoiceId} does not exist`);
  return rowToRecord(rows[0]);
}

export async function replaceDraftDocument(client: pg.PoolClient, invoiceId: string, document: Invoice): Promise<void> {
  await client.query(
    `UPDATE invoices SET document = $2, subtotal = $3, total = $4, updated_at = now() WHERE invoice_id = $1 AND status = 'draft'`,
    [invoiceId, JSON.stringify(document), document.subtotal, document.total],
  );
}

/** Next gapless number for a customer, inside the issuing transaction. */
export async function nextInvoiceNumber(client: pg.PoolClient, customerId: string): Promise<string> {
  const { rows } = await client.query<{ last_number: number }>(
    `INSERT INTO invoice_number_counters (customer_id, last_number) VALUES ($1, 1)
     ON CONFLICT (customer_id) DO UPDATE SET last_number = invoice_number_counters.last_number + 1
     RETURNING last_number`,
    [customerId],
  );
  return `${customerId}-${String(rows[0]?.last_number ?? 1).padStart(4, '0')}`;
}

export async function markIssued(client: pg.PoolClient, invoiceId: string, document: IssuedInvoice): Promise<void> {
  await client.query(
    `UPDATE invoices SET status = 'issued', invoice_number = $2, issued_at = $3, document = $4, updated_at = now()
      WHERE invoice_id = $1 AND status = 'draft'`,
    [invoiceId, document.invoice_number, document.issued_at, JSON.stringify(document)],
  );
}

export async function markHeld(db: Queryable, invoiceId: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE invoices SET status = 'held', held_reason = $2, updated_at = now() WHERE invoice_id = $1 AND status = 'draft'`,
    [invoiceId, reason],
  );
}

/** Ends a draft as skipped: all zero, and the contract does not want such invoices. */
export async function markSkipped(db: Queryable, invoiceId: string): Promise<void> {
  await db.query(
    `UPDATE invoices SET status = 'skipped', updated_at = now() WHERE invoice_id = $1 AND status = 'draft'`,
    [invoiceId],
  );
}

/** Ends a draft as the legacy biller's: rated, never numbered nor sent (cutover by cohort). */
export async function markLeftToLegacy(db: Queryable, invoiceId: string): Promise<void> {
  await db.query(
    `UPDATE invoices SET status = 'legacy', updated_at = now() WHERE invoice_id = $1 AND status = 'draft'`,
    [invoiceId],
  );
}

/** The latest issued live invoice of a customer before `period` (for change checks and context). */
export async function previousIssuedInvoices(
  db: Queryable,
  customerId: string,
  beforePeriod: string,
  limit = 3,
): Promise<InvoiceRecord[]> {
  const { rows } = await db.query<InvoiceRow>(
    `SELECT * FROM invoices WHERE customer_id = $1 AND mode = 'live' AND status = 'issued' AND period < $2
      ORDER BY period DESC LIMIT $3`,
    [customerId, beforePeriod, limit],
  );
  return rows.map(rowToRecord);
}

export interface InvoiceListFilter {
  readonly customerId?: string;
  readonly period?: string;
  readonly status?: InvoiceStatus;
  readonly mode?: 'live' | 'shadow';
}

export async function listInvoices(db: Queryable, filter: InvoiceListFilter, limit = 500): Promise<InvoiceRecord[]> {
  const conditions: string[] = [];
  const parameters: unknown[] = [];
  for (const [column, value] of [
    ['customer_id', filter.customerId],
    ['period', filter.period],
    ['status', filter.status],
    ['mode', filter.mode ?? 'live'],
  ] as const) {
    if (value === undefined) continue;
    parameters.push(value);
    conditions.push(`${column} = $${parameters.length}`);
  }
  parameters.push(limit);
  const { rows } = await db.query<InvoiceRow>(
    `SELECT * FROM invoices ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
      ORDER BY period, customer_id LIMIT $${parameters.length}`,
    parameters,
  );
  return rows.map(rowToRecord);
}
