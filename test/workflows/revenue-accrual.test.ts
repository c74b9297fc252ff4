import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyInProcess as tally } from '../cli/tally-in-process.ts';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { loadJournalEntries, trialBalance } from '../../db/queries/journal.ts';
import { netDebitByAccount } from '../../domain/journal/index.ts';
import { Decimal, formatMoney, sumDecimals } from '../../domain/money.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';

// The month-end accrual on the real stack (SPEC §11): October recognized by day, not invoiced at
// month end; `tally revenue run` for 1 November accrues usage rated through period end (what the
// latency window let in) on 31 October and reverses it on 1 November; usage stored later trues the
// accrual up; the invoice then posts against the reversal in November, so October's service period
// keeps exactly the invoice, and `tally reconcile` ties out.

let bed: BillingTestbed;
const customerId = 'rev-accrued';
const savedEnv = { ...process.env };

const tokens = (timestamp: string, quantity: string) =>
  buildUsageEvent({
    customer_id: customerId,
    timestamp,
    quantity,
    metadata: { sku: 'llm.tokens', region: 'us-east-1' },
  });

beforeAll(async () => {
  bed = await BillingTestbed.create('revenue_accrual');
  const { endpoints } = testStack();
  process.env.DATABASE_URL = bed.databaseUrl;
  process.env.NATS_URL = endpoints.natsUrl;
  process.env.TEMPORAL_ADDRESS = endpoints.temporalAddress;
  process.env.TALLY_REVENUE_ACCRUAL_LATENCY = '24h';
  await bed.publishContract(buildContract({ customer_id: customerId }));
  await bed.storeEvents([tokens('2026-10-03T10:00:00.000Z', '600000')], '2026-10-03T10:00:01.000Z');
});

afterAll(async () => {
  process.env = savedEnv;
  await bed.close();
});

type RunResult = { status: string; entry: string; detail: string };
async function run(day: string): Promise<RunResult[]> {
  const output = JSON.parse(await tally('revenue', 'run', '--day', day, '--customer', customerId, '--json')) as {
    results: RunResult[];
  };
  return output.results;
}

const usageRevenue = (entries: Parameters<typeof netDebitByAccount>[0]): string =>
  formatMoney((netDebitByAccount(entries).get('usage_revenue') ?? new Decimal(0)).negated(), 'USD');

