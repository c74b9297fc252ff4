import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION_ROLE } from '../../db/application-role.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { createTestDatabase } from '../harness/test-database.ts';

// The clean-clone CI run once stopped the demo's billing worker at start with "granting the
// application role: tuple concurrently updated": PostgreSQL refuses a catalog row update (a GRANT)
// when another transaction changed the same row since the statement began (a concurrent GRANT,
// an autovacuum's or a DDL's update of pg_class), instead of waiting and applying it. The grant
// step is idempotent, so a process starting must go through it, not stop.
let pool: pg.Pool;

beforeAll(async () => {
  pool = createPool(await createTestDatabase('grant_conflict'), { max: 4, applicationName: 'test-grants' });
  await migrate(pool);
});
afterAll(async () => {
  await pool?.end();
});

describe('migrate while another transaction changes a table it grants on', () => {
  it('goes through the grant step (retried), and the grants hold', async () => {
    const other = await pool.connect();
    try {
      // Another writer of the invoices table's catalog row, not yet committed.
      await other.query('BEGIN');
      await other.query(`REVOKE SELECT ON invoices FROM ${APPLICATION_ROLE}`);
      const migrating = migrate(pool).then(
        () => 'migrated',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      // The grant step is waiting on that row.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { rows } = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'GRANT%'`,
        );
        if ((rows[0]?.n ?? 0) > 0) break;
        if (Date.now() > deadline) throw new Error('the grant step never waited on the row');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await other.query('COMMIT');
      expect(await migrating).toBe('migrated');
    } finally {
      other.release();
    }
    const { rows } = await pool.query<{ granted: boolean }>(
      `SELECT has_table_privilege($1, 'invoices', 'SELECT') AS granted`,
      [APPLICATION_ROLE],
    );
    expect(rows[0]?.granted).toBe(true);
  });
});
