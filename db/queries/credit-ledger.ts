import pg from 'pg';
import type { CreditConsumption, CreditGrant, CreditKind } from '../../domain/credit-ledger/index.ts';
import { Decimal } from '../../domain/money.ts';
import { withTransaction } from '../pool.ts';
import type { Queryable } from './journal.ts';
import { TallyError } from '../../contracts/tally-error.ts';

type CreditLedgerWriteErrorCode =
  | 'credit_grant_conflict'
  | 'credit_movement_conflict'
  | 'credit_grant_not_found'
  | 'credit_overdrawn'
  | 'credit_not_usable'
  | 'credit_expired'
  | 'invalid_credit_movement'
  | 'credit_currency_mismatch';

/** A write the credit ledger refuses. Every code is permanent: retrying the same write cannot succeed. */
class CreditLedgerWriteError extends TallyError {
  declare readonly code: CreditLedgerWriteErrorCode;
  constructor(code: CreditLedgerWriteErrorCode, message: string) {
    super(code, message, { permanent: true });
  }
}

/** The database's refusals (constraint names from db/migrations/0051) as ledger errors. */
function translate(error: unknown, what: string): unknown {
  if (!(error instanceof pg.DatabaseError)) return error;
  switch (error.constraint) {
    case 'credit_balance_never_negative':
      return new CreditLedgerWriteError('credit_overdrawn', `${what}: draws more than the credit's remaining balance`);
    case 'credit_usable_in_period':
      return new CreditLedgerWriteError('credit_not_usable', `${what}: ${error.message}`);
    case 'credit_not_expired':
      return new CreditLedgerWriteError('credit_expired', `${what}: ${error.message}`);
    case 'credit_movement_currency':
      return new CreditLedgerWriteError('credit_currency_mismatch', `${what}: ${error.message}`);
    default:
      if (error.code === '23503')
        return new CreditLedgerWriteError('credit_grant_not_found', `${what}: no such grant in the credit ledger`);
      return error;
  }
}

export interface RecordGrantsResult {
  readonly recorded: string[];
  readonly existing: string[];
}

/**
 * Inserts one credit grant and its `grant` movement (the balance starts at the amount), idempotent by
 * (customer_id, credit_id), inside the caller's transaction. Returns false when the grant was already
 * recorded with the same terms; refuses one whose terms changed (`credit_grant_conflict`): grants are
 * fixed once recorded, a change is a new grant id. (The unit of work, with the journal entry of a
 * prepaid grant, is activities/credit-ledger.ts.)
 */
export async function insertCreditGrant(
  client: pg.ClientBase,
  input: { customerId: string; currency: string; grant: CreditGrant },
): Promise<boolean> {
  const { grant } = input;
  const inserted = await client.query(
    `INSERT INTO credit_grants (customer_id, credit_id, kind, currency, amount, consideration_paid, granted_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (customer_id, credit_id) DO NOTHING
     RETURNING credit_id`,
    [
      input.customerId,
      grant.id,
      grant.kind,
      input.currency,
      grant.amount,
      grant.consideration_paid ?? null,
      grant.granted_at,
      grant.expires_at ?? null,
    ],
  );
  if (inserted.rowCount === 0) {
    await assertSameGrant(client, input.customerId, input.currency, grant);
    return false;
  }
  await client.query(
    `INSERT INTO credit_movements (customer_id, credit_id, kind, currency, amount) VALUES ($1, $2, 'grant', $3, $4)`,
    [input.customerId, grant.id, input.currency, grant.amount],
  );
  return true;
}

