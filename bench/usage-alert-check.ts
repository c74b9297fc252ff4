// Usage-alert check benchmark: one customer-period with N stored events. Times a usage-alert check
// (running totals → valuation → thresholds, one transaction) against a baseline measured in the
// same run on the same data: the snapshot's GROUP BY over the customer-period's events, which an
// event-based check would have to run every time.
//   npx tsx bench/usage-alert-check.ts [--events 200000]
// Uses the embedded Postgres (TALLY_PORT_BASE / DATABASE_URL as for `tally`), in a scratch database
// `tally_bench_alerts`. Prints a Markdown table for docs/BENCHMARKS.md.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { checkUsageAlerts } from '../activities/index.ts';
import { publishContractFiles, publishedTerms, publishRateCardRoot } from '../terms/index.ts';
import { parseServicesEnv, repositoryRoot } from '../config/services.ts';
import { canonicalEventBytes } from '../contracts/event-signature.ts';
import { migrate } from '../db/migrate.ts';
import { createPool, withTransaction } from '../db/pool.ts';
import { loadUsageAggregates } from '../db/queries/usage-aggregates.ts';
import { ensureUsageEventPartitions, insertNewUsageEvents, type UsageEventRow } from '../db/queries/usage-events.ts';
import { billingPeriod } from '../domain/period.ts';
import { Decimal, formatMoney } from '../domain/money.ts';
import { ratePeriod, usageAggregationPlan } from '../domain/rating/index.ts';
import { createWebhookNotifier } from '../providers/webhook-notifier.ts';
import { resolveEndpoints, startStack, userStackLayout } from '../stack/index.ts';
import { demoCustomers, SAMPLE_CONTRACTS_DIR } from '../demo/samples/sample-customers.ts';
import { freshSourceKeys, usageEventStream } from '../demo/samples/sample-usage.ts';

const args = new Map<string, string>();
for (let index = 2; index < process.argv.length; index += 2)
  args.set(process.argv[index] ?? '', process.argv[index + 1] ?? '');
const events = Number.parseInt(args.get('--events') ?? '200000', 10);
const RUNS = 7;
const PERIOD = '2026-11';

async function main(): Promise<void> {
  const env = parseServicesEnv();
  const layout = userStackLayout(env);
  const { embedded, endpoints } = resolveEndpoints(env, layout);
  if (embedded.includes('postgres'))
    await startStack(layout, (line) => process.stderr.write(`${line}\n`), ['postgres']);
  const url = new URL(endpoints.databaseUrl);
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS tally_bench_alerts WITH (FORCE)');
  await admin.query('CREATE DATABASE tally_bench_alerts');
  await admin.end();
  url.pathname = '/tally_bench_alerts';
  const pool = createPool(url.toString(), { max: 4 });
  try {
    await migrate(pool);
    const { customerId, stored } = await store(pool);
    await publishRateCardRoot(pool, path.join(repositoryRoot, 'ratecards'), { publishedBy: 'bench' });
    await publishContractFiles(pool, [path.join(SAMPLE_CONTRACTS_DIR, `${customerId}.yaml`)], { publishedBy: 'bench' });
    const source = publishedTerms(pool);
    const deps = { pool, terms: source, notifier: createWebhookNotifier(undefined) };
    const terms = await source.current(customerId);
    const plan = usageAggregationPlan(terms.versions, billingPeriod(PERIOD));

    let aggregates: Awaited<ReturnType<typeof loadUsageAggregates>> = [];
    const baseline = await median(async () => {
      aggregates = await loadUsageAggregates(pool, plan, { customerId });
    });
    // What the invoice would say about the same events: usage lines plus discounts, rated exactly.
    const exact = ratePeriod({
      customerId,
      period: billingPeriod(PERIOD),
      contract: terms.contract,
      versions: terms.versions,
      aggregates,
      counters: { read: stored, duplicates: 0, outside_period: 0 },
      credits: [],
      calculationVersion: 'bench',
    })
      .lines.filter((line) => line.kind === 'usage' || line.kind === 'discount')
      .reduce((sum, line) => sum.plus(line.amount), new Decimal(0));
    let usage = '';
    const check = await median(async () => {
      const result = await checkUsageAlerts(deps, { customerId, period: PERIOD });
      if (result.status !== 'checked') throw new Error(`check ${result.status}`);
      usage = `${result.usage} ${result.currency}${result.exact ? '' : ' (estimate)'}`;
    });
    const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM usage_running_totals');
    process.stdout.write(
      `${stored.toLocaleString('en-US')} stored events of one customer in ${PERIOD}, ${rows[0]?.n ?? '?'} running totals; month-to-date usage ${usage}; rated exactly from the events ${formatMoney(exact, terms.contract.currency)}.\n\n`,
    );
    process.stdout.write('| run (median of 7) | ms | × baseline |\n| --- | ---: | ---: |\n');
    process.stdout.write(`| the snapshot's GROUP BY over the events (baseline) | ${baseline.toFixed(1)} | 1.0 |\n`);
    process.stdout.write(
      `| \`checkUsageAlerts\` (totals, terms files, ledger, valuation, transaction) | ${check.toFixed(1)} | ${(check / baseline).toFixed(3)} |\n`,
    );
  } finally {
    await pool.end();
  }
}

/** Stores up to `events` generated events of the fixture customer `acme` for the period, through ingest's insert statement. */
async function store(pool: pg.Pool): Promise<{ customerId: string; stored: number }> {
  const [acme] = demoCustomers(1);
  if (acme === undefined) throw new Error('no customer');
  const stream = usageEventStream({
    customers: [acme],
    period: PERIOD,
    seed: 11,
    scale: Math.ceil(events / 770) + 1,
    keys: freshSourceKeys(),
  });
  let batch: UsageEventRow[] = [];
  let stored = 0;
  const flush = async (): Promise<void> => {
    const sorted = batch.sort((a, b) =>
      a.source < b.source ? -1 : a.source > b.source ? 1 : a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0,
    );
    await withTransaction(pool, async (client) => {
      await ensureUsageEventPartitions(client, [sorted[0]?.eventTime ?? `${PERIOD}-01T00:00:00Z`]);
      stored += (await insertNewUsageEvents(client, sorted)).length;
    });
    batch = [];
  };
  for (const event of stream) {
    if (stored + batch.length === events) break;
    batch.push({
      source: event.source,
      eventId: event.event_id,
      customerId: event.customer_id,
      eventTime: event.timestamp,
      receivedAt: event.timestamp,
      unit: event.unit,
      sku: event.metadata.sku as string,
      quantity: event.quantity,
      metadataJson: JSON.stringify(event.metadata),
      schemaVersion: 1,
      signature: event.signature,
      bodySha256Hex: createHash('sha256').update(canonicalEventBytes(event), 'utf8').digest('hex'),
      streamSeq: stored + batch.length + 1,
      periodKnown: false,
    });
    if (batch.length === 2000) await flush();
  }
  if (batch.length > 0) await flush();
  // The generator repeats a few ids at large scales; a repeat is a duplicate, stored once.
  return { customerId: acme.customerId, stored };
}

async function median(work: () => Promise<void>): Promise<number> {
  await work();
  const times: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)] as number;
}

await main();
