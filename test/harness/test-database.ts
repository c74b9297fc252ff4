import pg from 'pg';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { testStack } from './services.ts';

/**
 * A fresh, migrated database of its own on the run's Postgres, for test files whose processes scan
 * whole tables (the period opener starts a workflow for every customer-period it finds). Dropped and
 * created again on each call, so a rerun starts clean.
 */
export async function createTestDatabase(name: string): Promise<string> {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(name)) throw new Error(`not a database name: ${name}`);
  const url = new URL(testStack().endpoints.databaseUrl);
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS tally_${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE tally_${name}`);
  } finally {
    await admin.end();
  }
  url.pathname = `/tally_${name}`;
  const pool = createPool(url.toString(), { max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return url.toString();
}