describe('the month-end accrual', () => {
  it('accrues a period not invoiced at month end, reverses it on the first, trues it up, and the invoice posts against it', async () => {
    // 31 October: the days hold the usage to date; October is not accrued yet (window: 24 h).
    expect((await run('2026-10-31')).map((result) => result.status)).toEqual(['posted']);
    // Usage of 31 October stored within the window: in the accrual, not in any day.
    await bed.storeEvents([tokens('2026-10-31T20:00:00.000Z', '100000')], '2026-11-01T08:00:00.000Z');
    const first = await run('2026-11-01');
    expect(first.find((result) => result.status === 'accrued')).toMatchObject({
      entry: `accrual:${customerId}/2026-10:revenue_accrued:revenue-accrual-v1`,
    });
    const accrual = await loadJournalEntries(bed.pool, {
      customerId,
      entryTypes: ['revenue_accrued', 'accrual_reversed'],
    });
    expect(accrual.map((entry) => [entry.entry_type, entry.service_period, entry.posting_period])).toEqual(
      expect.arrayContaining([
        ['revenue_accrued', '2026-10', '2026-10'],
        ['accrual_reversed', '2026-10', '2026-11'],
      ]),
    );
    // The accrual adds the usage stored within the window; its reversal takes out days and accrual together.
    const days = await loadJournalEntries(bed.pool, { customerId, entryTypes: ['revenue_recognized'] });
    const accrued = usageRevenue(accrual.filter((entry) => entry.entry_type === 'revenue_accrued'));
    expect(new Decimal(accrued).gt(0)).toBe(true);
    expect(usageRevenue(accrual.filter((entry) => entry.entry_type === 'accrual_reversed'))).toBe(
      formatMoney(
        new Decimal(usageRevenue(days.filter((entry) => entry.service_period === '2026-10'))).plus(accrued).negated(),
        'USD',
      ),
    );
    // October's days are over: a day of October run again posts nothing.
    expect((await run('2026-10-31'))[0]).toMatchObject({ status: 'accrued' });
    // A rerun of the same day: nothing new.
    expect((await run('2026-11-01')).find((result) => result.status.startsWith('accrual'))).toMatchObject({
      status: 'accrual unchanged',
    });

    // Usage of October stored beyond the window: the next day's run trues the accrual up, once.
    await bed.storeEvents([tokens('2026-10-30T09:00:00.000Z', '50000')], '2026-11-01T09:00:00.000Z');
    expect((await run('2026-11-02')).find((result) => result.status.startsWith('accrual'))).toMatchObject({
      status: 'accrual trued up',
      entry: `accrual:${customerId}/2026-10/true-up-1:accrual_trued_up:revenue-accrual-v1`,
    });
    expect((await run('2026-11-02')).find((result) => result.status.startsWith('accrual'))).toMatchObject({
      status: 'accrual unchanged',
    });
    const october = await loadJournalEntries(bed.pool, { customerId, servicePeriod: '2026-10' });
    const bookedIn = (period: string) => october.filter((entry) => entry.posting_period === period);
    // October's books hold the accrual (usage rated through period end); the reversals take it all out in November.
    const accruedOctober = usageRevenue(bookedIn('2026-10'));
    expect(usageRevenue(bookedIn('2026-11'))).toBe(formatMoney(new Decimal(accruedOctober).negated(), 'USD'));

    // The revenue schedule shows the days, the accrual, the true-up and their reversals.
    const schedule = JSON.parse(
      await tally('revenue', 'schedule', '--period', '2026-10', '--customer', customerId, '--json'),
    ) as { days: { day: string; kind: string; usage_revenue: string; accrual_position: string }[] };
    expect(schedule.days.map((row) => [row.day, row.kind])).toEqual([
      ['2026-10-31', 'day'],
      ['2026-10-31', 'accrual'],
      ['2026-11-01', 'reversal'],
      ['2026-10-31', 'true_up'],
      ['2026-11-01', 'reversal'],
    ]);
    expect(schedule.days[1]?.usage_revenue).toBe(accrued);
    expect(schedule.days.at(-1)?.accrual_position).toBe('0.00');

    // The invoice: its entries post in November against the reversal; the settlement has nothing left.
    await bed.withWorker(async () => {
      const handle = await bed.startPeriod(bed.periodInput(customerId, '2026-10'));
      await handle.result();
    });
    const invoice = (await findInvoice(bed.pool, `inv:${customerId}:2026-10`))?.document as IssuedInvoice;
    const invoiced = formatMoney(
      sumDecimals(invoice.lines.filter((line) => line.kind === 'usage').map((line) => new Decimal(line.amount))),
      'USD',
    );
    expect(invoiced).toBe(accruedOctober);
    const invoiceEntries = await loadJournalEntries(bed.pool, { invoiceIds: [invoice.invoice_id] });
    expect(invoiceEntries.length).toBeGreaterThan(0);
    for (const entry of invoiceEntries) expect(entry.posting_period).toBe('2026-11');
    expect(await loadJournalEntries(bed.pool, { customerId, entryTypes: ['recognition_settled'] })).toEqual([]);
    const all = await loadJournalEntries(bed.pool, { customerId, servicePeriod: '2026-10' });
    // Nothing recognized twice: the service period keeps exactly the invoice; October the accrual.
    expect(usageRevenue(all)).toBe(invoiced);
    expect(usageRevenue(all.filter((entry) => entry.posting_period === '2026-10'))).toBe(accruedOctober);
    expect((await trialBalance(bed.pool, { customerId })).balanced).toBe(true);
    const reconciled = JSON.parse(await tally('reconcile', '--period', '2026-10', '--json')) as {
      differences: unknown[];
    };
    expect(reconciled.differences).toEqual([]);
    expect(process.exitCode ?? 0).toBe(0);
    // Invoiced: no more true-ups.
    expect((await run('2026-11-03')).some((result) => result.status.startsWith('accrual'))).toBe(false);
  });

  it('accrues the last month of a contract that ended with it: the first day of the next month lists the customer', async () => {
    const ending = 'rev-accrual-ending';
    await bed.publishContract(buildContract({ customer_id: ending, ends_at: '2026-11-01T00:00:00Z' }));
    await bed.storeEvents(
      [
        buildUsageEvent({
          customer_id: ending,
          timestamp: '2026-10-20T10:00:00.000Z',
          quantity: '400000',
          metadata: { sku: 'llm.tokens', region: 'us-east-1' },
        }),
      ],
      '2026-10-20T10:00:01.000Z',
    );
    await tally('revenue', 'run', '--day', '2026-10-31', '--customer', ending, '--json');
    // The daily run as the schedule runs it: every customer it lists, none named.
    const everyone = JSON.parse(await tally('revenue', 'run', '--day', '2026-11-01', '--json')) as {
      results: (RunResult & { customer: string })[];
    };
    expect(everyone.results.filter((result) => result.customer === ending).map((result) => result.status)).toEqual([
      'not active',
      'accrued',
    ]);
    // The days already held the whole position through period end: the accrual is its reversal alone.
    const accrual = await loadJournalEntries(bed.pool, {
      customerId: ending,
      entryTypes: ['revenue_accrued', 'accrual_reversed'],
    });
    expect(accrual.map((entry) => [entry.entry_type, entry.service_period, entry.posting_period])).toEqual([
      ['accrual_reversed', '2026-10', '2026-11'],
    ]);
  });
});