async function assertSameGrant(
  client: pg.ClientBase,
  customerId: string,
  currency: string,
  grant: CreditGrant,
): Promise<void> {
  const { rows } = await client.query<{ same: boolean }>(
    `SELECT (kind = $3 AND currency = $4 AND amount = $5::numeric AND consideration_paid IS NOT DISTINCT FROM $6::numeric
             AND granted_at = $7::timestamptz AND expires_at IS NOT DISTINCT FROM $8::timestamptz) AS same
       FROM credit_grants WHERE customer_id = $1 AND credit_id = $2`,
    [
      customerId,
      grant.id,
      grant.kind,
      currency,
      grant.amount,
      grant.consideration_paid ?? null,
      grant.granted_at,
      grant.expires_at ?? null,
    ],
  );
  if (rows[0]?.same !== true) {
    throw new CreditLedgerWriteError(
      'credit_grant_conflict',
      `credit ${customerId}/${grant.id} is already recorded with different terms; grants are fixed once recorded (issue a new credit id)`,
    );
  }
}

export interface RecordConsumptionsResult {
  readonly recorded: number;
  readonly existing: number;
}

/**
 * Records an issued invoice's draws (`creditMovementsFromInvoice(invoice)`) in one transaction.
 * Keyed by (customer_id, credit_id, invoice_id): a retry never draws twice; the same key with a
 * different amount is refused (`credit_movement_conflict`). The database refuses a draw beyond the
 * remaining balance (`credit_overdrawn`, also when two draws race), on a credit not usable in the
 * invoice's period (`credit_not_usable`) or already expired (`credit_expired`).
 */
