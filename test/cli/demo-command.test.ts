import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../db/pool.ts';
import { listInvoices } from '../../db/queries/invoices.ts';
import { trialBalance } from '../../db/queries/journal.ts';
import { listReviewExceptions } from '../../db/queries/review-exceptions.ts';
import { testStack } from '../harness/services.ts';
import { createTestDatabase } from '../harness/test-database.ts';
import { runTally, type TallyRun } from './run-tally.ts';

interface RunRecord {
  readonly runId: string;
  readonly customers: readonly string[];
}

let stackDir: string;
let pool: pg.Pool;
let environment: Record<string, string>;

beforeAll(async () => {
  stackDir = await mkdtemp(path.join(os.tmpdir(), 'tally-demo-test-'));
  const { endpoints } = testStack();
  // The shell of a user who ran the demo: the stack's services (here the test stack's, with a database,
  // stream and task queue of this file's own), nothing else.
  environment = {
    DATABASE_URL: await createTestDatabase('demo'),
    NATS_URL: endpoints.natsUrl,
    TEMPORAL_ADDRESS: endpoints.temporalAddress,
    TEMPORAL_NAMESPACE: endpoints.temporalNamespace,
    TALLY_STACK_DIR: stackDir,
    TALLY_INGEST_STREAM: 'DEMO_TEST_USAGE',
    TALLY_INGEST_SUBJECT_PREFIX: 'demo-test',
    TALLY_TASK_QUEUE: `demo-test-${process.pid}`,
  };
  pool = createPool(environment.DATABASE_URL as string, { max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await rm(stackDir, { recursive: true, force: true });
});

/** `tally demo` as a user runs it, on the test stack's services, with its workspace under a temporary stack dir. */
function runDemo(args: readonly string[] = []): Promise<TallyRun> {
  return runTally(['demo', ...args], environment);
}

async function runRecords(): Promise<RunRecord[]> {
  const runs = await readdir(path.join(stackDir, 'demo'));
  return Promise.all(
    runs
      .sort()
      .map(
        async (run) => JSON.parse(await readFile(path.join(stackDir, 'demo', run, 'run.json'), 'utf8')) as RunRecord,
      ),
  );
}

describe('tally demo', () => {
  it('bills a month of usage for 20 customers end to end, and a second run is a fresh month of its own', async () => {
    const first = await runDemo();
    expect(first.code, first.stderr).toBe(0);
    const [record] = await runRecords();
    if (record === undefined) throw new Error('the demo wrote no run.json');
    expect(record.customers).toHaveLength(20);

    // What it prints: each step, the exception and its approval, the adjustment, the checks.
    const out = first.stdout;
    expect(out).toMatch(
      /published [\d,]+ messages .*: [\d,]+ events, [\d,]+ exact repeats \([\d,]+ dropped by JetStream\), 11 broken/,
    );
    expect(out).toContain('rejected 11: malformed_json 3, schema_violation 4, bad_signature 2, unknown_source 2');
    expect(out).toContain('19 issued, 1 waiting for review');
    expect(out).toMatch(new RegExp(`exc:inv:soylent-${record.runId}:2026-10:threshold:1 +open`));
    expect(out).toMatch(/- total_above: total [\d.]+ EUR is above 100\.00/);
    expect(out).toMatch(/draft invoice \(EUR\): subtotal [\d.]+ EUR, total [\d.]+ EUR/);
    expect(out).toContain(
      `tally review approve exc:inv:soylent-${record.runId}:2026-10:threshold:1 --as demo-reviewer: exc:inv:soylent-${record.runId}:2026-10:threshold:1: approve by demo-reviewer`,
    );
    expect(out).toMatch(
      new RegExp(
        `globex-${record.runId} +globex-${record.runId}-0002 +usage:tokens-us +[\\d.]+ +USD +globex-${record.runId}-0001 \\(2026-10\\)`,
      ),
    );
    // One buyer billed by the AWS Marketplace (the sandbox, through the official SDK client).
    expect(out).toMatch(/aws-\w+-\w+: [\d,]+ events of llm\.tokens, batch\.jobs, db\.queries stored/);
    expect(out).toContain('provider sync: billed_by_marketplace (aws:210987654321)');
    expect(out).toMatch(
      /AWS BatchMeterUsage: [1-9]\d* calls, [\d,]+ records accepted, 0 pending; a second pass sent 0 records again/,
    );
    expect(out).toMatch(/what AWS now holds for the buyer .*: jobs \d+, queries \d+, tokens \d+/);
    // Corrections of closed October events and a backfill over October: written once, billed on November.
    const globex = `globex-${record.runId}`;
    expect(out).toMatch(new RegExp(`correction #\\d+: void api-gateway:[^ ]*${globex}[^ ]* accepted`));
    expect(out).toMatch(new RegExp(`correction #\\d+: replace api-gateway:[^ ]*${globex}[^ ]* accepted`));
    expect(out).toMatch(new RegExp(`${globex} +2026-10 +[\\d.]+ +[\\d.]+ +-[\\d.]+ +USD +.*corrections`));
    expect(out).toMatch(/run backfill:\S+: completed, 1\/1 customer-periods, 1 adjusted, Δ -[\d.]+ USD, 0 failures/);
    expect(out).toMatch(/the same plan run again: completed, (\d+) adjustment lines as before \(\1\)/);
    expect(out).toMatch(/a new plan over 2026-10: 0(\.00)? USD left to adjust/);
    expect(out).toMatch(/\d+ lines, -[\d.]+ in all: the plan's adjustment, billed once/);
    const backfilled = await pool.query<{ n: number; on_november: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE adjusting_invoice_id = $2)::int AS on_november
         FROM backfill_adjustments WHERE customer_id = $1`,
      [globex, `inv:${globex}:2026-11`],
    );
    expect(backfilled.rows[0]?.n).toBeGreaterThan(0);
    expect(backfilled.rows[0]?.on_november).toBe(backfilled.rows[0]?.n);
    const accepted = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM marketplace_outcomes o JOIN marketplace_buckets b USING (bucket_id) WHERE b.customer_id = $1 AND o.outcome = 'accepted'",
      [`aws-acme-${record.runId}`],
    );
    expect(accepted.rows[0]?.n).toBeGreaterThan(0);
    expect(out).toContain('invoices issued: 22');
    // The summary's exceptions: each rule once (with how many lines broke it), and who decided, or
    // that it waits for a reviewer (it said "open by ?" and repeated the rule per line).
    expect(out).toMatch(/exception exc:inv:soylent-\S+: total_above, approved by demo-reviewer\n/);
    expect(out).toMatch(/exception exc:shadow:\S+: shadow_variance( ×\d+)?, approved by demo-reviewer\n/);
    expect(out).toMatch(/exception exc:shadow:\S+: shadow_variance ×[2-9], open, waiting for a reviewer\n/);
    expect(out).not.toMatch(/by \?|shadow_variance, shadow_variance/);
    expect(out).toContain('provider sync: 22 of 22 invoices synced to the ledger sink');
    expect(out).toContain('0 differences');
    // Revenue recognition beyond the invoice: a day's recognition, the held period's accrual and its reversal, reconcile.
    expect(out).toMatch(/2026-10-31: \d+ entries posted; usage revenue recognized that day (USD|EUR) [\d.]+/);
    expect(out).toMatch(
      /accrued at month end \(Unbilled AR, before any invoice\): (EUR [\d.]+, USD [\d.]+|USD [\d.]+, EUR [\d.]+)/,
    );
    expect(out).toMatch(
      /soylent-\w+ is held in review: its 2026-10 stays accrued, EUR [1-9][\d.]* in Unbilled AR \(revenue_accrued on the last day, accrual_reversed on 2026-11-01\)/,
    );
    expect(out).toMatch(
      /soylent-\w+ approved and issued: the reversal takes the accrual out on 2026-11-01 \(usage -[\d.]+\) and the invoice posts against it there, 0\.00 left in Unbilled AR/,
    );
    expect(out).toMatch(
      /tally reconcile --period 2026-10 \(metered × rate → invoice lines → recognized revenue → GL\): [1-9]\d* lines, 0 differences/,
    );
    // The weeks before October: through ingest, September closed with nothing to bill.
    expect(out).toMatch(
      /History: 2026-07-01 to 2026-09-30, the weeks before 2026-10 → ingest; 2026-07, 2026-08, 2026-09 closed/,
    );
    expect(out).toMatch(
      /[\d,]+ events stored for 19 customers \(every one whose contract starts in 2026-10 or later\)/,
    );
    expect(out).toContain('2026-07 closed for 19 customers (closeNow): 19 skipped');
    expect(out).toContain('2026-08 closed for 19 customers (closeNow): 19 skipped');
    expect(out).toContain('2026-09 closed for 19 customers (closeNow): 19 skipped');
    expect(out).toContain('nothing numbered, drawn, sent or journaled');
    // The FinOps loop: the daily anomaly run finds the injected spike and routes it to the local webhook.
    const acme = `acme-${record.runId}`;
    expect(out).toMatch(
      /workflow anomaly-day:demo-test-\d+:2026-09-29: \d+ series scored against their 28-day weekday baseline, 0 anomalies/,
    );
    expect(out).toMatch(
      /workflow anomaly-day:demo-test-\d+:2026-09-30: \d+ series scored .*, 1 anomaly \(1 new, 1 routed\), 1 alert delivered/,
    );
    expect(out).toMatch(new RegExp(`2026-09-30 +${acme} +llm\\.tokens +spike +\\d+ +[\\d.]+ .* high +oncall sent`));
    expect(out).toContain(
      `the receiver got POST /oncall (Idempotency-Key anomaly:usage:${acme}:llm.tokens:2026-09-30:oncall)`,
    );
    const anomalies = await pool.query<{ anomaly_id: string; severity: string; delivered: number }>(
      `SELECT a.anomaly_id, a.severity, count(d.delivered_at)::int AS delivered
         FROM anomalies a LEFT JOIN anomaly_deliveries d USING (anomaly_id) GROUP BY a.anomaly_id, a.severity`,
    );
    expect(anomalies.rows).toEqual([
      { anomaly_id: `usage:${acme}:llm.tokens:2026-09-30`, severity: 'high', delivered: 1 },
    ]);
    const september = await pool.query<{ outcome: string; n: number }>(
      "SELECT outcome, count(*)::int AS n FROM customer_periods WHERE period = '2026-09' GROUP BY outcome",
    );
    expect(september.rows).toEqual([{ outcome: 'skipped', n: 19 }]);
    const before = await pool.query<{ period: string; outcome: string; n: number }>(
      "SELECT period, outcome, count(*)::int AS n FROM customer_periods WHERE period IN ('2026-07', '2026-08') GROUP BY period, outcome ORDER BY period",
    );
    expect(before.rows).toEqual([
      { period: '2026-07', outcome: 'skipped', n: 19 },
      { period: '2026-08', outcome: 'skipped', n: 19 },
    ]);
    // Commit burndown and the forecast range, as tally commits and tally forecast print them.
    expect(out).toContain('tally commits --as-of 2026-10-31');
    expect(out).toMatch(new RegExp(`${acme} +USD +.* left of [\\d.]+ +20\\d\\d-\\d\\d-\\d\\d `));
    expect(out).toContain('tally forecast --horizon 90d --as-of 2026-10-01');
    expect(out).toMatch(/USD: 90 days from 2026-10-01/);
    expect(out).toMatch(/EUR: 90 days from 2026-10-01/);
    expect(out).toMatch(/2026-11 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+/);
    expect(out).toMatch(
      /backtest \(last 28 days held out\): WAPE [\d.]+ % \(a straight line: [\d.]+ %\), actuals inside p10–p90 on [\d.]+ % of days/,
    );
    // An 80 % band must hold about 80 % of the held-out days on the demo's own history too (smooth
    // working weeks, little noise, storage growing): not a third of them (docs/decisions/finops.md).
    const coverages = [...out.matchAll(/actuals inside p10–p90 on ([\d.]+) % of days/g)].map((match) =>
      Number.parseFloat(match[1] ?? ''),
    );
    expect(coverages).toHaveLength(2);
    for (const coverage of coverages) {
      expect(coverage).toBeGreaterThanOrEqual(65);
      expect(coverage).toBeLessThanOrEqual(92);
    }
    expect(out).toMatch(/demo finished in [\d.]+ s/);

    // What it left in the database.
    // The run's customers, and its marketplace buyer, whose invoice is the record of what AWS bills.
    const buyer = `aws-acme-${record.runId}`;
    const issued = await listInvoices(pool, { status: 'issued' });
    expect(issued.filter((invoice) => invoice.customerId === buyer).map((invoice) => invoice.period)).toEqual([
      '2026-10',
    ]);
    const invoices = issued.filter((invoice) => invoice.customerId !== buyer);
    expect(invoices.filter((invoice) => invoice.period === '2026-10')).toHaveLength(20);
    expect(new Set(invoices.map((invoice) => invoice.customerId))).toEqual(new Set(record.customers));
    const exceptions = await listReviewExceptions(pool, {});
    const thresholds = exceptions.filter((exception) => exception.kind !== 'shadow_variance');
    expect(thresholds).toHaveLength(1);
    expect(thresholds[0]).toMatchObject({
      customerId: `soylent-${record.runId}`,
      kind: 'threshold',
      status: 'approved',
      reviewer: 'demo-reviewer',
    });
    // The shadow run: three planted differences, the rounding one accepted; not ready for cutover.
    const shadowed = exceptions.filter((exception) => exception.kind === 'shadow_variance');
    expect(shadowed.map((exception) => exception.status).sort()).toEqual(['approved', 'open', 'open']);
    expect(out).toMatch(/match 17, diff 2, only_legacy 0, only_new 1; exceptions 3/);
    expect(out).toContain('tally shadow readiness --source legacy-demo --periods 1: NOT READY');
    // The demo decided as a console user, whose decision is audited under that name.
    const decided = await pool.query<{ actor_kind: string; actor: string }>(
      "SELECT actor_kind, actor FROM audit_log WHERE action = 'exception_decided' ORDER BY seq",
    );
    // The threshold approval and the accepted shadow variance.
    expect(decided.rows).toEqual([
      { actor_kind: 'user', actor: 'demo-reviewer' },
      { actor_kind: 'user', actor: 'demo-reviewer' },
    ]);
    const rejected = await pool.query<{ reason: string; n: number }>(
      'SELECT reason, count(*)::int AS n FROM rejected_events GROUP BY reason ORDER BY reason',
    );
    expect(rejected.rows).toEqual([
      { reason: 'bad_signature', n: 2 },
      { reason: 'malformed_json', n: 3 },
      { reason: 'schema_violation', n: 4 },
      { reason: 'unknown_source', n: 2 },
    ]);
    expect((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_events WHERE late')).rows[0]?.n).toBe(
      6,
    );
    const october = new Map(
      invoices.filter((invoice) => invoice.period === '2026-10').map((invoice) => [invoice.invoiceId, invoice]),
    );
    const adjustments = invoices
      .filter((invoice) => invoice.period === '2026-11')
      .flatMap((invoice) => invoice.document.lines)
      .filter((line) => line.kind === 'adjustment');
    expect(adjustments.length).toBeGreaterThan(0);
    for (const adjustment of adjustments) {
      expect(adjustment).toMatchObject({ corrects_period: '2026-10' });
      expect(october.has(adjustment.kind === 'adjustment' ? adjustment.corrects_invoice_id : '')).toBe(true);
    }
    const synced = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM provider_ledger_invoices');
    expect(synced.rows[0]?.n).toBe(invoices.length);
    const balance = await trialBalance(pool);
    expect(balance.balanced).toBe(true);
    expect(balance.totals.map((total) => total.currency).sort()).toEqual(['EUR', 'USD']);

    // In the same shell, with nothing sourced, the commands show what the demo did.
    const listed = await runTally(['invoice', 'list', '--status', 'issued', '--json'], environment);
    expect(listed.code, listed.stderr).toBe(0);
    const listedIds = (JSON.parse(listed.stdout) as { invoice_id: string }[]).map((row) => row.invoice_id).sort();
    expect(listedIds).toEqual(issued.map((invoice) => invoice.invoiceId).sort());
    // A list cut at its limit says so (on stderr, so --json keeps its shape).
    const limited = await runTally(['invoice', 'list', '--status', 'issued', '--limit', '3'], environment);
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.stdout.trim().split('\n')).toHaveLength(4);
    expect(limited.stderr).toContain('showing the first 3 invoices (by period, then customer); more match');
    const reviewed = await runTally(['review', 'list', '--all'], environment);
    expect(reviewed.code, reviewed.stderr).toBe(0);
    expect(reviewed.stdout).toContain(`exc:inv:soylent-${record.runId}:2026-10:threshold:1`);
    const someNumber = invoices[0]?.invoiceNumber ?? '';
    const shown = await runTally(['invoice', 'show', someNumber], environment);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(someNumber);

    // A second run (small) is a month of its own: its own run id, customers and invoice numbers.
    const second = await runDemo(['--customers', '6', '--scale', '0.5']);
    expect(second.code, second.stderr).toBe(0);
    const records = await runRecords();
    expect(records).toHaveLength(2);
    const secondRecord = records.find((candidate) => candidate.runId !== record.runId);
    if (secondRecord === undefined) throw new Error('the second run wrote no run.json of its own');
    const secondCustomers = new Set(secondRecord.customers);
    const secondInvoices = (await listInvoices(pool, { status: 'issued', period: '2026-10' })).filter((invoice) =>
      secondCustomers.has(invoice.customerId),
    );
    expect(secondInvoices.map((invoice) => invoice.invoiceNumber).sort()).toEqual(
      secondRecord.customers.map((customer) => `${customer}-0001`).sort(),
    );
    expect(second.stdout).toContain('invoices issued: 8');
    // Its own history and spike: the day's run records and alerts only what is new (the first run's spike is on record).
    expect(second.stdout).toContain('2026-09 closed for 5 customers (closeNow): 5 skipped');
    expect(second.stdout).toMatch(
      /2026-09-30: \d+ series scored .*, 2 anomalies \(1 new, 1 routed\), 1 alert delivered/,
    );
    // The first run's invoices are as they were.
    const firstCustomers = new Set(record.customers);
    expect(
      (await listInvoices(pool, { status: 'issued' })).filter((invoice) => firstCustomers.has(invoice.customerId)),
    ).toEqual(invoices);
  }, 420_000);

  it('refuses fewer customers than the sample contracts need, before touching anything', async () => {
    const run = await runTally(['demo', '--customers', '3'], { TALLY_STACK_DIR: stackDir });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--customers.*at least 6/);
  });
});
