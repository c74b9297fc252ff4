import { cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvoiceSchema, type Invoice } from '../../contracts/invoice.ts';
import { demoCustomers, generateUsageEvents } from '../builders/usage-events.ts';
import { buildUsageEvent } from '../builders/rating.ts';
import { runTally } from './run-tally.ts';

/** `tally rate` for the acme contract and period, with another event file or rate-card folder when given. */
function acme(overrides: { events?: string; ratecards?: string } = {}): string[] {
  return [
    'rate',
    '--ratecards',
    overrides.ratecards ?? 'ratecards',
    '--contract',
    'demo/samples/contracts/acme.yaml',
    '--events',
    overrides.events ?? 'test/fixtures/events/acme-2026-10.jsonl',
    '--period',
    '2026-10',
  ];
}

async function scratch(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'tally-rate-'));
}

describe('tally rate (offline)', () => {
  it('prints the SPEC §4 invoice as JSON, worked out by hand for the acme fixture', async () => {
    const run = await runTally([...acme(), '--json', '--keys', 'test/fixtures/source-keys.json']);
    expect(run.code).toBe(0);
    const invoice: Invoice = InvoiceSchema.parse(JSON.parse(run.stdout));
    expect(Object.fromEntries(invoice.lines.map((line) => [line.line_key, line.amount]))).toEqual({
      // 2,000,000 tokens = 2000 packages: v1 1000 × 0.010 + 100 × 0.008, then (v2, from 1100) 900 × 0.007 = 10 + 0.8 + 6.3
      'usage:tokens-us': '17.10',
      'usage:tokens-eu': '3.01', // 250,500 tokens → 251 packages × 0.012 = 3.012
      'usage:storage-us': '4.15', // max 180.25 GB, reached after the change: 180.25 × 0.023 = 4.14575
      'usage:jobs': '1.45', // 3 jobs (tier 1): 2 × 0.50 before the change + 1 × 0.45 after
      'usage:queries': '0.65', // 12,345 queries → 13 packages × 0.05
      'usage:active-users': '6.00', // u1, u2 before; u3 new after: 2 × 2.00 + 1 × 2.00
      'fee:platform': '500.00',
      'discount:launch-10': '-2.01', // 10% × (17.10 + 3.01) = 2.011
      commit_true_up: '969.65', // 1000 − (32.36 − 2.01)
      'credit:promo-q4': '-50.00', // promotional first
      'credit:prepaid-1': '-1450.00', // then prepaid, down to zero due
    });
    expect(invoice).toMatchObject({
      customer_id: 'acme',
      period: '2026-10',
      currency: 'USD',
      subtotal: '1500.00',
      total: '0.00',
      events: { read: 20, duplicates: 1, outside_period: 2 },
      unpriced: [{ sku: 'llm.images', unit: 'images', event_count: 3, quantity: '7', reason: 'no_matching_price' }],
      calculation_version: 'calc-2026.11.1',
    });
    expect(invoice.ratecard_versions.map((ref) => ref.effective_from)).toEqual([
      '2026-10-01T00:00:00.000Z',
      '2026-10-16T00:00:00.000Z',
    ]);
    expect(run.stderr).toContain('3 events of 1 sku/unit pair matched no price and were not billed');
  });

  it('prints a readable table with the tier breakdown and the unpriced usage', async () => {
    const run = await runTally(acme());
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('tier 2: 900 packages × 0.007 USD = 6.30 USD   [version 2026-10-16]');
    expect(run.stdout).toContain('priced by rate-card versions 2026-10-01 and 2026-10-16');
    expect(run.stdout).toMatch(/usage\s+tokens-us\s+2000000 tokens \(3 events\)\s+2000 packages\s+17\.10/);
    expect(run.stdout).toMatch(/TOTAL USD\s+0\.00/);
    expect(run.stdout).toContain(
      'llm.images (images): 3 events, quantity 7 images — no price matches this sku, unit and metadata',
    );
    expect(run.stdout).toContain('Events: 20 read, 1 duplicate, 2 outside the period; 1 of other customers skipped');
  });

  it('refuses a malformed rate card, naming file, line and field', async () => {
    const dir = await scratch();
    await cp('ratecards', path.join(dir, 'ratecards'), { recursive: true });
    const file = path.join(dir, 'ratecards', 'standard', '2026-10-16.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      text.replace('{ up_to: "10000", unit_price: "0.007" }', '{ up_to: "900", unit_price: "0.007" }'),
    );
    const run = await runTally(acme({ ratecards: path.join(dir, 'ratecards') }));
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      `${file}:17:18 prices[0].tiers[1].up_to: tier bounds must increase: 900 is not above the previous tier's 1000`,
    );
  });

  it('refuses a malformed event file, listing every bad line with file:line and field, and rates nothing', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'events.jsonl');
    const good = buildUsageEvent({ event_id: 'ok-1' });
    const lines = [
      JSON.stringify(good),
      JSON.stringify({ ...buildUsageEvent({ event_id: 'bad-quantity' }), quantity: 12.5 }),
      '{"schema_version": 1, "event_id": ',
      '',
      JSON.stringify({ ...buildUsageEvent({ event_id: 'no-sku' }), metadata: { region: 'us-east-1' } }),
      JSON.stringify({ ...good, quantity: '2000' }), // same (source, event_id), another body
    ];
    await writeFile(file, `${lines.join('\n')}\n`);
    const run = await runTally(acme({ events: file }));
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`${file}: 4 bad event lines; nothing was rated`);
    expect(run.stderr).toContain(`${file}:2 quantity: schema_violation: quantity is a decimal string, not a number`);
    expect(run.stderr).toContain(`${file}:3 (line): malformed_json:`);
    expect(run.stderr).toContain(`${file}:5 metadata.sku: schema_violation: metadata.sku is required`);
    expect(run.stderr).toContain(
      `${file}:6 event_id: id_conflict: (api-gateway, ok-1) was first seen at line 1 with a different body`,
    );
  });

  it('verifies signatures only when given --keys', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'events.jsonl');
    const event = buildUsageEvent({ event_id: 'tampered' });
    await writeFile(
      file,
      `${JSON.stringify({ ...event, quantity: '999999' })}\n${JSON.stringify(buildUsageEvent({ source: 'unknown-meter' }))}\n`,
    );
    const args = acme({ events: file });
    const unchecked = await runTally([...args, '--json']);
    expect(unchecked.code).toBe(0);
    const checked = await runTally([...args, '--keys', 'test/fixtures/source-keys.json']);
    expect(checked.code).not.toBe(0);
    expect(checked.stderr).toContain(`${file}:1 signature: bad_signature`);
    expect(checked.stderr).toContain(`${file}:2 source: unknown_source: no signing key for source unknown-meter`);
  });

  it('refuses a contract whose currency differs from its rate card', async () => {
    const dir = await scratch();
    const contract = path.join(dir, 'acme.yaml');
    await writeFile(
      contract,
      (await readFile('demo/samples/contracts/acme.yaml', 'utf8')).replace('currency: USD', 'currency: EUR'),
    );
    const run = await runTally([
      'rate',
      '--ratecards',
      'ratecards',
      '--contract',
      contract,
      '--events',
      'test/fixtures/events/acme-2026-10.jsonl',
      '--period',
      '2026-10',
    ]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      'tally: the contract bills in EUR, but rate card standard (2026-10-01T00:00:00.000Z) prices in USD',
    );
  });

  it('rates every fixture contract over generated usage with every event priced', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'month.jsonl');
    const events = generateUsageEvents({
      customers: demoCustomers(6),
      period: '2026-10',
      seed: 42,
      scale: 0.25,
      duplicateEvery: 50,
    });
    await writeFile(file, `${events.map((event) => JSON.stringify(event)).join('\n')}\n`);
    const contracts = (await readdir('demo/samples/contracts')).filter((name) => name.endsWith('.yaml')).sort();
    expect(contracts).toHaveLength(6);
    for (const name of contracts) {
      const run = await runTally([
        'rate',
        '--ratecards',
        'ratecards',
        '--contract',
        `demo/samples/contracts/${name}`,
        '--events',
        file,
        '--period',
        '2026-10',
        '--json',
        '--keys',
        'test/fixtures/source-keys.json',
      ]);
      expect(run.code, `${name}: ${run.stderr}`).toBe(0);
      const invoice = InvoiceSchema.parse(JSON.parse(run.stdout));
      expect(invoice.unpriced, name).toEqual([]);
      expect(invoice.lines.filter((line) => line.kind === 'usage').length, name).toBeGreaterThanOrEqual(5);
      expect(invoice.events.read, name).toBeGreaterThan(0);
    }
  });
});