export async function recordCreditConsumptions(
  pool: pg.Pool,
  consumptions: readonly CreditConsumption[],
): Promise<RecordConsumptionsResult> {
  return withTransaction(pool, async (client) => {
    let recorded = 0;
    let existing = 0;
    // Lock grants in one order (by credit id) so two invoices drawing on the same credits cannot deadlock.
    const ordered = [...consumptions].sort(
      (a, b) => compareCodeUnits(a.customer_id, b.customer_id) || compareCodeUnits(a.credit_id, b.credit_id),
    );
    for (const consumption of ordered) {
      const what = `credit ${consumption.customer_id}/${consumption.credit_id} on invoice ${consumption.invoice_id}`;
      if (!new Decimal(consumption.amount).isNegative() || new Decimal(consumption.amount).isZero()) {
        throw new CreditLedgerWriteError(
          'invalid_credit_movement',
          `${what}: a consumption must be negative, got ${consumption.amount}`,
        );
      }
      let insertedRows: number;
      try {
        const inserted = await client.query(
          `INSERT INTO credit_movements (customer_id, credit_id, kind, currency, amount, invoice_id, period, line_key)
           VALUES ($1, $2, 'consumption', $3, $4, $5, $6, $7)
           ON CONFLICT (customer_id, credit_id, kind, invoice_id) DO NOTHING`,
          [
            consumption.customer_id,
            consumption.credit_id,
            consumption.currency,
            consumption.amount,
            consumption.invoice_id,
            consumption.period,
            consumption.line_key,
          ],
        );
        insertedRows = inserted.rowCount ?? 0;
      } catch (error) {
        throw translate(error, what);
      }
      if (insertedRows === 1) {
        recorded += 1;
        continue;
      }
      const { rows } = await client.query<{ amount: string; period: string }>(
        `SELECT amount::text AS amount, period FROM credit_movements
          WHERE customer_id = $1 AND credit_id = $2 AND kind = 'consumption' AND invoice_id = $3`,
        [consumption.customer_id, consumption.credit_id, consumption.invoice_id],
      );
      const [previous] = rows;
      if (!previous || !new Decimal(previous.amount).eq(consumption.amount) || previous.period !== consumption.period) {
        throw new CreditLedgerWriteError(
          'credit_movement_conflict',
          `${what}: already recorded as ${previous?.amount ?? '?'} in ${previous?.period ?? '?'}, now offered as ${consumption.amount} in ${consumption.period}`,
        );
      }
      existing += 1;
    }
    return { recorded, existing };
  });
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A credit's balance as the period's drawdown sees it. Amounts are decimal strings. */
export interface UsableCredit {
  readonly credit_id: string;
  readonly kind: CreditKind;
  readonly currency: string;
  readonly amount: string;
  readonly consideration_paid: string | null;
  readonly granted_at: string;
  readonly expires_at: string | null;
  /** The balance now (Σ movements). */
  readonly remaining: string;
  /**
   * The balance the period may draw: `remaining` plus what the period's own invoice already drew.
   * A retried rating of the period sees the same opening balance, so it draws the same amounts and
   * its consumption is a no-op; `remaining` alone would shrink under a retry.
   */
  readonly opening_balance: string;
}

/**
 * The customer's credits usable in a period (SPEC §2 rule 10: granted before the period ends and
 * not expired before it ends) with an opening balance above zero, in rule-10 drawdown order:
 * promotional before prepaid; earliest `expires_at` first, never-expiring last; then earliest
 * `granted_at`; then `credit_id` (byte order).
 */
export async function usableCredits(
  db: Queryable,
  input: { customerId: string; period: string },
): Promise<UsableCredit[]> {
  const { rows } = await db.query<
    Omit<UsableCredit, 'granted_at' | 'expires_at'> & { granted_at: Date; expires_at: Date | null }
  >(
    `SELECT * FROM (
       SELECT g.credit_id, g.kind, g.currency::text AS currency, g.amount::text AS amount, g.consideration_paid::text AS consideration_paid,
              g.granted_at, g.expires_at, g.remaining::text AS remaining,
              (g.remaining - coalesce((SELECT sum(m.amount) FROM credit_movements m
                                        WHERE m.customer_id = g.customer_id AND m.credit_id = g.credit_id
                                          AND m.kind = 'consumption' AND m.period = $2), 0))::text AS opening_balance
         FROM credit_grants g,
              -- The period's end: midnight UTC of the next month's first day.
              LATERAL (SELECT ((to_date($2, 'YYYY-MM') + interval '1 month') AT TIME ZONE 'UTC') AS period_end) bound
        WHERE g.customer_id = $1 AND g.granted_at < period_end AND (g.expires_at IS NULL OR g.expires_at >= period_end)
     ) usable
     WHERE opening_balance::numeric > 0
     ORDER BY (kind = 'prepaid'), expires_at ASC NULLS LAST, granted_at ASC, credit_id COLLATE "C" ASC`,
    [input.customerId, input.period],
  );
  return rows.map((row) => ({
    ...row,
    granted_at: row.granted_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
  }));
}

export interface CreditBalance {
  readonly credit_id: string;
  readonly kind: CreditKind;
  readonly currency: string;
  readonly amount: string;
  readonly granted_at: string;
  readonly expires_at: string | null;
  readonly consumed: string;
  readonly expired: string;
  readonly remaining: string;
  /** Σ movements, recomputed from the movements themselves: always equals `remaining`. */
  readonly movements_total: string;
}

/** Every grant of a customer with what was consumed, what expired and what remains, in rule-10 order. */
export async function creditBalances(db: Queryable, customerId: string): Promise<CreditBalance[]> {
  const { rows } = await db.query<
    Omit<CreditBalance, 'granted_at' | 'expires_at'> & { granted_at: Date; expires_at: Date | null }
  >(
    `SELECT g.credit_id, g.kind, g.currency::text AS currency, g.amount::text AS amount, g.granted_at, g.expires_at, g.remaining::text AS remaining,
            (-coalesce(sum(m.amount) FILTER (WHERE m.kind = 'consumption'), 0))::text AS consumed,
            (-coalesce(sum(m.amount) FILTER (WHERE m.kind = 'expiry'), 0))::text AS expired,
            coalesce(sum(m.amount), 0)::text AS movements_total
       FROM credit_grants g
       LEFT JOIN credit_movements m ON m.customer_id = g.customer_id AND m.credit_id = g.credit_id
      WHERE g.customer_id = $1
      GROUP BY g.customer_id, g.credit_id
      ORDER BY (g.kind = 'prepaid'), g.expires_at ASC NULLS LAST, g.granted_at ASC, g.credit_id COLLATE "C" ASC`,
    [customerId],
  );
  return rows.map((row) => ({
    ...row,
    granted_at: row.granted_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
  }));
}

export interface CreditExpiry {
  readonly customer_id: string;
  readonly credit_id: string;
  readonly kind: CreditKind;
  /** The balance that expired (positive decimal string; may be zero). */
  readonly expired: string;
  /** The breakage entry posted for a prepaid grant, if any liability was left. */
  readonly journal_entry_key: string | null;
}

/** A credit due to expire, as lockExpiringCredits finds it (its row locked until the transaction ends). */
export interface ExpiringCredit {
  readonly customer_id: string;
  readonly credit_id: string;
  readonly kind: CreditKind;
  readonly currency: string;
  readonly amount: string;
  readonly consideration_paid: string | null;
  readonly granted_at: string;
  readonly expires_at: string;
  readonly remaining: string;
}

/**
 * The credits whose `expires_at` is at or before `asOf` and that have no `expiry` movement yet, locked
 * (FOR UPDATE) in the caller's transaction so two expiry runs take turns. A credit usable in a period
 * of its customer that can still draw on it is left alone whatever `asOf` says: a held period (its
 * re-run draws, SPEC §5) or one being re-run. Later periods issue while a period is held, and the
 * expiry after their issue must not take what the held period's re-run may draw.
 */
export async function lockExpiringCredits(
  client: pg.ClientBase,
  input: { asOf: string; customerId?: string },
): Promise<ExpiringCredit[]> {
  const { rows } = await client.query<
    Omit<ExpiringCredit, 'granted_at' | 'expires_at'> & { granted_at: Date; expires_at: Date }
  >(
    `SELECT g.customer_id, g.credit_id, g.kind, g.currency::text AS currency, g.amount::text AS amount, g.consideration_paid::text AS consideration_paid,
            g.granted_at, g.expires_at, g.remaining::text AS remaining
       FROM credit_grants g
      WHERE g.expires_at <= $1::timestamptz
        AND ($2::text IS NULL OR g.customer_id = $2)
        AND NOT EXISTS (SELECT 1 FROM credit_movements m WHERE m.customer_id = g.customer_id AND m.credit_id = g.credit_id AND m.kind = 'expiry')
        AND NOT EXISTS (
          SELECT 1 FROM customer_periods p,
                 -- The period's end: midnight UTC of the next month's first day (usable: SPEC §3 rule 10).
                 LATERAL (SELECT ((to_date(p.period, 'YYYY-MM') + interval '1 month') AT TIME ZONE 'UTC') AS period_end) bound
           WHERE p.customer_id = g.customer_id
             AND (p.outcome = 'held'
                  OR (p.outcome IS NULL AND EXISTS (SELECT 1 FROM period_reruns r WHERE r.customer_id = p.customer_id AND r.period = p.period)))
             AND g.granted_at < bound.period_end AND g.expires_at >= bound.period_end)
      ORDER BY g.customer_id COLLATE "C", g.credit_id COLLATE "C"
      FOR UPDATE OF g`,
    [input.asOf, input.customerId ?? null],
  );
  return rows.map((row) => ({
    ...row,
    granted_at: row.granted_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
  }));
}

/**
 * The `expiry` movement taking a credit's whole remaining balance. False when a concurrent run
 * expired it first (the caller waited on the row lock): nothing left to do.
 */
export async function insertExpiryMovement(
  client: pg.ClientBase,
  customerId: string,
  creditId: string,
): Promise<boolean> {
  const inserted = await client.query(
    `INSERT INTO credit_movements (customer_id, credit_id, kind, currency, amount)
     SELECT customer_id, credit_id, 'expiry', currency, -remaining FROM credit_grants WHERE customer_id = $1 AND credit_id = $2
     ON CONFLICT (customer_id, credit_id, kind, invoice_id) DO NOTHING`,
    [customerId, creditId],
  );
  return inserted.rowCount !== 0;
}
