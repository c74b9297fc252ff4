import type pg from 'pg';

/**
 * Late usage (SPEC §5): events committed after their customer-period closed (`usage_events.late`).
 * Each is claimed once by the invoice that bills it as an adjustment; the primary key on
 * (source, event_id) makes "running the same backfill twice adjusts once" a database fact.
 */

/**
 * Claims the customer's unclaimed late events of earlier periods whose live invoice is final
 * (issued, or skipped as all zero: late usage of a skipped period still bills). Late events of a
 * period whose invoice is not final yet wait for it (the snapshot of that invoice is fixed; they
 * will correct it once it exists).
 */
export async function claimLateEvents(
  pool: pg.Pool,
  input: { customerId: string; beforePeriodStart: string; adjustingInvoiceId: string },
): Promise<number> {
  const result = await pool.query(
    `INSERT INTO late_event_adjustments (source, event_id, corrected_invoice_id, adjusting_invoice_id)
     SELECT e.source, e.event_id, i.invoice_id, $3
       FROM usage_events e
       JOIN invoices i ON i.customer_id = e.customer_id AND i.mode = 'live' AND i.status IN ('issued', 'skipped')
                      AND i.period = to_char(e.event_time AT TIME ZONE 'UTC', 'YYYY-MM')
      WHERE e.customer_id = $1 AND e.late AND e.event_time < $2
      ORDER BY e.source, e.event_id
     ON CONFLICT (source, event_id) DO NOTHING`,
    [input.customerId, input.beforePeriodStart, input.adjustingInvoiceId],
  );
  return result.rowCount ?? 0;
}

export interface LateEventClaim {
  readonly correctedInvoiceId: string;
  readonly eventCount: number;
}

/**
 * What an invoice claimed, per corrected invoice. A re-run's own late events (claimed with corrected =
 * adjusting, see period-reruns.ts) are billed in its usage lines, not as adjustments: left out.
 */
export async function lateEventClaims(pool: pg.Pool, adjustingInvoiceId: string): Promise<LateEventClaim[]> {
  const { rows } = await pool.query<{ corrected_invoice_id: string; event_count: string }>(
    `SELECT corrected_invoice_id, count(*)::text AS event_count FROM late_event_adjustments
      WHERE adjusting_invoice_id = $1 AND corrected_invoice_id <> adjusting_invoice_id
      GROUP BY corrected_invoice_id ORDER BY corrected_invoice_id`,
    [adjustingInvoiceId],
  );
  return rows.map((row) => ({
    correctedInvoiceId: row.corrected_invoice_id,
    eventCount: Number.parseInt(row.event_count, 10),
  }));
}

/**
 * A held (rejected) invoice, or a draft left to the legacy biller, gives its claims back, so the next
 * invoice Tally issues bills them.
 */
export async function releaseLateEventClaims(pool: pg.Pool, adjustingInvoiceId: string): Promise<void> {
  await pool.query(
    `DELETE FROM late_event_adjustments a USING invoices i
      WHERE a.adjusting_invoice_id = $1 AND i.invoice_id = a.adjusting_invoice_id AND i.status IN ('held', 'legacy')`,
    [adjustingInvoiceId],
  );
}
