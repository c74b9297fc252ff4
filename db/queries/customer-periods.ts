import type pg from 'pg';

/**
 * The outbox of period workflows (`customer_periods`): which customer-periods exist, how they were
 * opened (usage, a contract, an explicit close), whether their workflow started, and how they ended.
 */

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** `legacy`: the legacy biller had the billing authority; Tally rated the period and issued nothing. */
export type PeriodOutcome = 'issued' | 'held' | 'skipped' | 'legacy';

/** Records the customer-period if no one has (a close asked for by name, not opened by usage or a contract). */
export async function ensureCustomerPeriod(db: Queryable, customerId: string, period: string): Promise<void> {
  await db.query(
    `INSERT INTO customer_periods (customer_id, period, opened_by, workflow_started_at) VALUES ($1, $2, 'close', now())
     ON CONFLICT (customer_id, period) DO NOTHING`,
    [customerId, period],
  );
}

/**
 * The customer's latest issued period, if any: its credit draws are recorded, so credits that expired
 * by its end may lapse (a re-run of an earlier held period issues after it).
 */
export async function lastIssuedPeriod(db: Queryable, customerId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ period: string | null }>(
    `SELECT max(period) AS period FROM customer_periods WHERE customer_id = $1 AND outcome = 'issued'`,
    [customerId],
  );
  return rows[0]?.period ?? undefined;
}

/** The customer's earlier periods that have no outcome yet: a later period waits for them. */
export async function earlierOpenPeriods(db: Queryable, customerId: string, period: string): Promise<string[]> {
  const { rows } = await db.query<{ period: string }>(
    `SELECT period FROM customer_periods WHERE customer_id = $1 AND period < $2 AND outcome IS NULL ORDER BY period`,
    [customerId, period],
  );
  return rows.map((row) => row.period);
}

/** How the period ended; the first outcome recorded stands. */
export async function recordPeriodOutcome(
  db: Queryable,
  customerId: string,
  period: string,
  outcome: PeriodOutcome,
): Promise<void> {
  await db.query(
    `INSERT INTO customer_periods (customer_id, period, opened_by, workflow_started_at, outcome, outcome_at)
     VALUES ($1, $2, 'close', now(), $3, now())
     ON CONFLICT (customer_id, period) DO UPDATE SET outcome = EXCLUDED.outcome, outcome_at = EXCLUDED.outcome_at
      WHERE customer_periods.outcome IS NULL`,
    [customerId, period, outcome],
  );
}

/** A held period being re-run is open again: its re-run records the outcome that stands now. */
export async function reopenHeldPeriod(db: Queryable, customerId: string, period: string): Promise<void> {
  await db.query(
    `UPDATE customer_periods SET outcome = NULL, outcome_at = NULL WHERE customer_id = $1 AND period = $2 AND outcome = 'held'`,
    [customerId, period],
  );
}

/** The outcome a customer-period ended with, if it has one. */
export async function periodOutcome(
  db: Queryable,
  customerId: string,
  period: string,
): Promise<PeriodOutcome | undefined> {
  const { rows } = await db.query<{ outcome: PeriodOutcome | null }>(
    'SELECT outcome FROM customer_periods WHERE customer_id = $1 AND period = $2',
    [customerId, period],
  );
  return rows[0]?.outcome ?? undefined;
}

/**
 * Opens every period each current contract is active in (SPEC §3), from its start (or the month of
 * its first publication) through the month of `now`, but none that ended more than
 * `backdatePeriods` months before the contract was first published: a mistyped start year must
 * not bill years of fees unattended (those periods can still be closed by name). Returns how many
 * periods it added.
 */
export async function openContractPeriods(db: Queryable, now: string, backdatePeriods: number): Promise<number> {
  const result = await db.query(
    `INSERT INTO customer_periods (customer_id, period, opened_by)
     SELECT c.customer_id, to_char(month, 'YYYY-MM'), 'contract'
       FROM current_contracts c
      CROSS JOIN LATERAL generate_series(
              greatest(
                date_trunc('month', coalesce(c.starts_at, c.first_published_at) AT TIME ZONE 'UTC'),
                date_trunc('month', c.first_published_at AT TIME ZONE 'UTC') - make_interval(months => $2)),
              date_trunc('month', least(coalesce(c.ends_at - interval '1 microsecond', $1::timestamptz), $1::timestamptz) AT TIME ZONE 'UTC'),
              interval '1 month') AS month
      WHERE coalesce(c.starts_at, c.first_published_at) <= $1::timestamptz
        AND (c.ends_at IS NULL OR c.ends_at > coalesce(c.starts_at, c.first_published_at))
     ON CONFLICT (customer_id, period) DO NOTHING`,
    [now, backdatePeriods],
  );
  return result.rowCount ?? 0;
}

/** Customer-periods whose workflow has not been started, oldest period first. */
export async function unstartedCustomerPeriods(
  db: Queryable,
  limit: number,
): Promise<{ customerId: string; period: string }[]> {
  const { rows } = await db.query<{ customer_id: string; period: string }>(
    `SELECT customer_id, period FROM customer_periods WHERE workflow_started_at IS NULL ORDER BY period, customer_id LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({ customerId: row.customer_id, period: row.period }));
}

export async function markWorkflowStarted(db: Queryable, customerId: string, period: string): Promise<void> {
  await db.query(
    'UPDATE customer_periods SET workflow_started_at = now() WHERE customer_id = $1 AND period = $2 AND workflow_started_at IS NULL',
    [customerId, period],
  );
}
