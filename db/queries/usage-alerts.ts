import type pg from 'pg';
import type {
  NotifiedThreshold,
  RunningTotal,
  UsageAlertBasis,
  UsageAlertThresholdPct,
} from '../../domain/usage-alerts/index.ts';
import { ADVISORY_LOCKS } from '../advisory-locks.ts';

type Queryable = pg.Pool | pg.ClientBase;

/** A customer-period's running totals (ingest keeps them in the events' transaction). */
export interface CustomerPeriodTotals {
  readonly totals: RunningTotal[];
  /** Σ event_count, a bigint as a decimal string. */
  readonly eventCount: string;
  /** The latest change (max updated_at), ISO 8601; undefined without totals. */
  readonly updatedThrough: string | undefined;
}

/** One statement, so one consistent reading of every (sku, unit) row of the customer-period. */
export async function loadRunningTotals(
  db: Queryable,
  customerId: string,
  period: string,
): Promise<CustomerPeriodTotals> {
  const { rows } = await db.query<{
    sku: string;
    unit: string;
    event_count: string;
    quantity_sum: string;
    updated_at: Date;
  }>(
    `SELECT sku, unit, event_count::text AS event_count, quantity_sum::text AS quantity_sum, updated_at
       FROM usage_running_totals WHERE customer_id = $1 AND period = $2
      ORDER BY sku COLLATE "C", unit COLLATE "C"`,
    [customerId, period],
  );
  let eventCount = 0n;
  let updatedThrough: Date | undefined;
  const totals = rows.map((row): RunningTotal => {
    eventCount += BigInt(row.event_count);
    if (updatedThrough === undefined || row.updated_at > updatedThrough) updatedThrough = row.updated_at;
    const count = Number.parseInt(row.event_count, 10);
    if (!Number.isSafeInteger(count))
      throw new Error(
        `running total ${customerId}/${period}/${row.sku} counts ${row.event_count} events, beyond what a count can hold`,
      );
    return { sku: row.sku, unit: row.unit, eventCount: count, quantitySum: row.quantity_sum };
  });
  return { totals, eventCount: eventCount.toString(), updatedThrough: updatedThrough?.toISOString() };
}

export interface ChangedCustomerPeriod {
  readonly customerId: string;
  readonly period: string;
  /** Σ event_count now (decimal string). */
  readonly eventCount: string;
}

/**
 * Customer-periods whose running totals changed since their last alert check: among those with a
 * row updated at or after `since` (all of them when `since` is undefined), the ones whose Σ
 * event_count differs from the checked one. A full scan (no `since`) also returns the skipped ones
 * (no usable contract then), so a start-up sees contract files added since. Periods already closed
 * for ingest are left out: their invoice is the exact figure (and late usage is an adjustment on the
 * next one). Oldest period first.
 */
export async function listChangedCustomerPeriods(
  db: Queryable,
  options: { since: string | undefined; limit: number },
): Promise<ChangedCustomerPeriod[]> {
  const { rows } = await db.query<{ customer_id: string; period: string; event_count: string }>(
    `WITH touched AS (
       SELECT DISTINCT customer_id, period FROM usage_running_totals
        WHERE $1::timestamptz IS NULL OR updated_at >= $1::timestamptz
     ), current AS (
       SELECT t.customer_id, t.period, sum(t.event_count) AS event_count
         FROM usage_running_totals t JOIN touched USING (customer_id, period)
        GROUP BY t.customer_id, t.period
     )
     SELECT current.customer_id, current.period, current.event_count::text AS event_count
       FROM current LEFT JOIN usage_alert_checks checks USING (customer_id, period)
      WHERE (checks.checked_event_count IS DISTINCT FROM current.event_count
             OR ($1::timestamptz IS NULL AND checks.skipped_reason IS NOT NULL))
        AND NOT EXISTS (SELECT 1 FROM period_closures closed
                         WHERE closed.customer_id = current.customer_id AND closed.period = current.period)
      ORDER BY current.period, current.customer_id COLLATE "C"
      LIMIT $2`,
    [options.since ?? null, options.limit],
  );
  return rows.map((row) => ({ customerId: row.customer_id, period: row.period, eventCount: row.event_count }));
}

/** The database's clock minus `slackMs`, ISO 8601: where the next scan of changed totals starts. */
export async function totalsScanStart(db: Queryable, slackMs: number): Promise<string> {
  const { rows } = await db.query<{ start: Date }>(
    `SELECT now() - make_interval(secs => $1::double precision / 1000) AS start`,
    [slackMs],
  );
  return (rows[0] as { start: Date }).start.toISOString();
}

/** Serialises alert checks of one customer-period until the caller's transaction ends. */
export async function lockUsageAlertCheck(client: pg.ClientBase, customerId: string, period: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    ADVISORY_LOCKS.USAGE_ALERT_CHECK,
    `${customerId}:${period}`,
  ]);
}

