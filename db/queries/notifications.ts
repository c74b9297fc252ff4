import type pg from 'pg';

export interface NotificationRecord {
  readonly notificationKey: string;
  readonly kind: string;
  readonly customerId: string;
  readonly period: string;
  readonly payload: Record<string, unknown>;
  readonly deliveredAt: string | undefined;
  readonly attempts: number;
}

/**
 * Records a notification once per key (e.g. `escalation:<exception>`, `usage_alert:<customer>:<period>:commit:75`).
 * Takes a pool, or a client inside the caller's transaction (the fact it announces commits with it).
 */
export async function enqueueNotification(
  db: pg.Pool | pg.ClientBase,
  notification: Pick<NotificationRecord, 'notificationKey' | 'kind' | 'customerId' | 'period' | 'payload'>,
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO notifications (notification_key, kind, customer_id, period, payload) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (notification_key) DO NOTHING`,
    [
      notification.notificationKey,
      notification.kind,
      notification.customerId,
      notification.period,
      JSON.stringify(notification.payload),
    ],
  );
  return result.rowCount === 1;
}

export async function findNotification(
  pool: pg.Pool,
  notificationKey: string,
): Promise<NotificationRecord | undefined> {
  const { rows } = await pool.query<{
    notification_key: string;
    kind: string;
    customer_id: string;
    period: string;
    payload: Record<string, unknown>;
    delivered_at: Date | null;
    attempts: number;
  }>('SELECT * FROM notifications WHERE notification_key = $1', [notificationKey]);
  const row = rows[0];
  return row === undefined
    ? undefined
    : {
        notificationKey: row.notification_key,
        kind: row.kind,
        customerId: row.customer_id,
        period: row.period,
        payload: row.payload,
        deliveredAt: row.delivered_at?.toISOString(),
        attempts: row.attempts,
      };
}

export async function recordDeliveryAttempt(
  pool: pg.Pool,
  notificationKey: string,
  error: string | undefined,
): Promise<void> {
  await pool.query(
    `UPDATE notifications SET attempts = attempts + 1, last_error = $2,
            delivered_at = CASE WHEN $2::text IS NULL THEN now() ELSE delivered_at END
      WHERE notification_key = $1`,
    [notificationKey, error ?? null],
  );
}

/** Notifications whose webhook delivery has not succeeded yet, oldest first. */
export async function listUndeliveredNotifications(pool: pg.Pool, limit: number): Promise<NotificationRecord[]> {
  const { rows } = await pool.query<{
    notification_key: string;
    kind: string;
    customer_id: string;
    period: string;
    payload: Record<string, unknown>;
    delivered_at: Date | null;
    attempts: number;
  }>('SELECT * FROM notifications WHERE delivered_at IS NULL ORDER BY created_at, notification_key LIMIT $1', [limit]);
  return rows.map((row) => ({
    notificationKey: row.notification_key,
    kind: row.kind,
    customerId: row.customer_id,
    period: row.period,
    payload: row.payload,
    deliveredAt: undefined,
    attempts: row.attempts,
  }));
}
