import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION_CHANGES, APPLICATION_ROLE } from '../../db/application-role.ts';
import { migrate, MIGRATIONS_DIR } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { createTestDatabase } from '../harness/test-database.ts';

// SPEC §13: Tally's processes connect as a role that may read and insert, and update only where the
// design updates, but can neither alter tables, disable triggers nor truncate. The migrating role
// (here the stack's superuser) owns the schema; a login role of the application group uses it.
const LOGIN_ROLE = 'tally_app_role_test';
const LOGIN_PASSWORD = 'app-role-test-password';

let ownerUrl: string;
let owner: pg.Pool;
let app: pg.Pool;

beforeAll(async () => {
  ownerUrl = await createTestDatabase('application_role');
  owner = createPool(ownerUrl, { max: 2, applicationName: 'test-owner' });
  await owner.query(`DROP ROLE IF EXISTS ${LOGIN_ROLE}`);
  await owner.query(`CREATE ROLE ${LOGIN_ROLE} LOGIN PASSWORD '${LOGIN_PASSWORD}' IN ROLE ${APPLICATION_ROLE}`);
  const appUrl = new URL(ownerUrl);
  appUrl.username = LOGIN_ROLE;
  appUrl.password = LOGIN_PASSWORD;
  app = createPool(appUrl.toString(), { max: 2, applicationName: 'test-application-role' });
});
afterAll(async () => {
  await app?.end();
  await owner?.query(`DROP OWNED BY ${LOGIN_ROLE}`).catch(() => undefined);
  await owner?.query(`DROP ROLE IF EXISTS ${LOGIN_ROLE}`).catch(() => undefined);
  await owner?.end();
});

