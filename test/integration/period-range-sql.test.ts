import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../db/pool.ts';
import { createTestDatabase } from '../harness/test-database.ts';
import type pg from 'pg';

// One strict period type in SQL too: every period column refuses a year outside 2000–2199, so no
// path that skips the TypeScript check (a script, a future query) can store 0026-10 as a period.
let pool: pg.Pool;
beforeAll(async () => {
  pool = createPool(await createTestDatabase('period_range_sql'), { max: 2, applicationName: 'test-period-range' });
});
afterAll(async () => {
  await pool.end();
});

describe('period columns in Postgres', () => {
  it('every text column named period or *_period checks the year range', async () => {
    const { rows: columns } = await pool.query<{ table_name: string; column_name: string }>(
      `SELECT c.table_name, c.column_name
         FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.data_type = 'text'
          AND (c.column_name = 'period' OR c.column_name LIKE '%\\_period')
          AND c.table_name NOT LIKE 'usage_events\\_%'
        ORDER BY 1, 2`,
    );
    expect(columns.length).toBeGreaterThan(5);
    const unchecked: string[] = [];
    for (const { table_name: table, column_name: column } of columns) {
      const refused = await refuses(table, column);
      if (!refused) unchecked.push(`${table}.${column}`);
    }
    expect(unchecked).toEqual([]);
  });
});

/** True when a CHECK constraint on `table` mentioning `column` rejects 0026-10 and accepts 2026-10. */
async function refuses(table: string, column: string): Promise<boolean> {
  const { rows } = await pool.query<{ definition: string }>(
    `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
      WHERE conrelid = $1::regclass AND contype = 'c'`,
    [table],
  );
  const checks = rows.map((row) => row.definition).filter((definition) => definition.includes(column));
  for (const definition of checks) {
    const expression = definition.replace(/^CHECK \((.*)\)( NOT VALID)?$/s, '$1');
    // Evaluated on the column alone; a check that also reads other columns is not this rule.
    const test = async (value: string): Promise<boolean | null> => {
      try {
        const { rows: result } = await pool.query<{ ok: boolean | null }>(
          `SELECT (${expression}) AS ok FROM (SELECT $1::text AS ${column}) AS candidate`,
          [value],
        );
        return result[0]?.ok ?? null;
      } catch {
        return null;
      }
    };
    if ((await test('0026-10')) === false && (await test('2200-01')) === false && (await test('2026-10')) === true)
      return true;
  }
  return false;
}
