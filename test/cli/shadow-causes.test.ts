import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvoiceSchema } from '../../contracts/invoice.ts';
import { Decimal, formatMoney } from '../../domain/money.ts';
import { legacyLinesFromInvoice } from '../../domain/shadow/index.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { runTally } from './run-tally.ts';

// The period/time-zone cause through `tally shadow compare`: the legacy biller cuts October at
// midnight in UTC−05:00, so three jobs of the first UTC hours are September's to it and two jobs of
// November's first UTC hours are October's. Tally's events near the month's edges prove it.
const jobAt = (index: number, timestamp: string) =>
  buildUsageEvent({
    customer_id: 'acme',
    event_id: `zone-job-${index}`,
    timestamp,
    unit: 'jobs',
    quantity: '1',
    metadata: { sku: 'batch.jobs' },
  });

describe('tally shadow compare: explained differences from Tally’s own events', () => {
  it('names period_boundary and the legacy biller’s time zone when usage re-cut at its midnight gives the legacy quantity', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-shadow-causes-'));
    const events = [
      ...Array.from({ length: 10 }, (_, index) => jobAt(index, '2026-10-15T12:00:00.000Z')),
      ...[0, 1, 2].map((index) => jobAt(100 + index, '2026-10-01T02:00:00.000Z')),
      ...[0, 1].map((index) => jobAt(200 + index, '2026-11-01T04:30:00.000Z')),
    ];
    const eventsFile = path.join(directory, 'events.jsonl');
    await writeFile(eventsFile, events.map((event) => JSON.stringify(event)).join('\n') + '\n');
    const files = [
      '--ratecards',
      'ratecards',
      '--contract',
      'demo/samples/contracts/acme.yaml',
      '--events',
      eventsFile,
      '--period',
      '2026-10',
    ];
    const rated = await runTally(['rate', ...files, '--json']);
    expect(rated.code, rated.stderr).toBe(0);
    const invoice = InvoiceSchema.parse(JSON.parse(rated.stdout));
    // Tally: 13 jobs. The legacy biller: 12 at Tally's average unit price, everything else the same.
    const tallyJobs = legacyLinesFromInvoice(invoice).find((line) => line.price_id === 'jobs');
    expect(tallyJobs?.quantity).toBe('13');
    const legacyJobsAmount = formatMoney(new Decimal(tallyJobs?.amount ?? '0').times(12).dividedBy(13), 'USD');
    const legacy = legacyLinesFromInvoice(invoice).map((line) =>
      line.price_id === 'jobs' ? { ...line, quantity: '12', amount: legacyJobsAmount } : line,
    );
    expect(legacy.find((line) => line.price_id === 'jobs')).toBeDefined();
    const legacyFile = path.join(directory, 'legacy.csv');
    await writeFile(
      legacyFile,
      [
        'customer_id,period,price_id,quantity,amount,currency',
        ...legacy.map((line) =>
          [line.customer_id, line.period, line.price_id, line.quantity ?? '', line.amount, line.currency].join(','),
        ),
      ].join('\n') + '\n',
    );
    const compared = await runTally(['shadow', 'compare', '--legacy', legacyFile, ...files, '--json']);
    expect(compared.code, compared.stderr).toBe(0);
    const [acme] = JSON.parse(compared.stdout).customers;
    expect(acme.lines.filter((line: { status: string }) => line.status !== 'match')).toEqual([
      expect.objectContaining({
        key: 'jobs',
        status: 'diff',
        legacy_quantity: '12',
        new_quantity: '13',
        legacy_amount: legacyJobsAmount,
        price_effect: '0.00',
        cause: 'period_boundary',
        cause_detail: "the legacy biller's month runs in UTC-05:00",
      }),
    ]);
    // The table a person reads says the same, with the zone.
    const table = await runTally(['shadow', 'compare', '--legacy', legacyFile, ...files]);
    expect(table.stdout).toMatch(
      /jobs\s+diff\s+12\s+13\s.*period_boundary: the legacy biller's month runs in UTC-05:00/,
    );
  }, 60_000);
});
