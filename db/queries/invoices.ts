import type pg from 'pg';
import { InvoiceSchema, IssuedInvoiceSchema, type Invoice, type IssuedInvoice } from '../../contracts/invoice.ts';
import { TallyError } from '../../contracts/tally-error.ts';

/**
 * `skipped`: rated all zero under `invoice_when_zero: false`, never numbered nor sent (final, like
 * issued). `voided`: a held draft a re-run replaced (`tally period rerun`), kept for the audit trail.
 * `legacy`: rated while the legacy biller had the customer's billing authority; the legacy biller
 * invoices the period, Tally never numbers, sends nor journals it (final, like issued).
 */
export type InvoiceStatus = 'draft' | 'held' | 'issued' | 'skipped' | 'voided' | 'legacy';

interface InvoiceRecordBase {
  readonly invoiceId: string;
  readonly customerId: string;
  readonly period: string;
  readonly mode: 'live' | 'shadow';
  readonly calculationVersion: string;
  readonly snapshotId: string;
  readonly heldReason: string | undefined;
}

/** A draft, held or skipped invoice: rated, never numbered. */
interface UnissuedInvoiceRecord extends InvoiceRecordBase {
  readonly status: Exclude<InvoiceStatus, 'issued'>;
  readonly invoiceNumber: undefined;
  readonly issuedAt: undefined;
  readonly document: Invoice;
}

/** An issued invoice: numbered, immutable, its document the IssuedInvoice of SPEC §4. */
export interface IssuedInvoiceRecord extends InvoiceRecordBase {
  readonly status: 'issued';
  readonly invoiceNumber: string;
  readonly issuedAt: string;
  readonly document: IssuedInvoice;
}

/** A row of `invoices`, its document checked against the invoice contract of its status when read. */
export type InvoiceRecord = UnissuedInvoiceRecord | IssuedInvoiceRecord;

export function isIssued(record: InvoiceRecord): record is IssuedInvoiceRecord {
  return record.status === 'issued';
}

/** A stored invoice document that does not match the contract of its status: never used as if it did. */
export class StoredInvoiceError extends TallyError {
  constructor(message: string) {
    super('stored_invoice_invalid', message, { permanent: true });
  }
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
  document: unknown;
}

function rowToRecord(row: InvoiceRow): InvoiceRecord {
  const base: InvoiceRecordBase = {
    invoiceId: row.invoice_id,
    customerId: row.customer_id,
    period: row.period,
    mode: row.mode,
    calculationVersion: row.calculation_version,
    snapshotId: row.snapshot_id,
    heldReason: row.held_reason ?? undefined,
  };
  if (row.status === 'issued') {
    if (row.invoice_number === null || row.issued_at === null)
      throw new StoredInvoiceError(`invoice ${row.invoice_id} is issued without a number or an issue time`);
    return {
      ...base,
      status: 'issued',
      invoiceNumber: row.invoice_number,
      issuedAt: row.issued_at.toISOString(),
      document: checkedDocument(row, IssuedInvoiceSchema) as IssuedInvoice,
    };
  }
  return {
    ...base,
    status: row.status,
    invoiceNumber: undefined,
    issuedAt: undefined,
    document: checkedDocument(row, InvoiceSchema) as Invoice,
  };
}

/**
 * The stored document, checked against the contract (the document itself is returned, so fields
 * the contract does not name, which SPEC §4 welcomes, are kept as stored).
 */
function checkedDocument(row: InvoiceRow, schema: typeof InvoiceSchema | typeof IssuedInvoiceSchema): unknown {
  const checked = schema.safeParse(row.document);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new StoredInvoiceError(
      `invoice ${row.invoice_id} (${row.status}): its stored document breaks the invoice contract at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return row.document;
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

/** A held draft replaced by a re-run: kept, voided, for the audit trail (the table's trigger allows nothing else on it). */
export async function markVoided(db: Queryable, invoiceId: string): Promise<void> {
  await db.query(
    `UPDATE invoices SET status = 'voided', voided_at = now(), updated_at = now() WHERE invoice_id = $1 AND status = 'held'`,
    [invoiceId],
  );
}

/** The customer-period's live invoice that is not voided (the first close's or a re-run's), if any. */
export async function currentLiveInvoice(
  db: Queryable,
  customerId: string,
  period: string,
): Promise<InvoiceRecord | undefined> {
  const { rows } = await db.query<InvoiceRow>(
    `SELECT * FROM invoices WHERE customer_id = $1 AND period = $2 AND mode = 'live' AND status <> 'voided'`,
    [customerId, period],
  );
  return rows[0] === undefined ? undefined : rowToRecord(rows[0]);
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
  /** Any of these customers (a demo run's, a cohort): the list is theirs, not a first page of everyone's. */
  readonly customerIds?: readonly string[];
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
  if (filter.customerIds !== undefined) {
    parameters.push([...filter.customerIds]);
    conditions.push(`customer_id = ANY($${parameters.length}::text[])`);
  }
  parameters.push(limit);
  const { rows } = await db.query<InvoiceRow>(
    `SELECT * FROM invoices ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
      ORDER BY period, customer_id LIMIT $${parameters.length}`,
    parameters,
  );
  return rows.map(rowToRecord);
}

/**
 * The issued live invoices a period's tie-out reads (SPEC §11): the period's own, and later ones whose
 * adjustment lines correct it. All of them, however long the ledger: never a first page of it.
 */
export async function issuedInvoicesServingPeriod(
  db: Queryable,
  period: string,
  customerIds?: readonly string[],
): Promise<{ readonly ofPeriod: IssuedInvoiceRecord[]; readonly adjusting: IssuedInvoiceRecord[] }> {
  const { rows } = await db.query<InvoiceRow>(
    `SELECT * FROM invoices
      WHERE status = 'issued' AND mode = 'live'
        AND ($2::text[] IS NULL OR customer_id = ANY($2::text[]))
        AND (period = $1
             OR (period > $1 AND document->'lines' @> jsonb_build_array(
                   jsonb_build_object('kind', 'adjustment', 'corrects_period', $1::text))))
      ORDER BY period, customer_id`,
    [period, customerIds === undefined ? null : [...customerIds]],
  );
  const issued = rows.map(rowToRecord).filter(isIssued);
  return {
    ofPeriod: issued.filter((record) => record.period === period),
    adjusting: issued.filter((record) => record.period !== period),
  };
}
