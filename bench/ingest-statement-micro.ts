/**
 * The ingest write statement alone, its variants side by side in one Postgres and the same minutes
 * (docs/BENCHMARKS.md, Ingest): a database holding `--stored` events of the bench's 5,000 customers,
 * then `--rounds` rounds in which each variant writes the same new batch of `--batch-size` events
 * (~5 % of them keys already stored) in a transaction that is rolled back, so every variant meets the
 * same state. Reports, per variant, the median wall time of `insertNewUsageEvents` (staging COPY +
 * statement) and the backend's CPU per event (from /proc, summed over the rounds).
 *
 * Variants: `periods known` (the writer knows every customer-period of the batch has its outbox row,
 * the steady state), `periods unknown` (it knows none: the outbox part inserts one row per pair), and
 * `known, no 0001 period checks` (the first with migration 0001's period regex CHECKs on usage_events
 * and usage_running_totals dropped inside the transaction: what those checks cost).
 *
 *   TALLY_BENCH_PORT_BASE=18150 npx tsx bench/ingest-statement-micro.ts [--stored 100000] [--rounds 15] [--batch-size 2000]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { ensureUsageEventPartitions, insertNewUsageEvents, type UsageEventRow } from '../db/queries/usage-events.ts';
import { BENCH_SOURCES, startBenchPostgres } from './bench-postgres.ts';
import { buildEvent } from './event-generator.ts';

const { values } = parseArgs({
  options: {
    stored: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '15' },
    'batch-size': { type: 'string', default: '2000' },
  },
});
const storedEvents = Number(values.stored);
const rounds = Number(values.rounds);
const batchSize = Number(values['batch-size']);
const { databaseUrl, remove } = await startBenchPostgres('statement');
const pool = createPool(databaseUrl, { max: 2, applicationName: 'tally-bench-statement' });
const nowMs = Date.now();
const generator = {
  sources: BENCH_SOURCES,
  keys: {},
  customers: 5000,
  subjectPrefix: 'usage',
  spreadMs: 20 * 86_400_000,
  nowMs,
  duplicateDistance: 1000,
  runTag: 'statement',
};

function row(index: number, periodKnown: boolean): UsageEventRow {
  const event = buildEvent(index, generator);
  return {
    source: event.source,
    eventId: event.event_id,
    customerId: event.customer_id,
    eventTime: event.timestamp,
    receivedAt: new Date(nowMs).toISOString(),
    unit: event.unit,
    sku: event.metadata.sku as string,
    quantity: event.quantity,
    metadataJson: JSON.stringify(event.metadata),
    schemaVersion: 1,
    signature: `v1=${'0'.repeat(64)}`,
    bodySha256Hex: index.toString(16).padStart(64, '0'),
    streamSeq: index + 1,
    periodKnown,
  };
}

const byKey = (a: UsageEventRow, b: UsageEventRow): number =>
  a.source === b.source ? (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0) : a.source < b.source ? -1 : 1;

/**
 * The period CHECKs of migration 0001 (`period ~ '^\\d{4}-…'`), weaker than migration 0150's
 * `tally_period_in_range` on the same columns: dropped inside the measured variant's transaction
 * (rolled back), to price a regular expression per row.
 */
async function dropOldPeriodChecks(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ relation: string; name: string }>(
    `SELECT conrelid::regclass::text AS relation, conname AS name FROM pg_constraint
      WHERE conrelid IN ('usage_events'::regclass, 'usage_running_totals'::regclass) AND contype = 'c'
        AND pg_get_constraintdef(oid) LIKE '%\\\\d{4}%'`,
  );
  if (rows.length !== 2) throw new Error(`expected two old period checks, found ${rows.length}`);
  for (const row of rows) await client.query(`ALTER TABLE ${row.relation} DROP CONSTRAINT ${row.name}`);
}

async function backendCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

try {
  await migrate(pool);
  // The stored history: customer-periods and running totals exist, as in a worker's steady state.
  for (let start = 0; start < storedEvents; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, storedEvents - start) }, (_, offset) =>
      row(start + offset, false),
    ).sort(byKey);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await ensureUsageEventPartitions(
        client,
        [...new Set(rows.map((r) => r.eventTime.slice(0, 7)))].map((month) => `${month}-15T00:00:00Z`),
      );
      await insertNewUsageEvents(client, rows);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
  await pool.query('VACUUM (ANALYZE) usage_event_keys, usage_events, usage_running_totals, customer_periods');

  const known = (rows: UsageEventRow[]): UsageEventRow[] => rows;
  const unknown = (rows: UsageEventRow[]): UsageEventRow[] => rows.map((r) => ({ ...r, periodKnown: false }));
  const variants: Record<string, { setup?: (client: pg.PoolClient) => Promise<void>; rows: typeof known }> = {
    'periods known': { rows: known },
    'periods unknown': { rows: unknown },
    'known, no 0001 period checks': { setup: dropOldPeriodChecks, rows: known },
  };
  const results = new Map<string, { wall: number[]; cpu: number; events: number; stored: number }>();
  const client = await pool.connect();
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
    for (let round = 0; round < rounds; round++) {
      // ~5 % repeats of stored keys, the rest new; known periods (every customer's period exists by now).
      const base = storedEvents + round * batchSize;
      const rows = Array.from({ length: batchSize }, (_, offset) =>
        offset % 20 === 0 ? row(base - storedEvents + offset, true) : row(base + offset, true),
      ).sort(byKey);
      const order = Object.keys(variants);
      if (round % 2 === 1) order.reverse();
      for (const name of order) {
        const variant = variants[name] as (typeof variants)[string];
        await client.query('BEGIN');
        await variant.setup?.(client);
        const cpuBefore = await backendCpuSeconds(pid);
        const started = performance.now();
        const stored = (await insertNewUsageEvents(client, variant.rows(rows))).length;
        const wall = performance.now() - started;
        const cpu = (await backendCpuSeconds(pid)) - cpuBefore;
        await client.query('ROLLBACK');
        const entry = results.get(name) ?? { wall: [], cpu: 0, events: 0, stored: 0 };
        entry.wall.push(wall);
        entry.cpu += cpu;
        entry.events += rows.length;
        entry.stored += stored;
        results.set(name, entry);
      }
    }
  } finally {
    client.release();
  }
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  for (const [name, entry] of results) {
    const sorted = [...entry.wall].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    console.log(
      `${name.padEnd(28)} median ${median.toFixed(1)} ms a batch of ${batchSize} (${((median * 1000) / batchSize).toFixed(1)} µs/event wall), ` +
        `backend cpu ${((entry.cpu * 1e6) / entry.events).toFixed(1)} µs/event, ${entry.stored / rounds} stored a batch`,
    );
  }
  console.log(`statement micro: ${rounds} rounds, ${storedEvents} events stored before, load ${load}`);
} finally {
  await pool.end();
  await remove();
}
