import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { migrationsDir } from '../config/paths.ts';
import { ADVISORY_LOCKS } from './advisory-locks.ts';
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
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
}
