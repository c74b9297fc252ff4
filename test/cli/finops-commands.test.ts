import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUsageAlerts } from '../../activities/index.ts';
import { insertAnomaly } from '../../db/queries/anomalies.ts';
import { periodOf } from '../../domain/period.ts';
import { createWebhookNotifier } from '../../providers/webhook-notifier.ts';
import { publishedTerms } from '../../terms/index.ts';
import { listAuditEntries } from '../../db/queries/audit-log.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { runTallyAsOperator } from './run-tally.ts';

// Finance's and on-call's FinOps commands as they run them against a stack: the margin of a closed
// period, and what they do with an anomaly the daily run recorded (list, ack, snooze, annotate).
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('finops_cli');
});
afterAll(async () => {
  await testbed.close();
});

function tally(...args: string[]) {
  return runTallyAsOperator(testbed, {}, ...args);
}

describe('tally margin', () => {
  it('prints revenue, COGS and margin of the issued invoices by SKU, product, customer and in total', async () => {
    const customerId = 'margin-cli';
    await testbed.publishContract(buildContract({ customer_id: customerId, starts_at: '2026-01-01T00:00:00Z' }));
    // 800,000 tokens in us-east-1: costs/2026-10-01.yaml prices them at the default 0.0000021 → 1.68 USD.
    await testbed.storeEvents(
      [1, 2].map((index) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-${index}`,
          timestamp: `2026-10-0${index}T09:00:00.000Z`,
          quantity: '400000',
        }),
      ),
    );
    const handle = await testbed.withWorker(async () => {
      const started = await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'));
      await started.result();
      return started;
    });
    expect(handle).toBeDefined();
    const { rows } = await testbed.pool.query<{
      document: { lines: { kind: string; sku?: string; amount: string }[] };
    }>(`SELECT document FROM invoices WHERE customer_id = $1 AND status = 'issued'`, [customerId]);
    const tokens = rows[0]?.document.lines.find((line) => line.kind === 'usage' && line.sku === 'llm.tokens');
    expect(tokens).toBeDefined();

    const json = await tally('margin', '--period', '2026-10', '--json');
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      invoices: number;
      rows: { by: string; key: string; revenue: string; cogs: string; margin: string; margin_pct: string | null }[];
    };
    expect(report.invoices).toBe(1);
    const sku = report.rows.find((row) => row.by === 'sku' && row.key === 'llm.tokens');
    expect(sku).toMatchObject({ revenue: tokens?.amount, cogs: '1.68' });
    expect(report.rows.map((row) => row.by)).toEqual(expect.arrayContaining(['sku', 'product', 'customer', 'total']));

    const table = await tally('margin', '--period', '2026-10');
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/By SKU\nsku\s+currency\s+revenue\s+cogs\s+margin\s+margin %\s+uncosted\n/);
    expect(table.stdout).toMatch(/llm\.tokens\s+USD\s+\S+\s+1\.68/);
    expect(table.stdout).toContain('1 issued invoice of 2026-10');

    const empty = await tally('margin', '--period', '2026-03');
    expect(empty.stdout).toBe('no issued invoices in 2026-03\n');
    const bad = await tally('margin', '--period', '2026-13');
    expect(bad.status).not.toBe(0);
  });
});

describe('tally anomalies list | ack | snooze | annotate', () => {
  it('shows what the daily run recorded and keeps who did what, in the audit log too', async () => {
    const id = 'usage:ops-anomaly:llm.tokens:2026-10-12';
    await insertAnomaly(testbed.pool, {
      anomalyId: id,
      metric: 'usage',
      customerId: 'ops-anomaly',
      sku: 'llm.tokens',
      day: '2026-10-12',
      kind: 'spike',
      value: '9000000',
      expected: '3000000',
      lower: '2400000',
      upper: '3700000',
      score: 22.5,
      severity: 'high',
      currency: null,
    });
    const list = await tally('anomalies', 'list', '--customer', 'ops-anomaly');
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^id\s+day\s+kind\s+value\s+expected\s+score\s+severity\s+status\s+alerts\s+action\n/);
    expect(list.stdout).toMatch(
      new RegExp(`${id}\\s+2026-10-12\\s+spike\\s+9000000\\s+3000000\\s+22\\.50\\s+high\\s+open`),
    );

    const ack = await tally('anomalies', 'ack', id, '--by', 'dana', '--note', 'looking');
    expect(ack.status, ack.stderr).toBe(0);
    expect(ack.stdout).toBe(`${id}: acknowledged (cli:dana); note: looking\n`);
    const snooze = await tally('anomalies', 'snooze', id, '--for', '7d', '--by', 'dana');
    expect(snooze.status, snooze.stderr).toBe(0);
    expect(snooze.stdout).toMatch(/series snoozed until \d{4}-\d{2}-\d{2}T/);
    const annotate = await tally('anomalies', 'annotate', id, '--action', 'throttled', '--by', 'dana');
    expect(annotate.status, annotate.stderr).toBe(0);

    const json = await tally('anomalies', 'list', '--customer', 'ops-anomaly', '--json');
    const [record] = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(record).toMatchObject({
      anomalyId: id,
      status: 'acknowledged',
      action: 'throttled',
      note: 'looking',
      updatedBy: 'cli:dana',
      snoozedUntil: expect.any(String),
    });
    const audit = await listAuditEntries(testbed.pool, { subject: `anomaly:${id}`, limit: 10 });
    expect(audit.map((entry) => [entry.action, entry.actor.name]).reverse()).toEqual([
      ['anomaly_acknowledged', 'cli:dana'],
      ['anomaly_snoozed', 'cli:dana'],
      ['anomaly_annotated', 'cli:dana'],
    ]);

    // A COGS anomaly is money: its figures name the currency it was found in, never rounded.
    const cogsId = 'cogs:*:llm.tokens:2026-10-12';
    await insertAnomaly(testbed.pool, {
      anomalyId: cogsId,
      metric: 'cogs',
      customerId: null,
      sku: 'llm.tokens',
      day: '2026-10-12',
      kind: 'spike',
      value: '55203.588',
      expected: '18000',
      lower: '15000',
      upper: '21000',
      score: 12.25,
      severity: 'high',
      currency: 'EUR',
    });
    const cogsList = await tally(
      'anomalies',
      'list',
      '--sku',
      'llm.tokens',
      '--from',
      '2026-10-12',
      '--to',
      '2026-10-12',
    );
    expect(cogsList.status, cogsList.stderr).toBe(0);
    expect(cogsList.stdout).toMatch(
      /cogs:\*:llm\.tokens:2026-10-12\s+2026-10-12\s+spike\s+55203\.588 EUR\s+18000\.00 EUR\s+12\.25/,
    );
    expect(cogsList.stdout).toMatch(new RegExp(`${id}\\s+2026-10-12\\s+spike\\s+9000000\\s+3000000\\s`));
    const cogsJson = await tally('anomalies', 'list', '--sku', 'llm.tokens', '--from', '2026-10-12', '--json');
    expect((JSON.parse(cogsJson.stdout) as Record<string, unknown>[]).map((entry) => entry.currency)).toEqual([
      'EUR',
      null,
    ]);

    // One recorded before anomalies kept their currency (migration 0840) says so instead of guessing.
    await insertAnomaly(testbed.pool, {
      anomalyId: 'cogs:*:db.queries:2026-10-12',
      metric: 'cogs',
      customerId: null,
      sku: 'db.queries',
      day: '2026-10-12',
      kind: 'drop',
      value: '10',
      expected: '90',
      lower: '70',
      upper: '110',
      score: 8,
      severity: 'medium',
      currency: null,
    });
    const older = await tally('anomalies', 'list', '--sku', 'db.queries', '--from', '2026-10-12', '--to', '2026-10-12');
    expect(older.stdout).toMatch(/drop\s+10 \(currency not recorded\)\s+90 \(currency not recorded\)\s+8\.00/);

    const unknown = await tally('anomalies', 'ack', 'usage:nobody:x:2026-01-01');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('no anomaly usage:nobody:x:2026-01-01');
    const badDuration = await tally('anomalies', 'snooze', id, '--for', 'a week');
    expect(badDuration.status).not.toBe(0);
    expect(badDuration.stderr).toContain('a duration like 24h or 7d');
  });
});

describe('tally commits', () => {
  it('shows commit utilization this period, the prepaid burndown date from closed periods, ramp variance and alerts', async () => {
    const customerId = 'commits-cli';
    const now = periodOf(new Date());
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        starts_at: '2026-01-01T00:00:00Z',
        commit: { amount: '100.00' },
        credits: [
          {
            id: 'prepaid-1',
            kind: 'prepaid',
            amount: '5000.00',
            granted_at: '2026-09-15T00:00:00Z',
            expires_at: '2030-01-01T00:00:00Z',
          },
        ],
        ramp: [{ period: now.name, amount: '400.00' }],
      }),
    );
    // October: 2,000,000 tokens, closed and issued (its prepaid draw is the burn history).
    await testbed.storeEvents(
      [1, 2].map((index) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-oct-${index}`,
          timestamp: `2026-10-0${index}T09:00:00.000Z`,
          quantity: '1000000',
        }),
      ),
    );
    await testbed.withWorker(async () =>
      (await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'))).result(),
    );
    // This period: some usage, valued by the usage-alert check as the worker's loop does.
    await testbed.storeEvents([
      buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-now`,
        timestamp: new Date(Math.max(Date.parse(now.start), Date.now() - 60_000)).toISOString(),
        quantity: '500000',
      }),
    ]);
    const check = await checkUsageAlerts(
      { pool: testbed.pool, terms: publishedTerms(testbed.pool), notifier: createWebhookNotifier(undefined) },
      { customerId, period: now.name },
    );
    expect(check.status).toBe('checked');

    const json = await tally('commits', '--customer', customerId, '--json');
    expect(json.status, json.stderr).toBe(0);
    const { contracts } = JSON.parse(json.stdout) as { contracts: Record<string, unknown>[] };
    const [entry] = contracts as {
      commit: { amount: string; consumed: string; period: string };
      prepaid: { granted: string; remaining: string; burndown_on: string | null; burn_per_day: string };
      ramp: { period: string; planned: string; projected: boolean }[];
      alerts: string[];
    }[];
    const { rows } = await testbed.pool.query<{ remaining: string; drawn: string }>(
      `SELECT g.remaining::text AS remaining, (g.amount - g.remaining)::text AS drawn FROM credit_grants g
        WHERE customer_id = $1 AND credit_id = 'prepaid-1'`,
      [customerId],
    );
    expect(entry?.commit).toMatchObject({
      amount: '100.00',
      period: now.name,
      consumed: check.status === 'checked' ? check.usage : '',
    });
    expect(entry?.prepaid).toMatchObject({ granted: '5000.00', remaining: Number(rows[0]?.remaining).toFixed(2) });
    // October's draw over its 31 days is the trailing burn.
    expect(Number(entry?.prepaid.burn_per_day)).toBeCloseTo(Number(rows[0]?.drawn) / 31, 2);
    expect(entry?.prepaid.burndown_on).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(entry?.ramp).toEqual([expect.objectContaining({ period: now.name, planned: '400.00', projected: true })]);
    // Credit left, burning out long before it expires in 2030; this period far under its commit and ramp.
    expect(entry?.alerts).toEqual(['commit_shortfall', 'prepaid_runs_out_early', 'ramp_behind']);

    const table = await tally('commits', '--customer', customerId);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /^customer\s+currency\s+commit\s+commit reached\s+prepaid\s+burndown date\s+ramp\s+alerts\n/,
    );
    expect(table.stdout).toContain(customerId);

    // --as-of reads the same facts as if it were that day: the burndown counts from there.
    const earlier = await tally('commits', '--customer', customerId, '--as-of', '2026-10-15', '--json');
    expect(earlier.status, earlier.stderr).toBe(0);
    const asOf = JSON.parse(earlier.stdout) as {
      as_of: string;
      contracts: { commit?: unknown; prepaid: { burndown_on: string } }[];
    };
    expect(asOf.as_of).toBe('2026-10-15T00:00:00.000Z');
    // October has no month-to-date valuation: no commit this period.
    expect(asOf.contracts[0]?.commit).toBeUndefined();
    const shiftDays =
      (Date.parse(entry?.prepaid.burndown_on ?? '') - Date.parse(asOf.contracts[0]?.prepaid.burndown_on ?? '')) /
      86_400_000;
    const elapsedDays = (Date.parse(JSON.parse(json.stdout).as_of as string) - Date.parse(asOf.as_of)) / 86_400_000;
    expect(Math.abs(shiftDays - elapsedDays)).toBeLessThanOrEqual(1);
    // As of October's last day, from a valuation of October the loop makes now (after October ended):
    // the valuation covers the whole month, so the burn is over October's 31 days and the projection is what was used.
    const october = await checkUsageAlerts(
      { pool: testbed.pool, terms: publishedTerms(testbed.pool), notifier: createWebhookNotifier(undefined) },
      { customerId, period: '2026-10' },
    );
    expect(october.status).toBe('checked');
    const endOfOctober = await tally('commits', '--customer', customerId, '--as-of', '2026-10-31', '--json');
    expect(endOfOctober.status, endOfOctober.stderr).toBe(0);
    const [octoberEntry] = (
      JSON.parse(endOfOctober.stdout) as {
        contracts: {
          commit: { period: string; consumed: string; burn_per_day: string; projected_at_period_end: string };
        }[];
      }
    ).contracts;
    expect(octoberEntry?.commit.period).toBe('2026-10');
    expect(octoberEntry?.commit.projected_at_period_end).toBe(octoberEntry?.commit.consumed);
    expect(Number(octoberEntry?.commit.burn_per_day)).toBeCloseTo(Number(octoberEntry?.commit.consumed) / 31, 2);
    const bad = await tally('commits', '--as-of', '2026-13-01');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('a UTC day (YYYY-MM-DD) or an ISO instant with its offset');
  });
});

describe('tally forecast', () => {
  it('forecasts fixed and variable revenue by month from stored usage and the latest invoice, with concentration and a backtest', async () => {
    const customerId = 'forecast-cli';
    await testbed.publishContract(
      buildContract({ customer_id: customerId, starts_at: '2026-01-01T00:00:00Z', commit: { amount: '50.00' } }),
    );
    // db.queries every day from October 1 (its first period) to yesterday: weekdays 20,000, weekends 8,000.
    const firstMs = Date.parse('2026-10-01T12:00:00Z');
    const days =
      Math.floor((Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`) - firstMs) / 86_400_000) + 1;
    const events = Array.from({ length: days }, (_, index) => {
      const at = new Date(firstMs + index * 86_400_000);
      const weekend = at.getUTCDay() === 0 || at.getUTCDay() === 6;
      return buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-${index}`,
        timestamp: at.toISOString(),
        unit: 'queries',
        quantity: weekend ? '8000' : '20000',
        metadata: { sku: 'db.queries' },
      });
    });
    await testbed.storeEvents(events);
    await testbed.withWorker(async () =>
      (await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'))).result(),
    );

    const json = await tally('forecast', '--horizon', '90d', '--json');
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      horizon_days: number;
      forecasts: {
        currency: string;
        periods: { period: string; days: number; fixed: string; variable: { p10: string; p50: string; p90: string } }[];
        concentration: { accounts: number };
        backtest: { held_out_days: number; wape: string; coverage: string };
      }[];
    };
    expect(report.horizon_days).toBe(90);
    const usd = report.forecasts.find((forecast) => forecast.currency === 'USD');
    expect(usd).toBeDefined();
    expect(usd?.periods.reduce((days, period) => days + period.days, 0)).toBe(90);
    for (const period of usd?.periods ?? []) {
      expect(Number(period.variable.p10)).toBeLessThanOrEqual(Number(period.variable.p50));
      expect(Number(period.variable.p50)).toBeLessThanOrEqual(Number(period.variable.p90));
      expect(Number(period.variable.p50)).toBeGreaterThan(0);
    }
    expect(usd?.backtest.held_out_days).toBe(28);
    expect(Number(usd?.backtest.wape)).toBeLessThan(20);

    const table = await tally('forecast', '--horizon', '30d');
    expect(table.status, table.stderr).toBe(0);
    // One currency per table: its code in every amount column's heading.
    expect(table.stdout).toMatch(
      /USD: 30 days from \d{4}-\d{2}-\d{2}\nperiod\s+fixed USD\s+variable p10 USD\s+variable p50 USD\s+variable p90 USD\s+total p10 USD\s+total p50 USD\s+total p90 USD\n/,
    );
    expect(table.stdout).toMatch(
      /backtest \(last 28 days held out\): WAPE [\d.]+ % \(a straight line: [\d.]+ %\), actuals inside p10–p90 on [\d.]+ % of days/,
    );
    const bad = await tally('forecast', '--horizon', '3 months');
    expect(bad.status).not.toBe(0);

    // --as-of: the forecast starts on its day, learning from the days before it.
    const asOf = await tally('forecast', '--horizon', '30d', '--as-of', '2026-11-01', '--json');
    expect(asOf.status, asOf.stderr).toBe(0);
    const fromNovember = JSON.parse(asOf.stdout) as {
      from: string;
      forecasts: { currency: string; periods: { period: string; days: number }[] }[];
    };
    expect(fromNovember.from).toBe('2026-11-01');
    expect(
      fromNovember.forecasts
        .find((forecast) => forecast.currency === 'USD')
        ?.periods.map((period) => [period.period, period.days]),
    ).toEqual([['2026-11', 30]]);
    const signals = await tally('signals', '--as-of', '2026-10-15T12:00:00+02:00', '--json');
    expect(signals.status, signals.stderr).toBe(0);
    expect((JSON.parse(signals.stdout) as { as_of: string }).as_of).toBe('2026-10-15T10:00:00.000Z');
  });
});

describe('tally report weekly', () => {
  it('writes the weekly review as HTML with charts and prints a summary', async () => {
    // Runs after the tests above: their October invoices, usage and the acknowledged anomaly of 2026-10-12.
    const folder = await import('node:fs/promises').then((fs) =>
      fs.mkdtemp(`${process.env.TMPDIR ?? '/tmp'}/tally-weekly-`),
    );
    const out = `${folder}/review.html`;
    const run = await tally('report', 'weekly', '--week', '2026-W42', '--out', out);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('weekly review 2026-W42 (2026-10-12 to 2026-10-18)');
    expect(run.stdout).toMatch(/anomalies: \d+ \(\d+ acknowledged, \d+ with an action\)/);
    expect(run.stdout).toContain(`written to ${out}`);
    const html = await import('node:fs/promises').then((fs) => fs.readFile(out, 'utf8'));
    expect(html).toContain('<h1>Weekly review 2026-W42</h1>');
    for (const section of [
      'Cohort consumption',
      'Commit utilization',
      'Gross margin by SKU (2026-10)',
      'Anomalies of the week',
    ])
      expect(html).toContain(`<h2>${section}`);
    expect(html.match(/<svg /g)?.length).toBe(3);
    expect(html).toContain('<td>ops-anomaly</td><td>llm.tokens</td><td>spike</td>');
    expect(html).toContain('<td>throttled: looking</td>');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);

    const bad = await tally('report', 'weekly', '--week', '2026-W54');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('an ISO week like 2026-W41');
  });
});
