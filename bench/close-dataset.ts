import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Contract } from '../contracts/contract.ts';
import { canonicalEventBytes } from '../contracts/event-signature.ts';
import { billingPeriod } from '../domain/period.ts';
import { contractToYaml } from '../contracts/contract.ts';
import { publishContractTexts, publishRateCardRoot } from '../terms/index.ts';
import { repositoryRoot } from '../config/paths.ts';
import { demoContract, demoCustomers, type DemoCustomer } from '../demo/samples/sample-customers.ts';
import { freshSourceKeys, usageEventCount, usageEventStream } from '../demo/samples/sample-usage.ts';

/**
 * The close benchmark's input: N demo customers' month of signed usage from the seeded generator
 * (which the sample rate cards price), as the exact rows ingest would have stored, in arrival order.
 *
 * Arrival order matters: ingest writes events as they come, interleaved across customers, so one
 * customer's month is spread over many heap pages and the close's index range scans fetch them one
 * by one. Loading customer after customer would put each month on contiguous pages and flatter the
 * close. So each customer's events (in time order) go to a file of their own, and a k-way merge on
 * the receipt time writes the two COPY files; that result is cached by (customers, events, seed).
 */
export interface CloseDatasetOptions {
  readonly customers: number;
  /** Target total; the generator's scale is chosen so the total is the closest it can make. */
  readonly events: number;
  readonly period: string;
  readonly seed: number;
  /** Where generated datasets are cached, one folder per (customers, events, seed, period). */
  readonly cacheDir: string;
  readonly log: (line: string) => void;
}

export interface CloseDataset {
  readonly folder: string;
  readonly keysFile: string;
  readonly eventsFile: string;
  readonly manifest: DatasetManifest;
}

interface DatasetManifest {
  readonly customers: number;
  readonly period: string;
  readonly seed: number;
  readonly scale: number;
  readonly totalEvents: number;
  readonly eventsByCustomer: Readonly<Record<string, number>>;
  readonly generateMs: number;
  readonly bytes: number;
}

/** Receipt = event time + 1.5 s + a per-customer offset below a second: monotonic per customer, as a stream's receipt is. */
const RECEIPT_DELAY_MS = 1500;

/** The benchmark's customers: the generator's demo profiles. */
export function benchCustomers(count: number): DemoCustomer[] {
  return demoCustomers(count);
}

/**
 * A demo customer's contract for the benchmark: its terms (commit, credits) as the generator gives
 * them, synced to the Postgres ledger sink, and without review thresholds, which would stop an
 * invoice for a person (the benchmark measures the unattended close).
 */
export function benchContract(customer: DemoCustomer): Contract {
  const { review: _review, ...terms } = demoContract(customer);
  return { ...terms, provider: { kind: 'ledger', customer: customer.customerId } };
}

/** Publishes the benchmark's contracts and the sample rate cards, as Finance would before a close. */
export async function publishBenchTerms(pool: pg.Pool, customers: readonly DemoCustomer[]): Promise<void> {
  await publishRateCardRoot(pool, path.join(repositoryRoot, 'ratecards'), { publishedBy: 'bench' });
  await publishContractTexts(
    pool,
    customers.map((customer) => ({
      file: `${customer.customerId}.yaml`,
      text: contractToYaml(benchContract(customer)),
    })),
    { publishedBy: 'bench' },
  );
}

/** The generator scale whose total is closest to `target` (the count is exact, see usageEventCount). */
export function scaleForTotal(
  customers: readonly DemoCustomer[],
  period: string,
  target: number,
): { scale: number; total: number } {
  const total = (scale: number): number =>
    customers.reduce((sum, customer) => sum + usageEventCount(customer, { period, scale }), 0);
  let low = 0;
  let high = 1;
  while (total(high) < target) high *= 2;
  for (let step = 0; step < 60; step += 1) {
    const middle = (low + high) / 2;
    if (total(middle) < target) low = middle;
    else high = middle;
  }
  return Math.abs(total(low) - target) < Math.abs(total(high) - target)
    ? { scale: low, total: total(low) }
    : { scale: high, total: total(high) };
}

