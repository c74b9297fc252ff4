import type pg from 'pg';

type Queryable = pg.Pool | pg.ClientBase;

/** One group of stored usage: a customer's SKU in one unit with the cost-relevant dimensions, on one UTC day. */
export interface DailyUsageRow {
  readonly customerId: string;
  readonly sku: string;
  readonly unit: string;
  /** The values of the dimension keys asked for that the events carry. */
  readonly dimensions: Record<string, string>;
  /** `YYYY-MM-DD`. */
  readonly day: string;
  /** Exact sum, a decimal string. */
  readonly quantity: string;
}

/**
 * Stored usage summed per customer, SKU, unit, the given dimension keys and UTC day, for events whose
 * time falls in [fromDay, toDay] (inclusive days). Sums are NUMERIC, returned as text.
 */
export async function dailyUsageTotals(
  db: Queryable,
  range: { fromDay: string; toDay: string },
  dimensionKeys: readonly string[],
): Promise<DailyUsageRow[]> {
  const { rows } = await db.query<{
    customer_id: string;
    sku: string;
    unit: string;
    dimensions: Record<string, string> | null;
    day: string;
    quantity: string;
  }>(
    `SELECT customer_id, sku, unit, dimensions, day, sum(quantity)::text AS quantity
       FROM (SELECT customer_id, sku, unit, quantity,
                    to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
                    (SELECT jsonb_object_agg(key, metadata ->> key) FROM unnest($3::text[]) AS key WHERE metadata ? key)
                      AS dimensions
               FROM usage_events
              WHERE event_time >= ($1::date)::timestamp AT TIME ZONE 'UTC'
                AND event_time < ($2::date + 1)::timestamp AT TIME ZONE 'UTC') AS events
      GROUP BY customer_id, sku, unit, dimensions, day
      ORDER BY customer_id, sku, unit, day`,
    [range.fromDay, range.toDay, dimensionKeys],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    sku: row.sku,
    unit: row.unit,
    dimensions: row.dimensions ?? {},
    day: row.day,
    quantity: row.quantity,
  }));
}

export interface AnomalyRecordInput {
  readonly anomalyId: string;
  readonly metric: 'usage' | 'cogs';
  readonly customerId: string | null;
  readonly sku: string;
  readonly day: string;
  readonly kind: 'spike' | 'drop' | 'silence';
  readonly value: string;
  readonly expected: string;
  readonly lower: string;
  readonly upper: string;
  readonly score: number;
  readonly severity: 'low' | 'medium' | 'high';
  /** A COGS anomaly's currency (its figures are money); null for usage (quantities) and for COGS found before it was recorded. */
  readonly currency: string | null;
}

