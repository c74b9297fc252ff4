import type pg from 'pg';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * Each customer's daily value of the product-signal SKUs (`skus`) over `fromDay`..`toDay` (UTC days,
 * inclusive): the mean of the day's reported quantities. Events read as stored (the partition index on
 * `(customer_id, event_time)` and the time range bound the scan).
 */
export async function productSignalDays(
  db: Queryable,
  range: { fromDay: string; toDay: string },
  skus: readonly string[],
  customerId?: string,
): Promise<{ customerId: string; sku: string; unit: string; day: string; value: string }[]> {
  if (skus.length === 0) return [];
  const { rows } = await db.query<{ customer_id: string; sku: string; unit: string; day: string; value: string }>(
    `SELECT customer_id, sku, unit, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
            avg(quantity)::text AS value
       FROM usage_events
      WHERE event_time >= ($1::date)::timestamp AT TIME ZONE 'UTC'
        AND event_time < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
        AND sku = ANY($3::text[])
        AND ($4::text IS NULL OR customer_id = $4)
      GROUP BY customer_id, sku, unit, day
      ORDER BY customer_id, sku, unit, day`,
    [range.fromDay, range.toDay, skus, customerId ?? null],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    sku: row.sku,
    unit: row.unit,
    day: row.day,
    value: row.value,
  }));
}

/** The usage-alert thresholds reached in `period` (quota hits), per customer and basis. */
export async function quotaHits(
  db: Queryable,
  period: string,
): Promise<{ customerId: string; period: string; basis: 'commit' | 'prepaid'; thresholdPct: number }[]> {
  const { rows } = await db.query<{
    customer_id: string;
    period: string;
    basis: 'commit' | 'prepaid';
    threshold_pct: number;
  }>(
    `SELECT customer_id, period, basis, threshold_pct FROM usage_alerts WHERE period = $1
      ORDER BY customer_id COLLATE "C", basis, threshold_pct`,
    [period],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    period: row.period,
    basis: row.basis,
    thresholdPct: row.threshold_pct,
  }));
}
