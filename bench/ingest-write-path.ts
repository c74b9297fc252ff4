/**
 * The ingest write path alone, for profiling (docs/BENCHMARKS.md, Ingest): Postgres on its own ports
 * (fresh data), the bench's generated events in messages of 100, classified and written through
 * `BatchWriter` by `--writers` concurrent writers in batches of `--batch-size` events, with no NATS.
 * Prints events/s and the CPU per event of this process (classification + writer) and of every
 * Postgres process. `PGOPTIONS` reaches the writer's connections (e.g. auto_explain).
 *
 *   TALLY_BENCH_PORT_BASE=18050 npx tsx bench/ingest-write-path.ts [--events 200000] [--writers 2] [--batch-size 2000]
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { BatchWriter } from '../ingest/batch-writer.ts';
import { classifyMessage, DEFAULT_ACCEPT_WINDOW, type ClassifiedMessage } from '../ingest/classify-message.ts';
import { joinBatchLines, splitBatchLines } from '../ingest/usage-batch.ts';
import { BENCH_SOURCES, startBenchPostgres } from './bench-postgres.ts';
import { generateMessage } from './event-generator.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    writers: { type: 'string', default: '2' },
    'batch-size': { type: 'string', default: '2000' },
    'keep-stack': { type: 'boolean', default: false },
  },
});
const events = Number(values.events);
const writers = Number(values.writers);
const batchSize = Number(values['batch-size']);
const { layout, databaseUrl, remove } = await startBenchPostgres('write-path');
const pool = createPool(databaseUrl, { max: writers + 2, applicationName: 'tally-bench-write-path' });
try {
  await migrate(pool);
  const keys = Object.fromEntries(BENCH_SOURCES.map((source) => [source, `bench-secret-${source}-0123456789`]));
  const nowMs = Date.now();
  const generator = {
    sources: BENCH_SOURCES,
    keys,
    customers: 5000,
    subjectPrefix: 'usage',
    spreadMs: 20 * 86_400_000,
    nowMs,
    duplicateDistance: Math.min(100_000, Math.max(1000, Math.floor(events / 4))),
    runTag: 'write-path',
  };
  const bodies: Buffer[] = [];
  for (let start = 0; start < events; start += 100) {
    const lines: Uint8Array[] = [];
    for (let position = start; position < Math.min(events, start + 100); position++)
      lines.push(generateMessage(position, generator).message.data);
    bodies.push(joinBatchLines(lines));
  }
  const writer = new BatchWriter(pool);
  const receivedAtNanos = BigInt(nowMs) * 1_000_000n;
  let next = 0;
  let accepted = 0;
  let duplicates = 0;
  let rejected = 0;
  const cpuBefore = { self: process.cpuUsage(), postgres: await postgresCpuSeconds() };
  const startedMs = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (;;) {
        const batch: ClassifiedMessage[] = [];
        while (batch.length < batchSize && next < bodies.length) {
          const seq = next++;
          for (const { line, data } of splitBatchLines(bodies[seq] as Buffer))
            batch.push(
              classifyMessage(
                { streamSeq: seq + 1, batchLine: line, receivedAtNanos, data },
                keys,
                DEFAULT_ACCEPT_WINDOW,
              ),
            );
        }
        if (batch.length === 0) return;
        const result = await writer.write(batch);
        accepted += result.accepted;
        duplicates += result.duplicates;
        for (const count of Object.values(result.rejected)) rejected += count ?? 0;
      }
    }),
  );
  const seconds = (performance.now() - startedMs) / 1000;
  const self = process.cpuUsage(cpuBefore.self);
  const postgres = (await postgresCpuSeconds()) - cpuBefore.postgres;
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  console.log(
    `write path: ${Math.round(events / seconds)} events/s (${accepted} stored, ${duplicates} duplicates, ${rejected} rejected), cpu/event this process ` +
      `${((self.user + self.system) / events).toFixed(1)} µs + postgres ${((postgres * 1e6) / events).toFixed(1)} µs; ` +
      `writers ${writers}, batch ${batchSize}; load ${load}`,
  );
} finally {
  await pool.end();
  if (!values['keep-stack']) {
    await remove();
  }
}

/** CPU seconds (user + system) of the postmaster and its children. */
async function postgresCpuSeconds(): Promise<number> {
  const postmaster = Number.parseInt(
    (await readFile(path.join(layout.dataDir, 'pids', 'postgres.pid'), 'utf8')).trim(),
    10,
  );
  let seconds = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length < 13) continue;
    if (Number(entry) === postmaster || Number(fields[1]) === postmaster)
      seconds += (Number(fields[11]) + Number(fields[12])) / 100;
    // Exited backends' CPU is in the postmaster's cutime + cstime.
    if (Number(entry) === postmaster) seconds += (Number(fields[13]) + Number(fields[14])) / 100;
  }
  return seconds;
}
