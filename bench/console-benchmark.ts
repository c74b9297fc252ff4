import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { addUser } from '../access/index.ts';
import { repositoryRoot } from '../config/services.ts';
import { createConsoleServer } from '../console/server.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { removeStackData, startStack, stopService, type StackLayout } from '../stack/index.ts';

/**
 * The console's read paths at scale (SPEC §9 speed): a Postgres of its own holding N invoices over
 * twelve periods and E open exceptions (each with its full review context and four months of usage
 * for its customer), the console on a real port, and sequential requests over HTTP with a signed-in
 * session. Reports p50 / p95 / max per route and the ratio of each p95 to `GET /healthz` (a round
 * trip through the same server, session check and one `SELECT 1`) measured in the same run.
 */
export interface ConsoleBenchOptions {
  readonly invoices: number;
  readonly exceptions: number;
  readonly eventsPerCustomerMonth: number;
  readonly requests: number;
  readonly portBase: number;
  readonly toolsDir: string;
  readonly keepStack: boolean;
  readonly log: (line: string) => void;
}

export interface RouteTiming {
  readonly route: string;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
  readonly ratioToBaseline: number;
}

const PERIODS = 12;
const PASSWORD = 'bench-password-long-enough';

export async function runConsoleBench(options: ConsoleBenchOptions): Promise<RouteTiming[]> {
  const { log } = options;
  const benchDir = path.join(repositoryRoot, '.tally', `bench-console-${options.portBase}`);
  const layout: StackLayout = {
    dataDir: path.join(benchDir, 'stack'),
    toolsDir: options.toolsDir,
    portBase: options.portBase,
    temporalUi: false,
    namespace: 'billing',
  };
  const quiet = (): void => undefined;
  await stopService(layout, 'postgres', quiet);
  await removeStackData(layout);
  log(`starting Postgres under ${layout.dataDir} (port ${options.portBase})`);
  const endpoints = await startStack(layout, quiet, ['postgres']);
  const pool = createPool(endpoints.databaseUrl, { max: 10, applicationName: 'tally-bench-console' });
  // Reads never reach Temporal: a lazy connection to nowhere keeps the server honest about that.
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }), namespace: 'billing' });
  try {
    await migrate(pool);
    const loadStarted = Date.now();
    await loadDataset(pool, options, log);
    log(`dataset loaded in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s; vacuum analyze`);
    await pool.query('VACUUM ANALYZE');
    await addUser(pool, { operator: 'bench' }, { username: 'bench', role: 'viewer', password: PASSWORD });

    const app = await createConsoleServer({
      pool,
      temporal,
      temporalNamespace: 'billing',
      settings: {
        sessionTtlMs: 3_600_000,
        secureCookie: false,
        sessionSecret: 'bench-secret-bench-secret-bench-secret',
        loginRatePerMinute: 1_000,
        temporalUiUrl: undefined,
      },
      loadRateCardVersions: async () => [],
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const login = await fetch(`${base}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'bench', password: PASSWORD }),
      });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const exceptionIds = (
        await pool.query<{ exception_id: string }>(
          "SELECT exception_id FROM review_exceptions WHERE status IN ('open', 'escalated')",
        )
      ).rows.map((row) => row.exception_id);
      const cursors = (
        await pool.query<{ period: string; customer_id: string }>(
          "SELECT period, customer_id FROM invoices WHERE mode = 'live' ORDER BY random() LIMIT 500",
        )
      ).rows;
      const random = seeded(7);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const latest = periodName(PERIODS - 1);

      const routes: { name: string; url: () => string }[] = [
        { name: 'GET /healthz (baseline)', url: () => '/healthz' },
        {
          name: 'GET /api/v1/exceptions?status=open (queue, random page, rotating order)',
          url: () =>
            `/api/v1/exceptions?status=open&sort=${pick(['priority', 'age', 'amount'])}&offset=${Math.floor(random() * (options.exceptions / 50)) * 50}`,
        },
        {
          name: 'GET /exceptions (queue page, HTML)',
          url: () => `/exceptions?offset=${Math.floor(random() * 100) * 50}`,
        },
        {
          name: 'GET /api/v1/invoices (list: first page, deep cursor, period, status or customer)',
          url: () => {
            const cursor = pick(cursors);
            return pick([
              '/api/v1/invoices',
              `/api/v1/invoices?after=${encodeURIComponent(`${cursor.period}|${cursor.customer_id}`)}`,
              `/api/v1/invoices?period=${latest}`,
              '/api/v1/invoices?status=draft',
              `/api/v1/invoices?customer=${encodeURIComponent(cursor.customer_id)}`,
            ]);
          },
        },
        {
          name: 'GET /invoices (list page, HTML)',
          url: () => `/invoices?period=${periodName(Math.floor(random() * PERIODS))}`,
        },
        {
          name: 'GET /api/v1/exceptions/:id (detail: context, usage by day x4 periods, invoices, decisions)',
          url: () => `/api/v1/exceptions/${encodeURIComponent(pick(exceptionIds))}`,
        },
        {
          name: 'GET /exceptions/:id (detail page, HTML)',
          url: () => `/exceptions/${encodeURIComponent(pick(exceptionIds))}`,
        },
      ];

      const timings: { route: string; samples: number[] }[] = [];
      for (const route of routes) {
        // Warm-up: the first requests pay for plans and caches; they are not counted.
        for (let index = 0; index < 10; index++) await timedGet(base, route.url(), cookie);
        const samples: number[] = [];
        for (let index = 0; index < options.requests; index++) samples.push(await timedGet(base, route.url(), cookie));
        timings.push({ route: route.name, samples });
      }
      const baseline = percentile(timings[0]?.samples ?? [1], 0.95);
      return timings.map(({ route, samples }) => ({
        route,
        p50Ms: percentile(samples, 0.5),
        p95Ms: percentile(samples, 0.95),
        maxMs: Math.max(...samples),
        ratioToBaseline: percentile(samples, 0.95) / baseline,
      }));
    } finally {
      await app.close();
    }
  } finally {
    await pool.end();
    await temporal.connection.close().catch(() => undefined);
    if (!options.keepStack) {
      await stopService(layout, 'postgres', quiet);
      await removeStackData(layout);
    }
  }
}

async function timedGet(base: string, url: string, cookie: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${base}${url}`, { headers: { cookie } });
  await response.arrayBuffer();
  const elapsed = performance.now() - started;
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return elapsed;
}

function percentile(samples: readonly number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? 0;
}

/** Period `index` of the dataset: 2025-11 … 2026-10. */
function periodName(index: number): string {
  const month = 10 + index; // 2025-11 is month 10 counted from 2025-01 (0-based)
  return `${2025 + Math.floor(month / 12)}-${String((month % 12) + 1).padStart(2, '0')}`;
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Invoices: `customers × 12` (issued for the first eleven periods, a draft for the last), each with
 * a realistic document (usage lines with tiers, a fee, a discount, a credit). Open exceptions on the
 * drafts of the first E customers, with the context the workflow records (draft, contract, previous
 * invoices). Usage: `eventsPerCustomerMonth` events per exception customer and month for the four
 * months the detail charts. All in SQL (generate_series), so the load takes seconds, not hours.
 */
async function loadDataset(
  pool: ReturnType<typeof createPool>,
  options: ConsoleBenchOptions,
  log: (line: string) => void,
): Promise<void> {
  const customers = Math.ceil(options.invoices / PERIODS);
  const periods = Array.from({ length: PERIODS }, (_, index) => periodName(index));
  log(`loading ${customers * PERIODS} invoices (${customers} customers × ${PERIODS} periods)`);
  await pool.query(
    `INSERT INTO period_snapshots (snapshot_id, customer_id, period, mode, calculation_version, event_cutoff, event_count, event_fingerprint, aggregates, counters)
     SELECT 'snap:bench:' || p, 'bench', p, 'live', 'calc-bench', now(), 0, repeat('0', 64), '[]', '{}' FROM unnest($1::text[]) AS p`,
    [periods],
  );
  const document = (status: 'issued' | 'draft') => `jsonb_build_object(
      'customer_id', c, 'period', p, 'currency', 'USD',
      'period_start', p || '-01T00:00:00.000Z', 'period_end', p || '-28T00:00:00.000Z',
      'lines', jsonb_build_array(
        jsonb_build_object('kind', 'usage', 'line_key', 'tokens-us', 'price_id', 'tokens-us', 'sku', 'llm.tokens', 'unit', 'tokens',
          'quantity', '1520000', 'billable_quantity', '1520', 'amount', '1040.00', 'event_count', 412,
          'tiers', jsonb_build_array(
            jsonb_build_object('tier', 1, 'quantity', '1000', 'unit_price', '0.10', 'amount', '100'),
            jsonb_build_object('tier', 2, 'quantity', '520', 'unit_price', '0.05', 'amount', '26'))),
        jsonb_build_object('kind', 'usage', 'line_key', 'storage-us', 'price_id', 'storage-us', 'sku', 'storage', 'unit', 'GB',
          'quantity', '812', 'billable_quantity', '812', 'amount', '81.20', 'event_count', 30,
          'tiers', jsonb_build_array(jsonb_build_object('tier', 1, 'quantity', '812', 'unit_price', '0.10', 'amount', '81.2'))),
        jsonb_build_object('kind', 'fee', 'line_key', 'platform', 'price_id', 'platform', 'description', 'Platform fee', 'amount', '500.00'),
        jsonb_build_object('kind', 'discount', 'line_key', 'launch-10', 'price_id', 'launch-10', 'amount', '-104.00'),
        jsonb_build_object('kind', 'credit', 'line_key', 'credit:promo', 'credit_id', 'promo', 'credit_kind', 'promotional', 'amount', '-50.00')),
      'subtotal', '1517.20', 'total', '1467.20', 'unpriced', '[]'::jsonb,
      'events', jsonb_build_object('read', 442, 'duplicates', 3, 'outside_period', 0),
      'calculation_version', 'calc-bench',
      'ratecard_versions', jsonb_build_array(jsonb_build_object('ratecard', 'standard', 'effective_from', '2026-10-01T00:00:00.000Z', 'content_hash', repeat('a', 64)))
      ${status === 'issued' ? `, 'invoice_number', c || '-' || lpad(i::text, 4, '0'), 'issued_at', p || '-05T00:00:00.000Z', 'event_cutoff', p || '-02T00:00:00.000Z', 'event_fingerprint', repeat('f', 64)` : ''})`;
  for (const [index, period] of periods.entries()) {
    const issued = index < PERIODS - 1;
    await pool.query(
      `INSERT INTO invoices (invoice_id, customer_id, period, mode, calculation_version, snapshot_id, status, currency, subtotal, total, document, invoice_number, issued_at)
       SELECT 'inv:' || c || ':' || p, c, p, 'live', 'calc-bench', 'snap:bench:' || p, $3, 'USD', 1517.20, 1467.20, ${document(issued ? 'issued' : 'draft')},
              ${issued ? `c || '-' || lpad(i::text, 4, '0'), (p || '-05T00:00:00Z')::timestamptz` : 'NULL, NULL'}
         FROM generate_series(1, $1::int) AS n, LATERAL (SELECT 'cust-' || lpad(n::text, 6, '0') AS c, $2::text AS p, $4::int AS i) v`,
      [customers, period, issued ? 'issued' : 'draft', index + 1],
    );
  }
  const latest = periods[PERIODS - 1] as string;
  log(`loading ${options.exceptions} open exceptions on ${latest}'s drafts`);
  await pool.query(
    `INSERT INTO review_exceptions (exception_id, invoice_id, customer_id, period, kind, breaches, context, workflow_id, status, opened_at, escalated_at)
     SELECT 'exc:' || i.invoice_id || ':threshold:1', i.invoice_id, i.customer_id, i.period, 'threshold',
            jsonb_build_array(jsonb_build_object('rule', 'total_above', 'detail', 'total 1467.20 USD is above 1000.00')),
            jsonb_build_object('draft', i.document, 'usage', i.document -> 'lines',
              'contract', jsonb_build_object('customer_id', i.customer_id, 'ratecard', 'standard', 'currency', 'USD',
                'commit', jsonb_build_object('amount', '1000.00'), 'review', jsonb_build_object('total_above', '1000.00', 'timeout', '72h')),
              'previousInvoices', '[]'::jsonb, 'priorDecisions', '[]'::jsonb),
            'billing:' || i.customer_id || ':' || i.period,
            CASE WHEN n % 10 = 0 THEN 'escalated' ELSE 'open' END,
            now() - make_interval(hours => (n % 400)::int), CASE WHEN n % 10 = 0 THEN now() - make_interval(hours => 1) END
       FROM (SELECT row_number() OVER (ORDER BY customer_id) AS n, * FROM invoices WHERE period = $1 ORDER BY customer_id LIMIT $2) i`,
    [latest, options.exceptions],
  );
  const months = periods.slice(-4);
  log(
    `loading usage: ${options.eventsPerCustomerMonth} events per exception customer and month for ${months.join(', ')}`,
  );
  for (const month of months) {
    await pool.query('SELECT ensure_usage_events_partition($1::timestamptz)', [`${month}-15T00:00:00Z`]);
    await pool.query(
      `INSERT INTO usage_events (source, event_id, customer_id, event_time, received_at, period, unit, sku, quantity, metadata,
                                 schema_version, signed_timestamp, signed_quantity, signature, body_sha256, late, stream_seq)
       SELECT 'bench', c || ':' || $1 || ':' || e, c, t, t, $1, 'tokens', 'llm.tokens', 1000 + e, jsonb_build_object('sku', 'llm.tokens'),
              1, t::text, (1000 + e)::text, 'v1=bench', '\\x00'::bytea, false, e
         FROM generate_series(1, $2::int) AS n, generate_series(1, $3::int) AS e,
              LATERAL (SELECT 'cust-' || lpad(n::text, 6, '0') AS c,
                              ($1 || '-01T00:00:00Z')::timestamptz + make_interval(hours => (e * 641) % 650) AS t) v`,
      [month, options.exceptions, options.eventsPerCustomerMonth],
    );
  }
}
