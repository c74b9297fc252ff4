import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { migrationsDir } from '../config/paths.ts';
import { ADVISORY_LOCKS } from './advisory-locks.ts';
import { ensureApplicationRole, grantApplicationRole } from './application-role.ts';
import { createMigrationPool, type DatabaseTarget } from './pool.ts';
import { TallyError } from '../contracts/tally-error.ts';

export const MIGRATIONS_DIR = migrationsDir;
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** Serialises concurrent migrators (the stack, workers and tests may start together). */
const MIGRATION_LOCK_ID = ADVISORY_LOCKS.MIGRATIONS;

export class MigrationError extends TallyError {
  constructor(message: string) {
    super('migration_failed', message, { permanent: true });
  }
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
}

/**
 * Applies the forward-only SQL migrations in `directory` that are not yet applied, each in its own
 * transaction, in version order. An applied migration whose file changed afterwards is refused:
 * migrations are never edited once applied, only followed by new ones.
 */
export async function migrate(pool: pg.Pool, directory: string = MIGRATIONS_DIR): Promise<AppliedMigration[]> {
  const files = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort();
  const migrations = await Promise.all(
    files.map(async (file) => {
      const match = FILE_NAME.exec(file);
      if (!match)
        throw new MigrationError(`${path.join(directory, file)}: migration files are named NNNN_verb_noun.sql`);
      const sql = await readFile(path.join(directory, file), 'utf8');
      return {
        version: Number.parseInt(match[1] as string, 10),
        name: match[2] as string,
        file,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    }),
  );

  const client = await pool.connect();
  try {
    // The application role may not change the schema (SPEC §13): it only checks the schema is current.
    const privilege = await client.query<{ can_create: boolean }>(
      `SELECT has_schema_privilege('public', 'CREATE') AS can_create`,
    );
    if (privilege.rows[0]?.can_create !== true) {
      await assertMigrated(client, migrations);
      return [];
    }
    await ensureApplicationRole(client).catch((error: unknown) => {
      throw new MigrationError(error instanceof Error ? error.message : String(error));
    });
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied = new Map(
      (
        await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations')
      ).rows.map((row) => [row.version, row.checksum]),
    );
    const done: AppliedMigration[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationError(`${migration.file} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(`${migration.file}: ${error instanceof Error ? error.message : String(error)}`);
      }
      done.push({ version: migration.version, name: migration.name });
    }
    // The grant step: every table, new ones included, gets the application role's rights.
    await grantWithRetries(client);
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
}

/** Attempts at the grant step before a catalog conflict stops the process. */
const GRANT_ATTEMPTS = 5;

/**
 * The grant step in a transaction of its own. PostgreSQL does not queue two updates of one catalog
 * row: a GRANT that finds a table's row changed by another transaction since it began (a grant from
 * another database's migrator on a shared object, an autovacuum's or a DDL's update) fails with
 * "tuple concurrently updated" instead of applying after it. The step is idempotent (it runs at
 * every start), so it is tried again; any other error stops the process at once.
 */
async function grantWithRetries(client: pg.PoolClient): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await client.query('BEGIN');
      await grantApplicationRole(client);
      await client.query('COMMIT');
      return;
    } catch (error) {
      await client.query('ROLLBACK');
      const message = error instanceof Error ? error.message : String(error);
      if (!/tuple concurrently updated/.test(message) || attempt === GRANT_ATTEMPTS)
        throw new MigrationError(`granting the application role: ${message}`);
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/**
 * What a process does at start: with an owner role configured (DATABASE_MIGRATION_URL), migrates
 * as that role on a connection of its own; otherwise migrates on `pool`, which for the application
 * role only checks that the schema is current.
 */
export async function migrateAtStart(target: DatabaseTarget, pool: pg.Pool): Promise<void> {
  if (typeof target === 'string' || target.security?.migration === undefined) {
    await migrate(pool);
    return;
  }
  const owner = createMigrationPool(target);
  try {
    await migrate(owner);
  } finally {
    await owner.end();
  }
}

/**
 * For a role that may not migrate: every migration file must be applied, unchanged. Otherwise the
 * process stops before touching anything and says who must migrate.
 */
async function assertMigrated(
  client: pg.PoolClient,
  migrations: readonly { version: number; file: string; checksum: string }[],
): Promise<void> {
  const table = await client.query<{ found: string | null }>(`SELECT to_regclass('schema_migrations')::text AS found`);
  const applied =
    table.rows[0]?.found === null || table.rows[0] === undefined
      ? new Map<number, string>()
      : new Map(
          (
            await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations')
          ).rows.map((row) => [row.version, row.checksum]),
        );
  const missing = migrations.filter((migration) => applied.get(migration.version) !== migration.checksum);
  if (missing.length === 0) return;
  throw new MigrationError(
    `the database schema is not current (${missing.length} migration(s) not applied, the first ${missing[0]?.file}) ` +
      `and this role may not change it: run \`tally db migrate\` as the owner role (DATABASE_MIGRATION_URL)`,
  );
}
