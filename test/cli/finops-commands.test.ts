import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAnomaly } from '../../db/queries/anomalies.ts';
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

    const unknown = await tally('anomalies', 'ack', 'usage:nobody:x:2026-01-01');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('no anomaly usage:nobody:x:2026-01-01');
    const badDuration = await tally('anomalies', 'snooze', id, '--for', 'a week');
    expect(badDuration.status).not.toBe(0);
    expect(badDuration.stderr).toContain('a duration like 24h or 7d');
  });
});
