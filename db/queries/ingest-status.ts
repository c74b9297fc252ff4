import type pg from 'pg';
import type { RejectionReason } from '../../contracts/rejection-reason.ts';

export interface IngestTableCounts {
  readonly usageEvents: string;
  readonly lateEvents: string;
  readonly rejected: Partial<Record<RejectionReason, string>>;
  readonly customerPeriods: string;
  readonly customerPeriodsAwaitingWorkflow: string;
  readonly lastReceivedAt: string | null;
}

/** Counts of what ingest has stored (counts are int8, so strings). Scans the tables: for status, not for hot paths. */
export async function readIngestTableCounts(client: pg.ClientBase | pg.Pool): Promise<IngestTableCounts> {
  const events = await client.query<{ total: string; late: string; last_received_at: Date | null }>(
    'SELECT count(*) AS total, count(*) FILTER (WHERE late) AS late, max(received_at) AS last_received_at FROM usage_events',
  );
  const rejected = await client.query<{ reason: RejectionReason; total: string }>(
    'SELECT reason, count(*) AS total FROM rejected_events GROUP BY reason ORDER BY reason',
  );
  const periods = await client.query<{ total: string; waiting: string }>(
    'SELECT count(*) AS total, count(*) FILTER (WHERE workflow_started_at IS NULL) AS waiting FROM customer_periods',
  );
  const eventsRow = events.rows[0];
  const periodsRow = periods.rows[0];
  return {
    usageEvents: eventsRow?.total ?? '0',
    lateEvents: eventsRow?.late ?? '0',
    rejected: Object.fromEntries(rejected.rows.map((row) => [row.reason, row.total])),
    customerPeriods: periodsRow?.total ?? '0',
    customerPeriodsAwaitingWorkflow: periodsRow?.waiting ?? '0',
    lastReceivedAt: eventsRow?.last_received_at?.toISOString() ?? null,
  };
}
