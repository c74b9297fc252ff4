import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS_DIR } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { loadBackfillPlan } from '../../db/queries/backfills.ts';
import { testStack } from '../harness/services.ts';

// Migration 0820 on a database that already holds plans: their per-currency totals are computed
// from their items (the single-number columns, which added currencies, are dropped), and the plans
// stay append-only afterwards.
const DATABASE = 'tally_backfill_totals_migration';
let pool: pg.Pool;
let before: string;

beforeAll(async () => {
  const url = new URL(testStack().endpoints.databaseUrl);
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${DATABASE}`;
  pool = createPool(url.toString(), { max: 2, applicationName: 'test-migration-0820' });
  before = await mkdtemp(path.join(os.tmpdir(), 'tally-migrations-before-0820-'));
  for (const file of await readdir(MIGRATIONS_DIR))
    if (file.endsWith('.sql') && file < '0820') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  await migrate(pool, before);
});
afterAll(async () => {
  await pool?.end();
  if (before !== undefined) await rm(before, { recursive: true, force: true });
});

const INPUTS = JSON.stringify({ terms: {}, lastCorrectionSeq: '0', lateEventCount: 0 });

describe('migration 0820', () => {
  it('gives every stored plan its totals per currency, computed from its items', async () => {
    const client = await pool.connect();
    try {
      // Rows as the code before 0820 wrote them (the invoices they point at are beside the point here).
      await client.query(`SET session_replication_role = replica`);
      await client.query(
        `INSERT INTO backfill_plans (plan_id, period_from, period_to, calculation_version, reason, created_by, inputs,
           inputs_fingerprint, issued_total, rerated_total, adjustment_total)
         VALUES ('bf-mixed', '2026-10', '2026-10', 'calc', 'two currencies', 'ops', $1, 'f1', 130.00, 260.00, 130.00),
                ('bf-empty', '2026-10', '2026-10', 'calc', 'nothing closed', 'ops', $1, 'f2', 0, 0, 0)`,
        [INPUTS],
      );
      await client.query(
        `INSERT INTO backfill_plan_items (plan_id, customer_id, period, corrected_invoice_id, currency, issued_total, billed,
           rerated, rerated_total, adjustment_total, causes, late_event_count, event_fingerprint)
         SELECT 'bf-mixed', customer, '2026-10', 'inv:' || customer || ':2026-10', currency, issued, '{}', '{}', rerated,
                adjustment, '{"causes": [], "lateEvents": []}', 0, 'e'
           FROM (VALUES ('usd-1', 'USD', 100.00, 200.00, 100.00), ('usd-2', 'USD', 10.50, 10.00, -0.50),
                        ('eur-1', 'EUR', 30.00, 60.00, 30.00)) AS item (customer, currency, issued, rerated, adjustment)`,
      );
    } finally {
      await client.query(`SET session_replication_role = DEFAULT`);
      client.release();
    }

    const applied = await migrate(pool);
    expect(applied.map((migration) => migration.version)).toContain(820);

    expect(await loadBackfillPlan(pool, 'bf-mixed')).toMatchObject({
      issuedTotals: { EUR: '30.00', USD: '110.50' },
      reratedTotals: { EUR: '60.00', USD: '210.00' },
      adjustmentTotals: { EUR: '30.00', USD: '99.50' },
    });
    expect(await loadBackfillPlan(pool, 'bf-empty')).toMatchObject({
      issuedTotals: {},
      reratedTotals: {},
      adjustmentTotals: {},
    });
    const columns = await pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'backfill_plans' AND column_name LIKE '%total%'
        ORDER BY column_name`,
    );
    expect(columns.rows.map((row) => row.column_name)).toEqual([
      'adjustment_totals',
      'issued_totals',
      'rerated_totals',
    ]);
    // Still append-only: the trigger the migration lifted for its own update is back.
    await expect(pool.query(`UPDATE backfill_plans SET reason = 'x' WHERE plan_id = 'bf-mixed'`)).rejects.toThrow(
      /append-only/,
    );
  });
});