/** The SQLSTATE an application-role statement fails with (undefined: it succeeded). */
async function refusal(sql: string): Promise<string | undefined> {
  const client = await app.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

const INSUFFICIENT_PRIVILEGE = '42501';

describe('the application role', () => {
  it('is refused every change to the schema, the triggers and the tables as wholes', async () => {
    const refused = {
      'ALTER TABLE invoices ADD COLUMN x int': await refusal('ALTER TABLE invoices ADD COLUMN x int'),
      'ALTER TABLE invoices DISABLE TRIGGER ALL': await refusal('ALTER TABLE invoices DISABLE TRIGGER ALL'),
      'ALTER TABLE journal_entries DISABLE TRIGGER USER': await refusal(
        'ALTER TABLE journal_entries DISABLE TRIGGER USER',
      ),
      'DROP TRIGGER usage_events_append_only': await refusal('DROP TRIGGER usage_events_append_only ON usage_events'),
      "SET session_replication_role = 'replica'": await refusal("SET session_replication_role = 'replica'"),
      'TRUNCATE invoices': await refusal('TRUNCATE invoices'),
      'TRUNCATE audit_log': await refusal('TRUNCATE audit_log'),
      'DROP TABLE journal_lines': await refusal('DROP TABLE journal_lines'),
      'CREATE TABLE mine': await refusal('CREATE TABLE mine (x int)'),
      'CREATE FUNCTION mine': await refusal("CREATE FUNCTION public.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'"),
      'DELETE FROM invoices': await refusal('DELETE FROM invoices'),
      'UPDATE period_snapshots': await refusal("UPDATE period_snapshots SET mode = 'live'"),
      'INSERT INTO schema_migrations': await refusal(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
      ),
    };
    expect(refused).toEqual(Object.fromEntries(Object.keys(refused).map((sql) => [sql, INSUFFICIENT_PRIVILEGE])));
  });

  it('reads, inserts, updates where the design updates, and makes a month partition', async () => {
    expect(await refusal('SELECT count(*) FROM invoices')).toBeUndefined();
    expect(await refusal("INSERT INTO console_settings (name, value) VALUES ('probe', 'x')")).toBeUndefined();
    expect(await refusal("UPDATE customer_periods SET workflow_started_at = now() WHERE customer_id = 'none'")).toBe(
      undefined,
    );
    expect(await refusal("DELETE FROM console_sessions WHERE username = 'none'")).toBeUndefined();
    expect(await refusal('LOCK TABLE event_corrections IN SHARE ROW EXCLUSIVE MODE')).toBeUndefined();
    const { rows } = await app.query<{ name: string }>(
      "SELECT ensure_usage_events_partition('2031-05-17T00:00:00Z') AS name",
    );
    expect(rows[0]?.name).toBe('usage_events_p2031_05');
    const partitionOwner = await owner.query<{ owner: string }>(
      "SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'usage_events_p2031_05'",
    );
    expect(partitionOwner.rows[0]?.owner).not.toBe(LOGIN_ROLE);
  });

  it('names only tables that exist in its update and delete rights', async () => {
    const { rows } = await owner.query<{ relname: string }>(
      "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')",
    );
    const tables = new Set(rows.map((row) => row.relname));
    expect(Object.keys(APPLICATION_CHANGES).filter((table) => !tables.has(table))).toEqual([]);
  });

  it('grants update or delete on every table the code updates, deletes from, upserts into or locks for update', async () => {
    // A read of the SQL in shipped code: what each statement needs beyond SELECT and INSERT. A new
    // UPDATE that APPLICATION_CHANGES does not name would fail only in production, as the app role.
    const needs = new Map<string, Set<string>>();
    const need = (table: string, right: string) => needs.set(table, (needs.get(table) ?? new Set()).add(right));
    for (const file of await shippedSources()) {
      const sql = await readFile(file, 'utf8');
      for (const match of sql.matchAll(/\bUPDATE\s+([a-z_]+)\s+SET\b/g)) need(match[1] as string, 'UPDATE');
      for (const match of sql.matchAll(/\bDELETE\s+FROM\s+([a-z_]+)/g)) need(match[1] as string, 'DELETE');
      for (const match of sql.matchAll(
        /\bINSERT\s+INTO\s+([a-z_]+)(?:(?!INSERT\s+INTO)[^`])*?ON\s+CONFLICT\s*(?:\([^)]*\)|ON\s+CONSTRAINT\s+[a-z_]+)?\s*DO\s+UPDATE/g,
      ))
        need(match[1] as string, 'UPDATE');
      for (const match of sql.matchAll(/\bFROM\s+([a-z_]+)\b[^`;]*?\bFOR\s+UPDATE\b/g))
        need(match[1] as string, 'UPDATE');
      for (const match of sql.matchAll(/\bLOCK\s+TABLE\s+([a-z_]+)\s+IN\s+SHARE\s+ROW\s+EXCLUSIVE/g))
        need(match[1] as string, 'UPDATE');
    }
    const missing = [...needs]
      .flatMap(([table, rights]) =>
        [...rights]
          .filter((right) => !(APPLICATION_CHANGES[table] ?? []).includes(right as 'UPDATE' | 'DELETE'))
          .map((right) => `${right} ${table}`),
      )
      .sort();
    expect(needs.size).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });

  it('gets read and insert on a table a later migration adds, without the migration granting it', async () => {
    await owner.query('CREATE TABLE later_feature (id int PRIMARY KEY)');
    try {
      expect(await refusal('INSERT INTO later_feature VALUES (1)')).toBeUndefined();
      expect(await refusal('SELECT * FROM later_feature')).toBeUndefined();
      expect(await refusal('UPDATE later_feature SET id = 2')).toBe(INSUFFICIENT_PRIVILEGE);
      expect(await refusal('TRUNCATE later_feature')).toBe(INSUFFICIENT_PRIVILEGE);
    } finally {
      await owner.query('DROP TABLE later_feature');
    }
  });

  it('starts on a current schema without migrating, and refuses to start on a schema that is behind', async () => {
    expect(await migrate(app)).toEqual([]);
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, directory, { recursive: true });
      await writeFile(path.join(directory, '9990_add_later_thing.sql'), 'CREATE TABLE later_thing (id int);\n');
      await expect(migrate(app, directory)).rejects.toThrow(
        /not current \(1 migration\(s\) not applied, the first 9990_add_later_thing\.sql\).*tally db migrate/,
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

/** The .ts files of the rooms that run SQL at run time (tests, benches and the demo's set-up aside). */
async function shippedSources(): Promise<string[]> {
  const root = path.join(import.meta.dirname, '..', '..');
  const rooms = [
    'db',
    'activities',
    'ingest',
    'providers',
    'terms',
    'access',
    'views',
    'shadow',
    'revenue',
    'finops',
    'console',
    'cli',
    'workers',
  ];
  const files: string[] = [];
  for (const room of rooms)
    for (const entry of await readdir(path.join(root, room), { recursive: true, withFileTypes: true }))
      if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
        files.push(path.join(entry.parentPath, entry.name));
  return files;
}
