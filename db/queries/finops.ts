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
