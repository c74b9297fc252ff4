import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../harness/test-database.ts';

// Ingest creates a month's partition of usage_events when it first sees that month; at a month's
// start, concurrent writers (or several ingest workers) see it at once. Each must find or create the
// partition, never fail because another one created it a moment before.
let databaseUrl: string;
beforeAll(async () => {
  databaseUrl = await createTestDatabase('usage_partition_race');
});

const clients: pg.Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.end()));
});

describe('the month partition of usage_events', () => {
  it('is created once when several writers first see the month at the same time', async () => {
    for (let index = 0; index < 6; index++) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      clients.push(client);
    }
    const failures: string[] = [];
    for (let month = 1; month <= 24; month++) {
      const instant = `${2031 + Math.floor((month - 1) / 12)}-${String(((month - 1) % 12) + 1).padStart(2, '0')}-15T00:00:00Z`;
      await Promise.all(
        clients.map(async (client) => {
          try {
            // A writer's transaction: the partition, then its inserts, then the commit.
            await client.query('BEGIN');
            await client.query('SELECT ensure_usage_events_partition($1)', [instant]);
            await client.query('SELECT pg_sleep(0.01)');
            await client.query('COMMIT');
          } catch (error) {
            failures.push(`${instant}: ${(error as Error).message}`);
            await client.query('ROLLBACK');
          }
        }),
      );
    }
    expect(failures).toEqual([]);
    const { rows } = await clients[0]!.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'usage_events'::regclass
          AND inhrelid::regclass::text LIKE 'usage_events_p203%'`,
    );
    expect(rows[0]?.n).toBe(24);
  });
});
