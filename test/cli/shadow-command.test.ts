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

  it('refuses a bad legacy file with file, line and field and a non-zero exit', async () => {
    const file = await legacyFile(['acme,2026-10,platform,,500.00,USD', 'acme,2026-10,tokens-us,abc,27.10,USD']);
    const run = await runTally(['shadow', 'compare', '--legacy', file, ...ACME, '--json']);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`${file}:3: quantity: malformed decimal "abc"`);
  }, 60_000);
});
