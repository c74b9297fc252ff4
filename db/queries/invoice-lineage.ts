import type pg from 'pg';
import type { UsageAggregate } from '../../domain/rating/index.ts';

export interface LineageEvent {
  readonly source: string;
  readonly eventId: string;
  readonly eventTime: string;
  readonly receivedAt: string;
  readonly quantity: string;
  readonly metadata: Record<string, string>;
}

/**
 * The events behind one aggregate group of an invoice's snapshot: same customer, version segment,
 * sku, unit and values of the sku's grouping keys (a key the group lacks is absent on its events),
 * not late. Events are immutable, so this is the set the invoice was computed from.
 */
export async function eventsOfAggregate(
  pool: pg.Pool,
  input: {
    customerId: string;
    segmentStart: string;
    segmentEnd: string;
    aggregate: UsageAggregate;
    groupingKeys: readonly string[];
    limit: number;
  },
): Promise<{ events: LineageEvent[]; total: number }> {
  const parameters: unknown[] = [
    input.customerId,
    input.segmentStart,
    input.segmentEnd,
    input.aggregate.sku,
    input.aggregate.unit,
  ];
  const conditions = input.groupingKeys.map((key) => {
    parameters.push(key);
    const keyParameter = `$${parameters.length}`;
    const value = input.aggregate.metadata[key];
    if (value === undefined) return `metadata->>${keyParameter} IS NULL`;
    parameters.push(value);
    return `metadata->>${keyParameter} = $${parameters.length}`;
  });
  const where = `customer_id = $1 AND event_time >= $2 AND event_time < $3 AND NOT late AND sku = $4 AND unit = $5${conditions.map((condition) => ` AND ${condition}`).join('')}`;
  const total = await pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM usage_events WHERE ${where}`,
    parameters,
  );
  parameters.push(input.limit);
  const { rows } = await pool.query<{
    source: string;
    event_id: string;
    event_time: Date;
    received_at: Date;
    quantity: string;
    metadata: Record<string, string>;
  }>(
    `SELECT source, event_id, event_time, received_at, quantity::text AS quantity, metadata FROM usage_events WHERE ${where}
      ORDER BY event_time, source COLLATE "C", event_id COLLATE "C" LIMIT $${parameters.length}`,
    parameters,
  );
  return {
    total: Number.parseInt(total.rows[0]?.n ?? '0', 10),
    events: rows.map((row) => ({
      source: row.source,
      eventId: row.event_id,
      eventTime: row.event_time.toISOString(),
      receivedAt: row.received_at.toISOString(),
      quantity: row.quantity,
      metadata: row.metadata,
    })),
  };
}

/** The late events an invoice bills as adjustments of an earlier invoice. */
export async function lateEventsAdjustedBy(
  pool: pg.Pool,
  adjustingInvoiceId: string,
  correctedInvoiceId: string,
  limit: number,
): Promise<LineageEvent[]> {
  const { rows } = await pool.query<{
    source: string;
    event_id: string;
    event_time: Date;
    received_at: Date;
    quantity: string;
    metadata: Record<string, string>;
  }>(
    `SELECT e.source, e.event_id, e.event_time, e.received_at, e.quantity::text AS quantity, e.metadata
       FROM late_event_adjustments a
       JOIN usage_event_keys k ON k.source = a.source AND k.event_id = a.event_id
       JOIN usage_events e ON e.source = k.source AND e.event_id = k.event_id AND e.event_time = k.event_time
      WHERE a.adjusting_invoice_id = $1 AND a.corrected_invoice_id = $2
      ORDER BY e.event_time, e.source COLLATE "C", e.event_id COLLATE "C" LIMIT $3`,
    [adjustingInvoiceId, correctedInvoiceId, limit],
  );
  return rows.map((row) => ({
    source: row.source,
    eventId: row.event_id,
    eventTime: row.event_time.toISOString(),
    receivedAt: row.received_at.toISOString(),
    quantity: row.quantity,
    metadata: row.metadata,
  }));
}
