import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedEventLines, generateUsage } from '../../domain/anomalies/generated-series.ts';
import { dayText } from '../../domain/anomalies/utc-days.ts';
import { displayMoney } from '../../domain/money.ts';
import { runTally } from './run-tally.ts';

const FIRST_DAY = 20_668; // 2026-08-03
const SPEC_KEYS = ['customer_id', 'day', 'expected', 'lower', 'metric', 'score', 'severity', 'sku', 'upper', 'value'];

async function scratch(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'tally-anomalies-'));
}

/** Generated usage of 12 customers over 70 days with known injected anomalies, and one huge spike for COGS. */
async function workspace() {
  const folder = await scratch();
  const { series, injected } = generateUsage({ customers: 12, days: 70, seed: 23, inject: true });
  const lines = [...generatedEventLines(series, { sku: 'db.queries', unit: 'queries' })];
  // Day 60: one customer's usage of 200 times the whole SKU's daily volume makes COGS spike too.
  lines.push(
    JSON.stringify({
      schema_version: 1,
      event_id: 'huge-1',
      source: 'generator',
      customer_id: 'gen-00003',
      timestamp: `${dayText(FIRST_DAY + 60)}T18:00:00Z`,
      unit: 'queries',
      quantity: '5000000',
      metadata: { sku: 'db.queries' },
      signature: `v1=${'0'.repeat(64)}`,
    }),
  );
  const events = path.join(folder, 'events.jsonl');
  await writeFile(events, `${lines.join('\n')}\n`);
  const costs = path.join(folder, 'costs');
  await import('node:fs/promises').then((fs) => fs.mkdir(costs));
  await writeFile(
    path.join(costs, '2026-08-01.yaml'),
    'effective_from: 2026-08-01T00:00:00Z\ncosts:\n  - { sku: db.queries, unit: queries, unit_cost: "0.011", currency: USD }\n',
  );
  return { folder, events, costs, injected };
}

describe('tally anomalies scan (offline)', () => {
  it('prints every anomaly in the SPEC §10 shape: every injected one, and the COGS spike per SKU', async () => {
    const { events, costs, injected } = await workspace();
    const run = await runTally(['anomalies', 'scan', '--events', events, '--costs', costs, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const anomalies = JSON.parse(run.stdout) as Record<string, unknown>[];
    for (const anomaly of anomalies) expect(Object.keys(anomaly).sort()).toEqual(SPEC_KEYS);
    const found = new Set(anomalies.map((anomaly) => `${String(anomaly.customer_id)}|${String(anomaly.day)}`));
    for (const one of injected) expect(found).toContain(`${one.customer_id}|${dayText(FIRST_DAY + one.dayIndex)}`);
    const cogs = anomalies.filter((anomaly) => anomaly.metric === 'cogs');
    expect(cogs).toContainEqual(
      expect.objectContaining({ customer_id: null, sku: 'db.queries', day: dayText(FIRST_DAY + 60), severity: 'high' }),
    );
    expect(typeof anomalies[0]?.score).toBe('number');
    expect(anomalies[0]?.value).toEqual(expect.any(String));
  });

  it('--from and --to bound the days scored; the days before are baseline; the table says what it scanned', async () => {
    const { events } = await workspace();
    const from = dayText(FIRST_DAY + 60);
    const run = await runTally(['anomalies', 'scan', '--events', events, '--from', from, '--to', from]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^day\s+metric\s+customer\s+sku\s+kind\s+value\s+expected\s+range\s+score\s+severity$/);
    expect(lines.slice(1, -1).every((line) => line.startsWith(from))).toBe(true);
    expect(lines.at(-1)).toMatch(
      new RegExp(`^\\d+ anomal(y|ies) from ${from} to ${from} in 12 series \\(\\d+ events\\)$`),
    );
  });

  it("prints a COGS anomaly's value, expected and range in the --currency, a usage one's as quantities", async () => {
    const { events, costs } = await workspace();
    const spike = dayText(FIRST_DAY + 60);
    const args = ['anomalies', 'scan', '--events', events, '--costs', costs, '--from', spike, '--to', spike];
    const [table, json] = await Promise.all([runTally(args), runTally([...args, '--json'])]);
    expect(table.code).toBe(0);
    const cogs = (JSON.parse(json.stdout) as Record<string, string>[]).find(
      (anomaly) => anomaly.metric === 'cogs' && anomaly.customer_id === null,
    );
    // 5,000,000 queries × 0.011 USD and the day's other usage: a sum in more digits than cents is never rounded.
    expect(cogs).toMatchObject({ value: expect.stringMatching(/^\d+(\.\d+)?$/) });
    const money = (amount: string) => `${displayMoney(amount, 'USD')} USD`;
    const row = table.stdout.split('\n').find((line) => /^\S+\s+cogs\s+\(all\)\s+db\.queries\s/.test(line));
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const figures = [cogs?.value, cogs?.expected].map((amount) => escape(money(amount ?? '')));
    const range = `${escape(money(cogs?.lower ?? ''))} – ${escape(money(cogs?.upper ?? ''))}`;
    expect(row).toMatch(new RegExp(`\\s${figures.join('\\s+')}\\s+${range}\\s`));
    // A usage row stays a quantity, with no currency.
    const usage = table.stdout.split('\n').find((line) => /^\S+\s+usage\s/.test(line));
    expect(usage).toBeDefined();
    expect(usage).not.toContain('USD');
  });

  it('refuses a bad event file with file, line and field, and a bad costs file with file, line and field', async () => {
    const { folder, events, costs } = await workspace();
    const bad = path.join(folder, 'bad.jsonl');
    await writeFile(bad, '{"schema_version":1}\n');
    const refused = await runTally(['anomalies', 'scan', '--events', bad, '--json']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`${bad}:1 event_id: schema_violation`);

    await writeFile(
      path.join(costs, '2026-09-01.yaml'),
      'effective_from: 2026-09-01T00:00:00Z\ncosts:\n  - { sku: db.queries, unit: queries, unit_cost: 0.02, currency: USD }\n',
    );
    const badCosts = await runTally(['anomalies', 'scan', '--events', events, '--costs', costs, '--json']);
    expect(badCosts.code).not.toBe(0);
    expect(badCosts.stdout).toBe('');
    expect(badCosts.stderr).toContain(
      `${path.join(costs, '2026-09-01.yaml')}:3:50 costs[0].unit_cost: unit_cost must be a decimal in quotes`,
    );
  });

  it('refuses days that are not days, and --from after --to', async () => {
    const { events } = await workspace();
    const notADay = await runTally(['anomalies', 'scan', '--events', events, '--from', '2026-02-30']);
    expect(notADay.code).not.toBe(0);
    expect(notADay.stderr).toContain('expected a UTC day, YYYY-MM-DD');
    const backwards = await runTally([
      'anomalies',
      'scan',
      '--events',
      events,
      '--from',
      '2026-10-02',
      '--to',
      '2026-10-01',
    ]);
    expect(backwards.code).not.toBe(0);
    expect(backwards.stderr).toContain('--from 2026-10-02 is after --to 2026-10-01');
  });
});
