import type pg from 'pg';
import type { LedgerPosting } from '../../domain/revenue/index.ts';
import type { Queryable } from './journal.ts';

/** A customer-period as daily recognition sees it (migration 0400). */
export interface RecognitionPeriodRow {
  readonly customer_id: string;
  readonly period: string;
  readonly currency: string | null;
  /** `YYYY-MM-DD` of the latest day recognized, or null. */
  readonly last_day: string | null;
  readonly settled_by_invoice_id: string | null;
  readonly settlement_entry_key: string | null;
  /** Set once the month-end accrual ran (migration 0410), with the period its reversal books in. */
  readonly accrued_at: string | null;
  readonly accrual_reversal_period: string | null;
}

/**
 * The customer-period's recognition row, created when missing and locked (`FOR UPDATE`) for the
 * caller's transaction: a day's recognition and the settlement at invoice take it first, so they
 * never interleave.
 */
export async function lockRecognitionPeriod(
  client: pg.ClientBase,
  input: { customerId: string; period: string },
): Promise<RecognitionPeriodRow> {
  await client.query(
    `INSERT INTO revenue_recognition_periods (customer_id, period) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    [input.customerId, input.period],
  );
  const { rows } = await client.query<RecognitionPeriodRow>(
    `SELECT customer_id, period, currency::text AS currency, to_char(last_day, 'YYYY-MM-DD') AS last_day,
            settled_by_invoice_id, settlement_entry_key,
            to_char(accrued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS accrued_at, accrual_reversal_period
       FROM revenue_recognition_periods WHERE customer_id = $1 AND period = $2 FOR UPDATE`,
    [input.customerId, input.period],
  );
  const [row] = rows;
  if (row === undefined) throw new Error(`revenue_recognition_periods ${input.customerId} ${input.period} vanished`);
  return row;
}

/** Records a day as recognized (with its entry, or none when nothing changed); the period's last day moves to it. */
export async function recordRecognizedDay(
  client: pg.ClientBase,
  input: { customerId: string; period: string; day: string; currency: string; entryKey: string | null },
): Promise<void> {
  await client.query(
    `INSERT INTO revenue_recognition_days (customer_id, day, period, entry_key) VALUES ($1, $2::date, $3, $4)`,
    [input.customerId, input.day, input.period, input.entryKey],
  );
  await client.query(
    `UPDATE revenue_recognition_periods SET last_day = greatest(last_day, $3::date), currency = coalesce(currency, $4)
      WHERE customer_id = $1 AND period = $2`,
    [input.customerId, input.period, input.day, input.currency],
  );
}

/** Records the customer-period's month-end accrual: its entry (or none) and where its reversal books. */
export async function recordAccrual(
  client: pg.ClientBase,
  input: { customerId: string; period: string; currency: string; entryKey: string | null; reversalPeriod: string },
): Promise<void> {
  await client.query(
    `UPDATE revenue_recognition_periods
        SET accrued_at = now(), accrual_entry_key = $3, accrual_reversal_period = $4, currency = coalesce(currency, $5)
      WHERE customer_id = $1 AND period = $2 AND accrued_at IS NULL`,
    [input.customerId, input.period, input.entryKey, input.reversalPeriod, input.currency],
  );
}

/** Marks the customer-period settled by its invoice (with the settlement entry, or none when nothing was recognized). */
export async function recordRecognitionSettled(
  client: pg.ClientBase,
  input: { customerId: string; period: string; invoiceId: string; entryKey: string | null },
): Promise<void> {
  await client.query(
    `UPDATE revenue_recognition_periods
        SET settled_by_invoice_id = $3, settled_at = now(), settlement_entry_key = $4
      WHERE customer_id = $1 AND period = $2 AND settled_by_invoice_id IS NULL`,
    [input.customerId, input.period, input.invoiceId, input.entryKey],
  );
}

/** Periods locked for posting (SPEC §11), oldest first. */
export async function lockedAccountingPeriods(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ period: string }>(`SELECT period FROM accounting_period_locks ORDER BY period`);
  return rows.map((row) => row.period);
}

export interface AccountingPeriodLock {
  readonly period: string;
  readonly locked_at: string;
  readonly locked_by: string;
  readonly reason: string;
}

/** Locks a period; locking it again changes nothing and returns the first lock. */
export async function lockAccountingPeriod(
  db: Queryable,
  input: { period: string; lockedBy: string; reason: string },
): Promise<{ lock: AccountingPeriodLock; created: boolean }> {
  const inserted = await db.query(
    `INSERT INTO accounting_period_locks (period, locked_by, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [input.period, input.lockedBy, input.reason],
  );
  const { rows } = await db.query<AccountingPeriodLock>(
    `SELECT period, to_char(locked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS locked_at, locked_by, reason
       FROM accounting_period_locks WHERE period = $1`,
    [input.period],
  );
  const [lock] = rows;
  if (lock === undefined) throw new Error(`accounting period lock ${input.period} vanished`);
  return { lock, created: (inserted.rowCount ?? 0) > 0 };
}

/** Every lock, oldest period first. */
export async function listAccountingPeriodLocks(db: Queryable): Promise<AccountingPeriodLock[]> {
  const { rows } = await db.query<AccountingPeriodLock>(
    `SELECT period, to_char(locked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS locked_at, locked_by, reason
       FROM accounting_period_locks ORDER BY period`,
  );
  return rows;
}

/** Every posting booked in a period, with its entry's fields, in posting order (for the GL export). */
export async function postingsOfPeriod(db: Queryable, input: { postingPeriod: string }): Promise<LedgerPosting[]> {
  const { rows } = await db.query<LedgerPosting>(
    `SELECT e.entry_key, to_char(e.posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS posted_at,
            e.posting_period, l.account, l.debit::text AS debit, l.credit::text AS credit, e.currency::text AS currency,
            e.customer_id, e.invoice_id, e.memo
       FROM journal_entries e JOIN journal_lines l ON l.entry_key = e.entry_key
      WHERE e.posting_period = $1
      ORDER BY e.posted_at, e.entry_key, l.line_no`,
    [input.postingPeriod],
  );
  return rows;
}

/** The days recognized in a period (optionally one customer's), with their entry keys. */
export async function recognizedDaysOfPeriod(
  db: Queryable,
  input: { period: string; customerId?: string },
): Promise<{ customer_id: string; day: string; currency: string; entry_key: string | null }[]> {
  const { rows } = await db.query<{ customer_id: string; day: string; currency: string; entry_key: string | null }>(
    `SELECT d.customer_id, to_char(d.day, 'YYYY-MM-DD') AS day, coalesce(p.currency::text, 'USD') AS currency, d.entry_key
       FROM revenue_recognition_days d
       JOIN revenue_recognition_periods p ON p.customer_id = d.customer_id AND p.period = d.period
      WHERE d.period = $1 AND ($2::text IS NULL OR d.customer_id = $2)
      ORDER BY d.customer_id, d.day`,
    [input.period, input.customerId ?? null],
  );
  return rows;
}

/** The customer-periods of a period settled by their invoice (optionally one customer's). */
export async function recognitionSettlementsOfPeriod(
  db: Queryable,
  input: { period: string; customerId?: string },
): Promise<{ customer_id: string; invoice_id: string; settled_at: string; entry_key: string | null }[]> {
  const { rows } = await db.query<{
    customer_id: string;
    invoice_id: string;
    settled_at: string;
    entry_key: string | null;
  }>(
    `SELECT customer_id, settled_by_invoice_id AS invoice_id,
            to_char(settled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS settled_at, settlement_entry_key AS entry_key
       FROM revenue_recognition_periods
      WHERE period = $1 AND settled_by_invoice_id IS NOT NULL AND ($2::text IS NULL OR customer_id = $2)
      ORDER BY customer_id`,
    [input.period, input.customerId ?? null],
  );
  return rows;
}
