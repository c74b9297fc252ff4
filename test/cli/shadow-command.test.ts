import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvoiceSchema } from '../../contracts/invoice.ts';
import { legacyLinesFromInvoice } from '../../domain/shadow/index.ts';
import { Decimal, formatMoney } from '../../domain/money.ts';
import { runTally } from './run-tally.ts';

const ACME = [
  '--ratecards',
  'ratecards',
  '--contract',
  'demo/samples/contracts/acme.yaml',
  '--events',
  'test/fixtures/events/acme-2026-10.jsonl',
  '--period',
  '2026-10',
];

async function legacyFile(rows: string[]): Promise<string> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-shadow-cli-'));
  const file = path.join(directory, 'legacy.csv');
  await writeFile(file, ['customer_id,period,price_id,quantity,amount,currency', ...rows].join('\n') + '\n');
  return file;
}

describe('tally shadow compare (offline)', () => {
  it('prints the SPEC §6 JSON: the legacy biller agreeing except one usage line at an old price', async () => {
    const rated = await runTally(['rate', ...ACME, '--json']);
    expect(rated.code).toBe(0);
    const invoice = InvoiceSchema.parse(JSON.parse(rated.stdout));
    const lines = legacyLinesFromInvoice(invoice).map((line) =>
      line.price_id === 'tokens-us'
        ? { ...line, amount: formatMoney(new Decimal(line.amount).plus('10.00'), 'USD') }
        : line,
    );
    const file = await legacyFile([
      ...lines.map((line) =>
        [line.customer_id, line.period, line.price_id, line.quantity ?? '', line.amount, line.currency].join(','),
      ),
      // Another customer's line is not this contract's business.
      'globex,2026-10,platform,,1.00,USD',
    ]);
    const run = await runTally(['shadow', 'compare', '--legacy', file, ...ACME, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(Object.keys(report)).toEqual(['period', 'currency', 'customers', 'summary']);
    expect(report).toMatchObject({
      period: '2026-10',
      currency: 'USD',
      summary: { match: 0, diff: 1, only_legacy: 0, only_new: 0, exceptions: 1 },
    });
    const [acme] = report.customers;
    expect(acme).toMatchObject({ customer_id: 'acme', status: 'diff', variance: '-10.00', exception: true });
    const diffs = acme.lines.filter((line: { status: string }) => line.status !== 'match');
    expect(diffs).toEqual([
      {
        key: 'tokens-us',
        status: 'diff',
        legacy_quantity: '2000000',
        new_quantity: '2000000',
        legacy_amount: '27.10',
        new_amount: '17.10',
        delta: '-10.00',
        quantity_effect: '0.00',
        price_effect: '-10.00',
        cause: 'price',
      },
    ]);
  }, 60_000);

  it("prints the line diff in the customer's currency: the amount headings and the exception reasons name it", async () => {
    const rated = await runTally(['rate', ...ACME, '--json']);
    const invoice = InvoiceSchema.parse(JSON.parse(rated.stdout));
    const csv = (currency: string, plus: string) =>
      legacyLinesFromInvoice(invoice).map((line) =>
        [
          line.customer_id,
          line.period,
          line.price_id,
          line.quantity ?? '',
          line.price_id === 'tokens-us' ? formatMoney(new Decimal(line.amount).plus(plus), 'USD') : line.amount,
          currency,
        ].join(','),
      );
    // 150.00 over acme's shadow_variance_abs of 100.00.
    const over = await runTally(['shadow', 'compare', '--legacy', await legacyFile(csv('USD', '150.00')), ...ACME]);
    expect(over.code).toBe(0);
    expect(over.stdout).toContain('acme: |variance| 150.00 USD > 100.00 USD;');
    expect(over.stdout).toMatch(
      /\n\s*key\s+status\s+legacy qty\s+tally qty\s+legacy USD\s+tally USD\s+delta USD\s+qty effect USD\s+price effect USD\s+cause\n/,
    );
    expect(over.stdout).toMatch(
      /\n\s*tokens-us\s+diff\s+2000000\s+2000000\s+167\.10\s+17\.10\s+-150\.00\s+0\.00\s+-150\.00\s/,
    );
    // A legacy biller in another currency: its column says so.
    const euro = await runTally(['shadow', 'compare', '--legacy', await legacyFile(csv('EUR', '0.00')), ...ACME]);
    expect(euro.code).toBe(0);
    expect(euro.stdout).toMatch(/\n\s*key\s+status\s+legacy qty\s+tally qty\s+legacy EUR\s+tally USD\s+delta USD\s/);
  }, 60_000);

  it('refuses a bad legacy file with file, line and field and a non-zero exit', async () => {
    const file = await legacyFile(['acme,2026-10,platform,,500.00,USD', 'acme,2026-10,tokens-us,abc,27.10,USD']);
    const run = await runTally(['shadow', 'compare', '--legacy', file, ...ACME, '--json']);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`${file}:3: quantity: malformed decimal "abc"`);
  }, 60_000);
});
