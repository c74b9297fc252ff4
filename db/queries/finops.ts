import type pg from 'pg';
import { IssuedInvoiceSchema, type IssuedInvoice } from '../../contracts/invoice.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** Every issued live invoice of `period` (the margin's input), parsed: a document that fails its schema throws. */
export async function issuedInvoicesOfPeriod(db: Queryable, period: string): Promise<IssuedInvoice[]> {
  const { rows } = await db.query<{ document: unknown }>(
    `SELECT document FROM invoices
      WHERE period = $1 AND mode = 'live' AND status = 'issued'
      ORDER BY customer_id`,
    [period],
  );
  return rows.map((row) => IssuedInvoiceSchema.parse(row.document));
}

/** Usage lines plus discounts of every issued live invoice, per customer and period (commit burndown's history). */
export async function issuedUsageByPeriod(
  db: Queryable,
): Promise<{ customerId: string; period: string; currency: string; usage: string }[]> {
  const { rows } = await db.query<{ customer_id: string; period: string; currency: string; usage: string }>(
    `SELECT i.customer_id, i.period, i.currency,
            coalesce(sum((line ->> 'amount')::numeric) FILTER (WHERE line ->> 'kind' IN ('usage', 'discount')), 0)::text AS usage
       FROM invoices i CROSS JOIN LATERAL jsonb_array_elements(i.document -> 'lines') AS line
      WHERE i.mode = 'live' AND i.status = 'issued'
      GROUP BY i.customer_id, i.period, i.currency
      ORDER BY i.customer_id, i.period`,
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    period: row.period,
    currency: row.currency,
    usage: row.usage,
  }));
}

/** The usage-alert loop's latest month-to-date valuation of each customer in `period` (usage lines plus discounts). */
export async function monthToDateUsage(
  db: Queryable,
  period: string,
): Promise<{ customerId: string; usage: string; currency: string; asOf: string }[]> {
  const { rows } = await db.query<{
    customer_id: string;
    usage_value: string;
    currency: string;
    checked_through: Date;
  }>(
    `SELECT customer_id, usage_value::text AS usage_value, currency, checked_through FROM usage_alert_checks
      WHERE period = $1 AND usage_value IS NOT NULL`,
    [period],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    usage: row.usage_value,
    currency: row.currency,
    asOf: row.checked_through.toISOString(),
  }));
}

/** Prepaid grants as the credit ledger holds them. */
export async function prepaidGrants(
  db: Queryable,
): Promise<
  { customerId: string; creditId: string; currency: string; amount: string; remaining: string; expiresAt?: string }[]
> {
  const { rows } = await db.query<{
    customer_id: string;
    credit_id: string;
    currency: string;
    amount: string;
    remaining: string;
    expires_at: Date | null;
  }>(
    `SELECT customer_id, credit_id, currency, amount::text AS amount, remaining::text AS remaining, expires_at
       FROM credit_grants WHERE kind = 'prepaid' ORDER BY customer_id, credit_id`,
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    creditId: row.credit_id,
    currency: row.currency,
    amount: row.amount,
    remaining: row.remaining,
    ...(row.expires_at === null ? {} : { expiresAt: row.expires_at.toISOString() }),
  }));
}

/** Prepaid credit consumed per customer and period (positive amounts). */
export async function prepaidConsumptionByPeriod(
  db: Queryable,
): Promise<{ customerId: string; period: string; consumed: string }[]> {
  const { rows } = await db.query<{ customer_id: string; period: string; consumed: string }>(
    `SELECT m.customer_id, m.period, (-sum(m.amount))::text AS consumed
       FROM credit_movements m JOIN credit_grants g USING (customer_id, credit_id)
      WHERE m.kind = 'consumption' AND g.kind = 'prepaid'
      GROUP BY m.customer_id, m.period ORDER BY m.customer_id, m.period`,
  );
  return rows.map((row) => ({ customerId: row.customer_id, period: row.period, consumed: row.consumed }));
}

/** Each customer's latest issued live invoice (its effective usage rates and fees). */
export async function latestIssuedInvoices(db: Queryable): Promise<IssuedInvoice[]> {
  const { rows } = await db.query<{ document: unknown }>(
    `SELECT DISTINCT ON (customer_id) document FROM invoices
      WHERE mode = 'live' AND status = 'issued'
      ORDER BY customer_id, period DESC`,
  );
  return rows.map((row) => IssuedInvoiceSchema.parse(row.document));
}