/** Records an anomaly once per id; true when this call recorded it (a rerun of the day finds it recorded). */
export async function insertAnomaly(db: Queryable, anomaly: AnomalyRecordInput): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO anomalies (anomaly_id, metric, customer_id, sku, day, kind, value, expected, lower_bound, upper_bound, score, severity, currency)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (anomaly_id) DO NOTHING`,
    [
      anomaly.anomalyId,
      anomaly.metric,
      anomaly.customerId,
      anomaly.sku,
      anomaly.day,
      anomaly.kind,
      anomaly.value,
      anomaly.expected,
      anomaly.lower,
      anomaly.upper,
      anomaly.score,
      anomaly.severity,
      anomaly.currency,
    ],
  );
  return result.rowCount === 1;
}

/** The snooze over a series on `day`, if one holds: the latest snoozed_until of the series' anomalies after the day's start. */
export async function snoozeOfSeries(
  db: Queryable,
  series: { metric: string; customerId: string | null; sku: string },
  day: string,
): Promise<{ anomalyId: string; until: string } | undefined> {
  const { rows } = await db.query<{ anomaly_id: string; snoozed_until: Date }>(
    `SELECT anomaly_id, snoozed_until FROM anomalies
      WHERE metric = $1 AND customer_id IS NOT DISTINCT FROM $2 AND sku = $3
        AND snoozed_until > ($4::date)::timestamp AT TIME ZONE 'UTC'
      ORDER BY snoozed_until DESC LIMIT 1`,
    [series.metric, series.customerId, series.sku, day],
  );
  const row = rows[0];
  return row === undefined ? undefined : { anomalyId: row.anomaly_id, until: row.snoozed_until.toISOString() };
}

export async function markSuppressed(db: Queryable, anomalyId: string, reason: string): Promise<void> {
  await db.query('UPDATE anomalies SET suppressed = $2 WHERE anomaly_id = $1', [anomalyId, reason]);
}

/** One delivery per anomaly and target: routing the same anomaly again adds nothing. */
export async function insertDelivery(
  db: Queryable,
  delivery: { anomalyId: string; target: string; url: string },
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO anomaly_deliveries (anomaly_id, target, url) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [delivery.anomalyId, delivery.target, delivery.url],
  );
  return result.rowCount === 1;
}

export async function recordScan(
  db: Queryable,
  scan: { day: string; series: number; anomalies: number },
): Promise<void> {
  await db.query(
    `INSERT INTO anomaly_scans (day, series, anomalies) VALUES ($1, $2, $3)
     ON CONFLICT (day) DO UPDATE SET series = EXCLUDED.series, anomalies = EXCLUDED.anomalies, scanned_at = now()`,
    [scan.day, scan.series, scan.anomalies],
  );
}

export interface PendingDelivery {
  readonly anomalyId: string;
  readonly target: string;
  readonly url: string;
  readonly attempts: number;
  readonly anomaly: AnomalyRecord;
}

export async function pendingDeliveries(db: Queryable, limit: number): Promise<PendingDelivery[]> {
  const { rows } = await db.query<AnomalyRow & { target: string; url: string; attempts: number }>(
    `SELECT a.*, to_char(a.day, 'YYYY-MM-DD') AS day, d.target, d.url, d.attempts
       FROM anomaly_deliveries d JOIN anomalies a USING (anomaly_id)
      WHERE d.delivered_at IS NULL AND d.last_error IS DISTINCT FROM 'refused'
      ORDER BY d.created_at, d.anomaly_id, d.target LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({
    anomalyId: row.anomaly_id,
    target: row.target,
    url: row.url,
    attempts: row.attempts,
    anomaly: rowToAnomaly(row),
  }));
}

/** One attempt: delivered when `error` is undefined; `refused` marks a target that will never take it (a 4xx). */
export async function recordDeliveryAttempt(
  db: Queryable,
  delivery: { anomalyId: string; target: string },
  error: string | undefined,
): Promise<void> {
  await db.query(
    `UPDATE anomaly_deliveries SET attempts = attempts + 1, last_error = $3,
            delivered_at = CASE WHEN $3::text IS NULL THEN now() ELSE delivered_at END
      WHERE anomaly_id = $1 AND target = $2`,
    [delivery.anomalyId, delivery.target, error ?? null],
  );
}

interface AnomalyRow {
  anomaly_id: string;
  metric: 'usage' | 'cogs';
  customer_id: string | null;
  sku: string;
  day: Date | string;
  kind: 'spike' | 'drop' | 'silence';
  value: string;
  expected: string;
  lower_bound: string;
  upper_bound: string;
  score: number;
  severity: 'low' | 'medium' | 'high';
  currency: string | null;
  status: 'open' | 'acknowledged';
  snoozed_until: Date | null;
  action: string | null;
  note: string | null;
  updated_by: string | null;
  suppressed: string | null;
  detected_at: Date;
}

export interface AnomalyRecord extends AnomalyRecordInput {
  readonly status: 'open' | 'acknowledged';
  readonly snoozedUntil: string | undefined;
  readonly action: string | undefined;
  readonly note: string | undefined;
  readonly updatedBy: string | undefined;
  readonly suppressed: string | undefined;
  readonly detectedAt: string;
}

