import type pg from 'pg';

/**
 * Re-runs of held periods (`period_reruns`, `period_rerun_late_events`; migration 0260): each re-run
 * once, numbered per customer-period, and the late events its snapshot took in.
 */

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export interface PeriodRerunRecord {
  readonly customerId: string;
  readonly period: string;
  readonly rerunNumber: number;
  readonly workflowId: string;
  readonly voidedInvoiceId: string | undefined;
  readonly rerunInvoiceId: string;
  readonly reason: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
}

interface PeriodRerunRow {
  customer_id: string;
  period: string;
  rerun_number: number;
  workflow_id: string;
  voided_invoice_id: string | null;
  rerun_invoice_id: string;
  reason: string;
  requested_by: string;
  requested_at: Date;
}

function rowToRecord(row: PeriodRerunRow): PeriodRerunRecord {
  return {
    customerId: row.customer_id,
    period: row.period,
    rerunNumber: row.rerun_number,
    workflowId: row.workflow_id,
    voidedInvoiceId: row.voided_invoice_id ?? undefined,
    rerunInvoiceId: row.rerun_invoice_id,
    reason: row.reason,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at.toISOString(),
  };
}

/** Records a re-run unless it is recorded already; returns the one that stands and whether this call recorded it. */
export async function recordPeriodRerun(
  db: Queryable,
  rerun: Omit<PeriodRerunRecord, 'requestedAt'>,
): Promise<{ rerun: PeriodRerunRecord; recorded: boolean }> {
  const inserted = await db.query<PeriodRerunRow>(
    `INSERT INTO period_reruns (customer_id, period, rerun_number, workflow_id, voided_invoice_id, rerun_invoice_id, reason, requested_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (customer_id, period, rerun_number) DO NOTHING RETURNING *`,
    [
      rerun.customerId,
      rerun.period,
      rerun.rerunNumber,
      rerun.workflowId,
      rerun.voidedInvoiceId ?? null,
      rerun.rerunInvoiceId,
      rerun.reason,
      rerun.requestedBy,
    ],
  );
  if (inserted.rows[0] !== undefined) return { rerun: rowToRecord(inserted.rows[0]), recorded: true };
  const existing = await findPeriodRerun(db, rerun.customerId, rerun.period, rerun.rerunNumber);
  if (existing === undefined)
    throw new Error(`re-run ${rerun.rerunNumber} of ${rerun.customerId} ${rerun.period} vanished`);
  return { rerun: existing, recorded: false };
}

export async function findPeriodRerun(
  db: Queryable,
  customerId: string,
  period: string,
  rerunNumber: number,
): Promise<PeriodRerunRecord | undefined> {
  const { rows } = await db.query<PeriodRerunRow>(
    'SELECT * FROM period_reruns WHERE customer_id = $1 AND period = $2 AND rerun_number = $3',
    [customerId, period, rerunNumber],
  );
  return rows[0] === undefined ? undefined : rowToRecord(rows[0]);
}

/** Every re-run of a customer-period, first to last. */
export async function periodReruns(db: Queryable, customerId: string, period: string): Promise<PeriodRerunRecord[]> {
  const { rows } = await db.query<PeriodRerunRow>(
    'SELECT * FROM period_reruns WHERE customer_id = $1 AND period = $2 ORDER BY rerun_number',
    [customerId, period],
  );
  return rows.map(rowToRecord);
}

/**
 * Takes in, for a re-run's snapshot, the held period's late events no invoice has claimed (from the
 * table the snapshot reads, so a replaced event counts in the period of its new time). Recorded
 * before the snapshot reads the events: the snapshot then rates exactly the period's events that
 * are not late plus these. A retried snapshot adds what arrived since (nothing is rated before the
 * snapshot row is saved).
 */
export async function takeInRerunLateEvents(
  db: Queryable,
  input: {
    snapshotId: string;
    customerId: string;
    periodStart: string;
    periodEnd: string;
    table: 'usage_events' | 'corrected_usage_events';
  },
): Promise<number> {
  const result = await db.query(
    `INSERT INTO period_rerun_late_events (snapshot_id, source, event_id)
     SELECT $1, e.source, e.event_id FROM ${input.table} e
      WHERE e.customer_id = $2 AND e.event_time >= $3::timestamptz AND e.event_time < $4::timestamptz AND e.late
        AND NOT EXISTS (SELECT 1 FROM late_event_adjustments a WHERE a.source = e.source AND a.event_id = e.event_id)
      ORDER BY e.source, e.event_id
     ON CONFLICT DO NOTHING`,
    [input.snapshotId, input.customerId, input.periodStart, input.periodEnd],
  );
  return result.rowCount ?? 0;
}

/**
 * The re-run's draft claims the late events its snapshot rated, as billed by itself (corrected =
 * adjusting = the draft): no later invoice adjusts for them again, and a held re-run gives them back
 * like any claim (releaseLateEventClaims).
 */
export async function claimRerunLateEvents(
  db: Queryable,
  input: { snapshotId: string; invoiceId: string },
): Promise<number> {
  const result = await db.query(
    `INSERT INTO late_event_adjustments (source, event_id, corrected_invoice_id, adjusting_invoice_id)
     SELECT source, event_id, $2, $2 FROM period_rerun_late_events WHERE snapshot_id = $1
      ORDER BY source, event_id
     ON CONFLICT (source, event_id) DO NOTHING`,
    [input.snapshotId, input.invoiceId],
  );
  return result.rowCount ?? 0;
}
