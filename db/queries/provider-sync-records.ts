import type pg from 'pg';
import { type ProviderKind, type ProviderSyncResult, ProviderSyncResultSchema } from '../../contracts/provider-sync.ts';

type Queryable = pg.Pool | pg.PoolClient;

interface SyncRecordRow {
  invoice_id: string;
  provider: ProviderKind;
  external_customer_id: string;
  external_invoice_id: string;
  status: string;
  items: Record<string, string>;
  synced_at: Date;
}

const COLUMNS = 'invoice_id, provider, external_customer_id, external_invoice_id, status, items, synced_at';

/** A stored sync, checked against its contract as it is read. */
function rowToResult(row: SyncRecordRow): ProviderSyncResult {
  return ProviderSyncResultSchema.parse({
    provider: row.provider,
    invoice_id: row.invoice_id,
    external_customer_id: row.external_customer_id,
    external_invoice_id: row.external_invoice_id,
    status: row.status,
    items: row.items,
    synced_at: row.synced_at.toISOString(),
  });
}

/** The completed sync of an invoice to a provider, if there is one. */
export async function findSyncRecord(
  db: Queryable,
  invoiceId: string,
  provider: ProviderKind,
): Promise<ProviderSyncResult | undefined> {
  const { rows } = await db.query<SyncRecordRow>(
    `SELECT ${COLUMNS} FROM provider_sync_records WHERE invoice_id = $1 AND provider = $2`,
    [invoiceId, provider],
  );
  return rows[0] === undefined ? undefined : rowToResult(rows[0]);
}

/**
 * Records a completed sync once. A record that exists already wins (the first sync's time and
 * ids stay); the stored record is returned either way, for the caller to compare. Every unique key
 * arbitrates (no conflict target): with one named, a concurrent insert of the same record could
 * fail on the other key, (provider, external_invoice_id), instead of doing nothing.
 */
export async function insertSyncRecord(
  db: Queryable,
  record: Omit<ProviderSyncResult, 'synced_at'>,
): Promise<ProviderSyncResult> {
  await db.query(
    `INSERT INTO provider_sync_records (invoice_id, provider, external_customer_id, external_invoice_id, status, items)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb)
     ON CONFLICT DO NOTHING`,
    [
      record.invoice_id,
      record.provider,
      record.external_customer_id,
      record.external_invoice_id,
      record.status,
      JSON.stringify(record.items),
    ],
  );
  const stored = await findSyncRecord(db, record.invoice_id, record.provider);
  if (stored === undefined) {
    throw new Error(
      `provider_sync_records: no record of ${record.invoice_id} (${record.provider}) after insert: its external id ${record.external_invoice_id} is recorded for another invoice`,
    );
  }
  return stored;
}