function rowToAnomaly(row: AnomalyRow): AnomalyRecord {
  return {
    anomalyId: row.anomaly_id,
    metric: row.metric,
    customerId: row.customer_id,
    sku: row.sku,
    day: typeof row.day === 'string' ? row.day : row.day.toISOString().slice(0, 10),
    kind: row.kind,
    value: row.value,
    expected: row.expected,
    lower: row.lower_bound,
    upper: row.upper_bound,
    score: row.score,
    severity: row.severity,
    currency: row.currency,
    status: row.status,
    snoozedUntil: row.snoozed_until?.toISOString(),
    action: row.action ?? undefined,
    note: row.note ?? undefined,
    updatedBy: row.updated_by ?? undefined,
    suppressed: row.suppressed ?? undefined,
    detectedAt: row.detected_at.toISOString(),
  };
}

export interface AnomalyDeliveryRecord {
  readonly target: string;
  readonly attempts: number;
  readonly deliveredAt: string | undefined;
  readonly lastError: string | undefined;
}

export interface AnomalyListFilter {
  readonly from?: string;
  readonly to?: string;
  readonly customerId?: string;
  readonly sku?: string;
  readonly status?: 'open' | 'acknowledged';
}

export async function listAnomalies(
  db: Queryable,
  filter: AnomalyListFilter,
  limit = 1000,
): Promise<(AnomalyRecord & { deliveries: AnomalyDeliveryRecord[] })[]> {
  const { rows } = await db.query<AnomalyRow & { deliveries: AnomalyDeliveryJson[] }>(
    `SELECT a.*, to_char(a.day, 'YYYY-MM-DD') AS day,
            coalesce((SELECT jsonb_agg(jsonb_build_object('target', d.target, 'attempts', d.attempts,
                              'delivered_at', d.delivered_at, 'last_error', d.last_error) ORDER BY d.target)
                        FROM anomaly_deliveries d WHERE d.anomaly_id = a.anomaly_id), '[]') AS deliveries
       FROM anomalies a
      WHERE ($1::date IS NULL OR a.day >= $1::date) AND ($2::date IS NULL OR a.day <= $2::date)
        AND ($3::text IS NULL OR a.customer_id = $3) AND ($4::text IS NULL OR a.sku = $4)
        AND ($5::text IS NULL OR a.status = $5)
      ORDER BY a.day, a.metric, a.customer_id NULLS FIRST, a.sku
      LIMIT $6`,
    [
      filter.from ?? null,
      filter.to ?? null,
      filter.customerId ?? null,
      filter.sku ?? null,
      filter.status ?? null,
      limit,
    ],
  );
  return rows.map((row) => ({
    ...rowToAnomaly(row),
    deliveries: row.deliveries.map((delivery) => ({
      target: delivery.target,
      attempts: delivery.attempts,
      deliveredAt: delivery.delivered_at === null ? undefined : new Date(delivery.delivered_at).toISOString(),
      lastError: delivery.last_error ?? undefined,
    })),
  }));
}

interface AnomalyDeliveryJson {
  target: string;
  attempts: number;
  delivered_at: string | null;
  last_error: string | null;
}

/**
 * What a person does with an anomaly: acknowledge it, snooze its series until an instant (anomalies of
 * the series found for days before then are recorded but not alerted), and write the action taken.
 * Returns the updated record, or undefined for an unknown id.
 */
export async function updateAnomaly(
  db: Queryable,
  anomalyId: string,
  change: { acknowledge?: boolean; snoozedUntil?: string; action?: string; note?: string; by: string },
): Promise<AnomalyRecord | undefined> {
  const { rows } = await db.query<AnomalyRow>(
    `UPDATE anomalies
        SET status = CASE WHEN $2 THEN 'acknowledged' ELSE status END,
            snoozed_until = coalesce($3::timestamptz, snoozed_until),
            action = coalesce($4, action),
            note = coalesce($5, note),
            updated_by = $6, updated_at = now()
      WHERE anomaly_id = $1
      RETURNING *, to_char(day, 'YYYY-MM-DD') AS day`,
    [
      anomalyId,
      change.acknowledge === true,
      change.snoozedUntil ?? null,
      change.action ?? null,
      change.note ?? null,
      change.by,
    ],
  );
  const row = rows[0];
  return row === undefined ? undefined : rowToAnomaly(row);
}