/** Generates the dataset, or finds it in the cache. */
export async function prepareCloseDataset(options: CloseDatasetOptions): Promise<CloseDataset> {
  const folder = path.join(
    options.cacheDir,
    `${options.period}-c${options.customers}-e${options.events}-s${options.seed}`,
  );
  const dataset = (manifest: DatasetManifest): CloseDataset => ({
    folder,
    keysFile: path.join(folder, 'usage_event_keys.copy'),
    eventsFile: path.join(folder, 'usage_events.copy'),
    manifest,
  });
  const cached = await readFile(path.join(folder, 'manifest.json'), 'utf8').then(
    (text) => JSON.parse(text) as DatasetManifest,
    () => undefined,
  );
  if (cached !== undefined) {
    options.log(`dataset: cached in ${folder} (${cached.totalEvents} events, ${(cached.bytes / 1e9).toFixed(2)} GB)`);
    return dataset(cached);
  }
  await rm(folder, { recursive: true, force: true });
  const partsDir = path.join(folder, 'by-customer');
  await mkdir(partsDir, { recursive: true });
  const customers = benchCustomers(options.customers);
  const { scale, total } = scaleForTotal(customers, options.period, options.events);
  options.log(
    `dataset: generating ${total} signed events of ${customers.length} customers (generator scale ${scale.toFixed(4)}) into ${folder}`,
  );
  const startedMs = performance.now();

  // 1. Each customer's events, in time order, as COPY rows prefixed with the receipt time.
  const eventsByCustomer: Record<string, number> = {};
  // The stored rows keep their signatures; the close never verifies them, so any keys do.
  const keys = freshSourceKeys();
  let generated = 0;
  let lastReportMs = performance.now();
  for (const [index, customer] of customers.entries()) {
    const out = createWriteStream(path.join(partsDir, `${index}.rows`), { highWaterMark: 1 << 20 });
    let count = 0;
    for (const event of usageEventStream({
      customers: [customer],
      period: options.period,
      seed: options.seed,
      scale,
      keys,
    })) {
      const eventMs = Date.parse(event.timestamp);
      const receivedMs = eventMs + RECEIPT_DELAY_MS + (index % 1000);
      const bodySha256 = createHash('sha256').update(canonicalEventBytes(event), 'utf8').digest('hex');
      const sku = event.metadata.sku;
      if (typeof sku !== 'string') throw new Error(`event ${event.event_id} has no sku`);
      // The columns of usage_events (see db/queries/usage-events.ts insertNewUsageEvents) but stream_seq,
      // which the merge assigns in arrival order. late is false: no closure exists while ingest writes.
      const row = [
        event.source,
        event.event_id,
        event.customer_id,
        event.timestamp,
        new Date(receivedMs).toISOString(),
        event.timestamp.slice(0, 7),
        event.unit,
        sku,
        event.quantity,
        JSON.stringify(event.metadata),
        String(event.schema_version),
        event.timestamp,
        event.quantity,
        event.signature,
        `\\x${bodySha256}`,
        'f',
      ]
        .map(copyText)
        .join('\t');
      if (!out.write(`${receivedMs}\t${row}\n`)) await once(out, 'drain');
      count += 1;
    }
    out.end();
    await once(out, 'finish');
    eventsByCustomer[customer.customerId] = count;
    generated += count;
    if (performance.now() - lastReportMs > 15_000) {
      lastReportMs = performance.now();
      options.log(
        `  ${generated} / ${total} events (${Math.round(generated / ((lastReportMs - startedMs) / 1000))} events/s)`,
      );
    }
  }
  if (generated !== total) throw new Error(`generated ${generated} events, expected ${total}`);
  const period = billingPeriod(options.period);
  options.log(`  generated in ${((performance.now() - startedMs) / 1000).toFixed(1)} s; merging into arrival order`);

  // 2. k-way merge on the receipt time → the two COPY files, with stream sequence numbers.
  const readers = await Promise.all(
    customers.map(async (_customer, index) => LineReader.open(path.join(partsDir, `${index}.rows`))),
  );
  const heap = new MergeHeap();
  for (const [index, reader] of readers.entries()) {
    const line = await reader.next();
    if (line !== undefined) heap.push(mergeEntry(line, index));
  }
  const keysOut = createWriteStream(path.join(folder, 'usage_event_keys.copy.partial'), { highWaterMark: 1 << 20 });
  const eventsOut = createWriteStream(path.join(folder, 'usage_events.copy.partial'), { highWaterMark: 1 << 20 });
  let sequence = 0;
  for (let entry = heap.pop(); entry !== undefined; entry = heap.pop()) {
    sequence += 1;
    const row = entry.line.slice(entry.line.indexOf('\t') + 1);
    const fields = row.split('\t');
    const [source, eventId, , eventTime, receivedAt] = fields;
    if (fields[3] === undefined || fields[3] < period.start || fields[3] >= period.end)
      throw new Error(`event outside ${options.period}: ${row}`);
    const keyRow = `${source}\t${eventId}\t${fields[14]}\t${eventTime}\t${receivedAt}\t${sequence}\n`;
    const keysFull = !keysOut.write(keyRow);
    const eventsFull = !eventsOut.write(`${row}\t${sequence}\n`);
    if (keysFull) await once(keysOut, 'drain');
    if (eventsFull) await once(eventsOut, 'drain');
    const next = await readers[entry.reader]?.next();
    if (next !== undefined) heap.push(mergeEntry(next, entry.reader));
  }
  await Promise.all(readers.map((reader) => reader.close()));
  keysOut.end();
  eventsOut.end();
  await Promise.all([once(keysOut, 'finish'), once(eventsOut, 'finish')]);
  if (sequence !== total) throw new Error(`merged ${sequence} events, expected ${total}`);
  await rm(partsDir, { recursive: true, force: true });
  await rename(path.join(folder, 'usage_event_keys.copy.partial'), path.join(folder, 'usage_event_keys.copy'));
  await rename(path.join(folder, 'usage_events.copy.partial'), path.join(folder, 'usage_events.copy'));
  const bytes =
    (await stat(path.join(folder, 'usage_event_keys.copy'))).size +
    (await stat(path.join(folder, 'usage_events.copy'))).size;
  const manifest: DatasetManifest = {
    customers: customers.length,
    period: options.period,
    seed: options.seed,
    scale,
    totalEvents: total,
    eventsByCustomer,
    generateMs: performance.now() - startedMs,
    bytes,
  };
  await writeFile(path.join(folder, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  options.log(`  dataset ready in ${(manifest.generateMs / 1000).toFixed(1)} s (${(bytes / 1e9).toFixed(2)} GB)`);
  return dataset(manifest);
}

/**
 * Stores the dataset as ingest would have: COPY into the key table and the month partition (created
 * with ensure_usage_events_partition, as ingest does), then the running totals and the period outbox
 * rows that ingest's statement upserts, computed from the stored events; then VACUUM (ANALYZE).
 */
export async function loadCloseDataset(
  pool: pg.Pool,
  dataset: CloseDataset,
  log: (line: string) => void,
): Promise<{ loadMs: number }> {
  const startedMs = performance.now();
  const periodStart = billingPeriod(dataset.manifest.period).start;
  const {
    rows: [partition],
  } = await pool.query<{ name: string }>('SELECT ensure_usage_events_partition($1) AS name', [periodStart]);
  if (partition === undefined) throw new Error('no partition');
  log(`load: COPY ${dataset.manifest.totalEvents} events into usage_event_keys and ${partition.name}`);
  const copy = async (table: string, columns: string, file: string): Promise<void> => {
    const client = await pool.connect();
    try {
      await pipeline(
        createReadStream(file, { highWaterMark: 1 << 20 }),
        client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`)),
      );
    } finally {
      client.release();
    }
  };
  await Promise.all([
    copy('usage_event_keys', 'source, event_id, body_sha256, event_time, received_at, stream_seq', dataset.keysFile),
    copy(
      partition.name,
      'source, event_id, customer_id, event_time, received_at, period, unit, sku, quantity, metadata, schema_version, ' +
        'signed_timestamp, signed_quantity, signature, body_sha256, late, stream_seq',
      dataset.eventsFile,
    ),
  ]);
  log(`  copied in ${((performance.now() - startedMs) / 1000).toFixed(1)} s; running totals and period outbox`);
  await pool.query(
    `INSERT INTO usage_running_totals (customer_id, period, sku, unit, event_count, quantity_sum, updated_at)
     SELECT customer_id, period, sku, unit, count(*), sum(quantity), max(received_at) FROM usage_events WHERE period = $1
     GROUP BY customer_id, period, sku, unit`,
    [dataset.manifest.period],
  );
  // The outbox row as the customer's first ingest batch creates it; workflow_started_at stays empty
  // until the workflow is started (by the benchmark here, the period opener in production).
  await pool.query(
    `INSERT INTO customer_periods (customer_id, period, first_event_at, first_received_at, created_at)
     SELECT DISTINCT ON (customer_id) customer_id, period, event_time, received_at, received_at FROM usage_events WHERE period = $1
     ORDER BY customer_id, received_at, stream_seq`,
    [dataset.manifest.period],
  );
  // Over a real month autovacuum keeps up with ingest; after a bulk load it would start on the new
  // rows in the middle of the close and take its CPU. So vacuum (and analyze) now, as part of the load.
  await pool.query('VACUUM (ANALYZE) usage_event_keys, usage_events, usage_running_totals, customer_periods');
  const {
    rows: [counts],
  } = await pool.query<{ events: string; keys: string; totals: string; periods: string }>(
    `SELECT (SELECT count(*) FROM usage_events) AS events, (SELECT count(*) FROM usage_event_keys) AS keys,
            (SELECT sum(event_count) FROM usage_running_totals) AS totals, (SELECT count(*) FROM customer_periods) AS periods`,
  );
  const expected = String(dataset.manifest.totalEvents);
  if (
    counts?.events !== expected ||
    counts.keys !== expected ||
    counts.totals !== expected ||
    counts.periods !== String(dataset.manifest.customers)
  ) {
    throw new Error(
      `load mismatch: ${JSON.stringify(counts)}, expected ${expected} events of ${dataset.manifest.customers} customers`,
    );
  }
  const loadMs = performance.now() - startedMs;
  log(`  loaded and analysed in ${(loadMs / 1000).toFixed(1)} s`);
  return { loadMs };
}

/** A value in PostgreSQL's COPY text format. */
function copyText(value: string): string {
  return /[\\\t\n\r]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : value;
}

interface MergeEntry {
  readonly key: number;
  readonly reader: number;
  readonly line: string;
}

function mergeEntry(line: string, reader: number): MergeEntry {
  return { key: Number.parseInt(line.slice(0, line.indexOf('\t')), 10), reader, line };
}

/** A binary min-heap on (receipt time, customer index). */
class MergeHeap {
  private readonly items: MergeEntry[] = [];

  push(entry: MergeEntry): void {
    const items = this.items;
    items.push(entry);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(items[index] as MergeEntry, items[parent] as MergeEntry)) break;
      [items[index], items[parent]] = [items[parent] as MergeEntry, items[index] as MergeEntry];
      index = parent;
    }
  }

  pop(): MergeEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let smallest = index;
      if (left < items.length && before(items[left] as MergeEntry, items[smallest] as MergeEntry)) smallest = left;
      if (right < items.length && before(items[right] as MergeEntry, items[smallest] as MergeEntry)) smallest = right;
      if (smallest === index) return top;
      [items[index], items[smallest]] = [items[smallest] as MergeEntry, items[index] as MergeEntry];
      index = smallest;
    }
  }
}

function before(a: MergeEntry, b: MergeEntry): boolean {
  return a.key < b.key || (a.key === b.key && a.reader < b.reader);
}

/** Reads a file line by line in 64 KiB chunks (many are open at once in the merge). */
class LineReader {
  private lines: string[] = [];
  private position = 0;
  /** Bytes after the last newline read so far (kept as bytes: a chunk may end inside a UTF-8 sequence). */
  private rest: Buffer = Buffer.alloc(0);
  private done = false;

  private constructor(private readonly handle: FileHandle) {}

  static async open(file: string): Promise<LineReader> {
    return new LineReader(await open(file, 'r'));
  }

  async next(): Promise<string | undefined> {
    while (this.position >= this.lines.length) {
      if (this.done) return undefined;
      const chunk = Buffer.alloc(1 << 16);
      const { bytesRead } = await this.handle.read(chunk, 0, chunk.length, null);
      const bytes = Buffer.concat([this.rest, chunk.subarray(0, bytesRead)]);
      if (bytesRead === 0) {
        this.done = true;
        this.lines = bytes.length === 0 ? [] : [bytes.toString('utf8')];
        this.rest = Buffer.alloc(0);
      } else {
        const lastNewline = bytes.lastIndexOf(10);
        this.lines = lastNewline < 0 ? [] : bytes.toString('utf8', 0, lastNewline).split('\n');
        this.rest = Buffer.from(bytes.subarray(lastNewline + 1));
      }
      this.position = 0;
    }
    const line = this.lines[this.position] as string;
    this.position += 1;
    return line;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