export async function recordedThresholds(
  db: Queryable,
  customerId: string,
  period: string,
): Promise<NotifiedThreshold[]> {
  const { rows } = await db.query<{ basis: UsageAlertBasis; threshold_pct: number }>(
    'SELECT basis, threshold_pct FROM usage_alerts WHERE customer_id = $1 AND period = $2 ORDER BY basis, threshold_pct',
    [customerId, period],
  );
  return rows.map((row) => ({ basis: row.basis, thresholdPct: row.threshold_pct as UsageAlertThresholdPct }));
}

export interface NewUsageAlert {
  readonly customerId: string;
  readonly period: string;
  readonly basis: UsageAlertBasis;
  readonly thresholdPct: UsageAlertThresholdPct;
  readonly usageValue: string;
  readonly referenceAmount: string;
  readonly currency: string;
  readonly valuation: 'exact' | 'estimate';
  readonly eventCount: string;
  readonly notificationKey: string;
}

/** Records a crossing once (the notification row must exist: same transaction, written first). */
export async function insertUsageAlert(db: Queryable, alert: NewUsageAlert): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO usage_alerts (customer_id, period, basis, threshold_pct, usage_value, reference_amount, currency, valuation, event_count, notification_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (customer_id, period, basis, threshold_pct) DO NOTHING`,
    [
      alert.customerId,
      alert.period,
      alert.basis,
      alert.thresholdPct,
      alert.usageValue,
      alert.referenceAmount,
      alert.currency,
      alert.valuation,
      alert.eventCount,
      alert.notificationKey,
    ],
  );
  return result.rowCount === 1;
}

export type UsageAlertCheckRecord =
  | {
      readonly customerId: string;
      readonly period: string;
      readonly eventCount: string;
      readonly checkedThrough: string;
      readonly outcome: {
        readonly usageValue: string;
        readonly currency: string;
        readonly valuation: 'exact' | 'estimate';
      };
    }
  | {
      readonly customerId: string;
      readonly period: string;
      readonly eventCount: string;
      readonly checkedThrough: string;
      readonly skippedReason: string;
    };

/** Moves the customer-period's watermark forward (never back: a slower check of older totals leaves it). */
export async function recordUsageAlertCheck(db: Queryable, check: UsageAlertCheckRecord): Promise<void> {
  const outcome = 'outcome' in check ? check.outcome : undefined;
  await db.query(
    `INSERT INTO usage_alert_checks (customer_id, period, checked_event_count, checked_through, usage_value, currency, valuation, skipped_reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (customer_id, period) DO UPDATE
       SET checked_event_count = excluded.checked_event_count, checked_through = excluded.checked_through,
           usage_value = excluded.usage_value, currency = excluded.currency, valuation = excluded.valuation,
           skipped_reason = excluded.skipped_reason, checked_at = now()
     WHERE usage_alert_checks.checked_event_count <= excluded.checked_event_count`,
    [
      check.customerId,
      check.period,
      check.eventCount,
      check.checkedThrough,
      outcome?.usageValue ?? null,
      outcome?.currency ?? null,
      outcome?.valuation ?? null,
      'skippedReason' in check ? check.skippedReason : null,
    ],
  );
}

/** A recorded crossing: what was recorded, when, and how its webhook delivery went. */
export interface UsageAlertRecord extends NewUsageAlert {
  readonly crossedAt: string;
  /** When the webhook accepted it; undefined while it is still to be delivered. */
  readonly deliveredAt: string | undefined;
  readonly deliveryAttempts: number;
  readonly lastDeliveryError: string | undefined;
}

export async function listUsageAlerts(
  db: Queryable,
  filter: { customerId?: string; period?: string } = {},
): Promise<UsageAlertRecord[]> {
  const { rows } = await db.query<{
    customer_id: string;
    period: string;
    basis: UsageAlertBasis;
    threshold_pct: number;
    usage_value: string;
    reference_amount: string;
    currency: string;
    valuation: 'exact' | 'estimate';
    event_count: string;
    crossed_at: Date;
    notification_key: string;
    delivered_at: Date | null;
    attempts: number;
    last_error: string | null;
  }>(
    `SELECT a.customer_id, a.period, a.basis, a.threshold_pct, a.usage_value::text AS usage_value, a.reference_amount::text AS reference_amount,
            a.currency, a.valuation, a.event_count::text AS event_count, a.crossed_at, a.notification_key,
            n.delivered_at, n.attempts, n.last_error
       FROM usage_alerts a JOIN notifications n USING (notification_key)
      WHERE ($1::text IS NULL OR a.customer_id = $1) AND ($2::text IS NULL OR a.period = $2)
      ORDER BY a.period, a.customer_id COLLATE "C", a.basis, a.threshold_pct`,
    [filter.customerId ?? null, filter.period ?? null],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    period: row.period,
    basis: row.basis,
    thresholdPct: row.threshold_pct as UsageAlertThresholdPct,
    usageValue: row.usage_value,
    referenceAmount: row.reference_amount,
    currency: row.currency,
    valuation: row.valuation,
    eventCount: row.event_count,
    crossedAt: row.crossed_at.toISOString(),
    notificationKey: row.notification_key,
    deliveredAt: row.delivered_at?.toISOString(),
    deliveryAttempts: row.attempts,
    lastDeliveryError: row.last_error ?? undefined,
  }));
}
