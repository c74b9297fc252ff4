import type { Command } from 'commander';
import { migrate } from '../db/migrate.ts';
import { createMigrationPool } from '../db/pool.ts';
import { ensureServices } from './services.ts';

export function registerDbCommands(program: Command): void {
  const db = program.command('db');
  db.command('migrate')
    .description("apply the forward-only migrations in db/migrations (as DATABASE_MIGRATION_URL's owner role when set)")
    .action(async () => {
      const { endpoints } = await ensureServices();
      const pool = createMigrationPool(endpoints);
      try {
        const applied = await migrate(pool);
        process.stdout.write(
          applied.length === 0
            ? 'schema is current\n'
            : applied.map((m) => `applied ${String(m.version).padStart(4, '0')}_${m.name}\n`).join(''),
        );
      } finally {
        await pool.end();
      }
    });
}
