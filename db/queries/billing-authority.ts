import type pg from 'pg';
import type { BillingAuthority } from '../../contracts/contract.ts';
import { ADVISORY_LOCKS } from '../advisory-locks.ts';

/**
 * Cutover by cohort (migration 0360): the flips of a customer's billing authority and the authority
 * each live close used. Both writers take the customer's authority lock, so a close decides either
 * before a flip or after it, never in between.
 */

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export interface AuthorityFlip {
  readonly flipId: string;
  readonly customerId: string;
  readonly authority: BillingAuthority;
  readonly previous: BillingAuthority;
  readonly reason: string;
  readonly operator: string;
  readonly flippedAt: string;
}

export interface PeriodAuthority {
  readonly customerId: string;
  readonly period: string;
  readonly authority: BillingAuthority;
  readonly decidedFrom: 'flip' | 'contract' | 'default';
  readonly flipId: string | undefined;
  readonly invoiceId: string;
  readonly decidedAt: string;
}

interface FlipRow {
  flip_id: string;
  customer_id: string;
  authority: BillingAuthority;
  previous: BillingAuthority;
  reason: string;
  operator: string;
  flipped_at: Date;
}

function flipRowToFlip(row: FlipRow): AuthorityFlip {
  return {
    flipId: row.flip_id,
    customerId: row.customer_id,
    authority: row.authority,
    previous: row.previous,
    reason: row.reason,
    operator: row.operator,
    flippedAt: row.flipped_at.toISOString(),
  };
}

interface PeriodAuthorityRow {
  customer_id: string;
  period: string;
  authority: BillingAuthority;
  decided_from: PeriodAuthority['decidedFrom'];
  flip_id: string | null;
  invoice_id: string;
  decided_at: Date;
}

function periodAuthorityRowToRecord(row: PeriodAuthorityRow): PeriodAuthority {
  return {
    customerId: row.customer_id,
    period: row.period,
    authority: row.authority,
    decidedFrom: row.decided_from,
    flipId: row.flip_id ?? undefined,
    invoiceId: row.invoice_id,
    decidedAt: row.decided_at.toISOString(),
  };
}

/** Serialises flips and period decisions of one customer until the caller's transaction ends. */
export async function lockCustomerAuthority(client: pg.PoolClient, customerId: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADVISORY_LOCKS.BILLING_AUTHORITY, customerId]);
}

/** The customer's newest flip, if any was ever recorded. */
export async function latestAuthorityFlip(db: Queryable, customerId: string): Promise<AuthorityFlip | undefined> {
  const { rows } = await db.query<FlipRow>(
    `SELECT flip_id::text AS flip_id, customer_id, authority, previous, reason, operator, flipped_at
       FROM billing_authority_flips WHERE customer_id = $1 ORDER BY flip_id DESC LIMIT 1`,
    [customerId],
  );
  return rows[0] === undefined ? undefined : flipRowToFlip(rows[0]);
}

/** Every flip, newest first (of some customers, when given). */
export async function listAuthorityFlips(db: Queryable, customerIds?: readonly string[]): Promise<AuthorityFlip[]> {
  const { rows } = await db.query<FlipRow>(
    `SELECT flip_id::text AS flip_id, customer_id, authority, previous, reason, operator, flipped_at
       FROM billing_authority_flips WHERE ($1::text[] IS NULL OR customer_id = ANY($1))
      ORDER BY flip_id DESC`,
    [customerIds === undefined ? null : [...customerIds]],
  );
  return rows.map(flipRowToFlip);
}

export async function insertAuthorityFlip(
  client: pg.PoolClient,
  flip: {
    customerId: string;
    authority: BillingAuthority;
    previous: BillingAuthority;
    reason: string;
    operator: string;
    readiness: Record<string, unknown>;
  },
): Promise<AuthorityFlip> {
  const { rows } = await client.query<FlipRow>(
    `INSERT INTO billing_authority_flips (customer_id, authority, previous, reason, operator, readiness)
     VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING flip_id::text AS flip_id, customer_id, authority, previous, reason, operator, flipped_at`,
    [flip.customerId, flip.authority, flip.previous, flip.reason, flip.operator, JSON.stringify(flip.readiness)],
  );
  return flipRowToFlip(rows[0] as FlipRow);
}

/** The authority a customer-period's close used, once decided. */
export async function findPeriodAuthority(
  db: Queryable,
  customerId: string,
  period: string,
): Promise<PeriodAuthority | undefined> {
  const { rows } = await db.query<PeriodAuthorityRow>(
    `SELECT customer_id, period, authority, decided_from, flip_id::text AS flip_id, invoice_id, decided_at
       FROM period_billing_authorities WHERE customer_id = $1 AND period = $2`,
    [customerId, period],
  );
  return rows[0] === undefined ? undefined : periodAuthorityRowToRecord(rows[0]);
}

/** Records the period's authority unless one is recorded; returns the one that stands. */
export async function recordPeriodAuthority(
  client: pg.PoolClient,
  decision: Omit<PeriodAuthority, 'decidedAt'>,
): Promise<PeriodAuthority> {
  await client.query(
    `INSERT INTO period_billing_authorities (customer_id, period, authority, decided_from, flip_id, invoice_id)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (customer_id, period) DO NOTHING`,
    [
      decision.customerId,
      decision.period,
      decision.authority,
      decision.decidedFrom,
      decision.flipId ?? null,
      decision.invoiceId,
    ],
  );
  return (await findPeriodAuthority(client, decision.customerId, decision.period)) as PeriodAuthority;
}

/** The periods whose close used each authority, per customer: the newest of each (what each biller last billed). */
export async function lastPeriodsByAuthority(
  db: Queryable,
  customerIds: readonly string[],
): Promise<Map<string, { legacy: string | undefined; tally: string | undefined }>> {
  const { rows } = await db.query<{ customer_id: string; legacy: string | null; tally: string | null }>(
    `SELECT customer_id, max(period) FILTER (WHERE authority = 'legacy') AS legacy,
            max(period) FILTER (WHERE authority = 'tally') AS tally
       FROM period_billing_authorities WHERE customer_id = ANY($1) GROUP BY customer_id`,
    [[...customerIds]],
  );
  return new Map(
    rows.map((row) => [row.customer_id, { legacy: row.legacy ?? undefined, tally: row.tally ?? undefined }]),
  );
}
