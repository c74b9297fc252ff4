import type { Client, ScheduleHandle } from '@temporalio/client';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, authenticatePassword, issueToken } from '../../access/index.ts';
import { tallyInProcess as tally } from '../cli/tally-in-process.ts';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import { withTransaction } from '../../db/pool.ts';
import { postJournalEntries } from '../../activities/post-journal.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { listReviewExceptions } from '../../db/queries/review-exceptions.ts';
import { loadJournalEntries, trialBalance } from '../../db/queries/journal.ts';
import { ACCOUNT_CODES, netDebitByAccount } from '../../domain/journal/index.ts';
import { Decimal, formatMoney, sumDecimals } from '../../domain/money.ts';
import { periodOf, previousPeriod } from '../../domain/period.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';
import { recordHistory } from '../replay/workflow-histories.ts';
import { ensureRevenueSchedule } from '../../revenue/index.ts';
import { revenueDayWorkflowId } from '../../workflows/revenue-definitions.ts';
import type { revenueDayWorkflow, revenueLauncherWorkflow } from '../../workflows/revenue.ts';
import { triggerUntilNewAction } from '../harness/trigger-schedule.ts';

// Daily recognition on the real stack: days recognized by hand with `tally revenue run` (the same
// step the daily schedule runs), a rerun that posts nothing, the invoice settling the recognized
// position so the period keeps exactly the invoice, then a locked period refusing postings.

let bed: BillingTestbed;
const customerId = 'rev-daily';
const lateCustomerId = 'rev-locked';
const savedEnv = { ...process.env };

beforeAll(async () => {
  bed = await BillingTestbed.create('revenue_daily');
  const { endpoints } = testStack();
  process.env.DATABASE_URL = bed.databaseUrl;
  process.env.NATS_URL = endpoints.natsUrl;
  process.env.TEMPORAL_ADDRESS = endpoints.temporalAddress;
  for (const id of [customerId, lateCustomerId]) {
    await bed.publishContract(
      buildContract({
        customer_id: id,
        credits: [{ id: 'promo', kind: 'promotional', amount: '2.00', granted_at: '2026-09-01T00:00:00Z' }],
      }),
    );
  }
  const tokens = (customer: string, timestamp: string, quantity: string) =>
    buildUsageEvent({
      customer_id: customer,
      timestamp,
      quantity,
      metadata: { sku: 'llm.tokens', region: 'us-east-1' },
    });
  await bed.storeEvents(
    [
      tokens(customerId, '2026-10-03T10:00:00.000Z', '600000'),
      tokens(customerId, '2026-10-20T10:00:00.000Z', '900000'),
      tokens(lateCustomerId, '2026-10-08T10:00:00.000Z', '1000'),
    ],
    '2026-10-21T00:00:00.000Z',
  );
});

afterAll(async () => {
  process.env = savedEnv;
  await bed.close();
});

async function runDay(customer: string, day: string): Promise<{ status: string; entry: string; detail: string }> {
  const output = JSON.parse(await tally('revenue', 'run', '--day', day, '--customer', customer, '--json')) as {
    results: { status: string; entry: string; detail: string }[];
  };
  const [result] = output.results;
  if (result === undefined) throw new Error(`no result for ${customer} ${day}`);
  return result;
}

const usageRevenue = (entries: Parameters<typeof netDebitByAccount>[0]): string =>
  formatMoney((netDebitByAccount(entries).get('usage_revenue') ?? new Decimal(0)).negated(), 'USD');

describe('daily revenue recognition', () => {
  it('recognizes days by hand, once each; the invoice settles them and the period keeps exactly the invoice', async () => {
    // Day 5: 600 packages of 1,000 tokens at the first tier, 0.010 → 6.00, less the promotional credit drawn against it.
    expect(await runDay(customerId, '2026-10-05')).toMatchObject({
      status: 'posted',
      entry: 'recognition:rev-daily/2026-10-05:revenue_recognized:revenue-recognition-v1',
      detail: 'usage revenue 6.00 USD, booked in 2026-10',
    });
    expect(await runDay(customerId, '2026-10-05')).toMatchObject({ status: 'already done' });
    // An earlier day after a later one: already covered.
    expect(await runDay(customerId, '2026-10-04')).toMatchObject({ status: 'already done' });
    // Day 31: 1,500 packages to date across the mid-October price change, priced on the cumulative quantity.
    expect(await runDay(customerId, '2026-10-31')).toMatchObject({ status: 'posted' });
    const daily = await loadJournalEntries(bed.pool, { customerId, entryTypes: ['revenue_recognized'] });
    expect(daily.map((entry) => usageRevenue([entry]))).toEqual(['6.00', '7.10']);
    expect(netDebitByAccount(daily).get('contra_revenue_promotional_credits')?.toString()).toBe('2');

    await bed.withWorker(async () => {
      const handle = await bed.startPeriod(bed.periodInput(customerId, '2026-10'));
      await handle.result();
    });
    const invoice = (await findInvoice(bed.pool, `inv:${customerId}:2026-10`))?.document as IssuedInvoice;
    const usageLines = sumDecimals(
      invoice.lines.filter((line) => line.kind === 'usage').map((line) => new Decimal(line.amount)),
    );

    const recognition = await loadJournalEntries(bed.pool, {
      customerId,
      entryTypes: ['revenue_recognized', 'recognition_settled'],
    });
    expect(recognition.map((entry) => entry.entry_type)).toEqual([
      'revenue_recognized',
      'revenue_recognized',
      'recognition_settled',
    ]);
    // The settlement reverses the daily position: together they net to zero on every account ...
    for (const amount of netDebitByAccount(recognition).values()) expect(amount.isZero()).toBe(true);
    // ... so the period keeps the invoice's usage revenue, nothing twice.
    const all = await loadJournalEntries(bed.pool, { customerId, servicePeriod: '2026-10' });
    expect(usageRevenue(all)).toBe(formatMoney(usageLines, 'USD'));
    expect(usageRevenue(daily)).toBe(formatMoney(usageLines, 'USD'));
    expect((await trialBalance(bed.pool, { customerId })).balanced).toBe(true);
    // Once settled, the period's days post nothing more.
    expect(await runDay(customerId, '2026-10-31')).toMatchObject({ status: 'settled' });

    // The revenue schedule: each day's recognition and the accrual it carries, back to zero at the settlement.
    const schedule = JSON.parse(
      await tally('revenue', 'schedule', '--period', '2026-10', '--customer', customerId, '--json'),
    ) as {
      days: { day: string; usage_revenue: string; contra_revenue: string; accrual_position: string }[];
    };
    // Contra-revenue: the rate card's 10 % discount on tokens (0.60, then 0.71) and the 2.00 promotional credit.
    expect(schedule.days.map((row) => [row.day, row.usage_revenue, row.contra_revenue])).toEqual([
      ['2026-10-05', '6.00', '2.60'],
      ['2026-10-31', '7.10', '0.71'],
      ['settled', '-13.10', '-3.31'],
    ]);
    expect(schedule.days.at(-1)?.accrual_position).toBe('0.00');

    // Disaggregation: the period's revenue by obligation and product, net of recognition and its settlement.
    const disaggregated = (
      JSON.parse(await tally('revenue', 'disaggregate', '--period', '2026-10', '--format', 'json')) as {
        customer_id: string;
        category: string;
        product: string;
        amount: string;
      }[]
    ).filter((row) => row.customer_id === customerId);
    expect(disaggregated.find((row) => row.category === 'usage')).toMatchObject({
      product: 'usage:tokens-us',
      amount: formatMoney(usageLines, 'USD'),
    });
    const subscription = invoice.lines.find((line) => line.kind === 'fee');
    expect(disaggregated.find((row) => row.category === 'subscription')?.amount).toBe(subscription?.amount);
    const csv = await tally('revenue', 'disaggregate', '--period', '2026-10', '--format', 'csv');
    expect(csv.split('\n')[0]).toBe('service_period,customer_id,currency,category,account,product,amount');
  });

  it('locks a period as an admin: the database refuses postings into it, and recognition books in the open period', async () => {
    await addUser(
      bed.pool,
      { operator: 'test' },
      { username: 'controller', role: 'admin', password: 'a-long-password-1' },
    );
    const user = await authenticatePassword(bed.pool, {
      username: 'controller',
      password: 'a-long-password-1',
      from: 'cli',
    });
    process.env.TALLY_USER_TOKEN = (await issueToken(bed.pool, user, 1)).token;
    expect(await tally('journal', 'lock', '--period', '2026-10', '--reason', 'October closed')).toBe(
      'locked 2026-10 (by controller: October closed)\n',
    );
    expect(await tally('journal', 'lock', '--period', '2026-10')).toMatch(
      /^2026-10 was already locked at .* by controller\n$/,
    );

    await expect(
      withTransaction(bed.pool, (client) =>
        client.query(
          `INSERT INTO journal_entries (entry_key, entry_type, customer_id, currency, service_period, posting_period, calculation_version, memo, line_count)
           VALUES ('manual:1', 'usage_rated', $1, 'USD', '2026-10', '2026-10', 'v', 'by hand', 2)`,
          [lateCustomerId],
        ),
      ),
    ).rejects.toThrow(/accounting period 2026-10 is locked: journal entry manual:1 refused/);

    expect(await runDay(lateCustomerId, '2026-10-10')).toMatchObject({
      status: 'posted',
      detail: 'usage revenue 0.01 USD, booked in 2026-11',
    });
    const [entry] = await loadJournalEntries(bed.pool, {
      customerId: lateCustomerId,
      entryTypes: ['revenue_recognized'],
    });
    expect(entry).toMatchObject({ service_period: '2026-10', posting_period: '2026-11' });
  });
});

async function triggerAndWait(client: Client, schedule: ScheduleHandle, seen: Set<string>) {
  return client.workflow.getHandle<typeof revenueLauncherWorkflow>(await triggerUntilNewAction(schedule, seen));
}

/** Parses the export's CSV back (RFC 4180: quoted fields may hold commas, quotes and newlines). */
function parseCsv(text: string): Record<string, string>[] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index] as string;
    if (quoted) {
      if (character === '"' && text[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (character === '"') quoted = false;
      else field += character;
    } else if (character === '"') quoted = true;
    else if (character === ',') {
      record.push(field);
      field = '';
    } else if (character === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += character;
  }
  const [header = [], ...rows] = records;
  return rows.map((row) => Object.fromEntries(header.map((column, index) => [column, row[index] ?? ''])));
}

describe('the GL export', () => {
  it('exports every posting of a period mapped to an external chart; loaded back, every entry and the period balance', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tally-gl-'));
    const full = path.join(dir, 'chart.csv');
    await writeFile(
      full,
      [
        'account,external_account',
        ...ACCOUNT_CODES.map((code, index) => `${code},GL-${String(index).padStart(3, '0')}`),
      ].join('\n'),
    );
    const rows = parseCsv(
      await tally('journal', 'export', '--period', '2026-10', '--format', 'csv', '--mapping', full),
    );
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'entry_id',
      'posted_at',
      'period',
      'account',
      'external_account',
      'debit',
      'credit',
      'currency',
      'customer_id',
      'invoice_id',
      'memo',
    ]);
    expect(rows.length).toBeGreaterThan(6);
    const byEntry = new Map<string, Decimal>();
    for (const row of rows) {
      expect(row.period).toBe('2026-10');
      expect(row.external_account).toMatch(/^GL-\d{3}$/);
      // Exactly one side carries the amount.
      expect((row.debit === '') !== (row.credit === '')).toBe(true);
      const net = new Decimal(row.debit || '0').minus(row.credit || '0');
      byEntry.set(row.entry_id ?? '', (byEntry.get(row.entry_id ?? '') ?? new Decimal(0)).plus(net));
    }
    for (const [entryId, net] of byEntry) expect(`${entryId} ${net.toString()}`).toBe(`${entryId} 0`);
    expect(rows.some((row) => row.entry_id?.startsWith('recognition:rev-daily/2026-10-05'))).toBe(true);
    const json = JSON.parse(await tally('journal', 'export', '--period', '2026-10', '--format', 'json')) as Record<
      string,
      string
    >[];
    expect(json.map((row) => row.entry_id)).toEqual(rows.map((row) => row.entry_id));
    expect(json.find((row) => row.account === 'usage_revenue')?.external_account).toBe('4000');

    const trial = JSON.parse(
      await tally('journal', 'export', '--period', '2026-10', '--format', 'json', '--trial-balance', '--mapping', full),
    ) as { balanced: boolean; accounts: { external_account: string }[] };
    expect(trial.balanced).toBe(true);
    expect(trial.accounts.every((account) => account.external_account.startsWith('GL-'))).toBe(true);

    // A mapping without Usage revenue refuses the export, naming the file and the account.
    const partial = path.join(dir, 'partial.csv');
    await writeFile(partial, `account,external_account\nunbilled_receivables,1200\n`);
    const errors: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      errors.push(String(chunk));
      return true;
    });
    try {
      expect(await tally('journal', 'export', '--period', '2026-10', '--mapping', partial)).toBe('');
    } finally {
      spy.mockRestore();
    }
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
    expect(errors.join('')).toContain(`${partial}: no line maps account usage_revenue (field account)`);
  });
});

describe('the daily revenue schedule', () => {
  it('recognizes yesterday for every customer when triggered, and a second run posts nothing new', async () => {
    const scheduledCustomer = 'rev-scheduled';
    await bed.publishContract(buildContract({ customer_id: scheduledCustomer }));
    const startOfToday = new Date(new Date().toISOString().slice(0, 10)).getTime();
    const yesterday = new Date(startOfToday - 86_400_000).toISOString().slice(0, 10);
    await bed.storeEvents([
      buildUsageEvent({
        customer_id: scheduledCustomer,
        timestamp: `${yesterday}T12:00:00.000Z`,
        quantity: '250000',
        metadata: { sku: 'llm.tokens', region: 'us-east-1' },
      }),
    ]);
    await bed.withWorker(async () => {
      const client = bed.client;
      // An hour far from now: the schedule never fires by itself during the test.
      const hour = (new Date().getUTCHours() + 12) % 24;
      const scheduleId = await ensureRevenueSchedule(client, {
        taskQueue: bed.taskQueue,
        hour,
        minute: 0,
        stepTimeoutMs: 5_000,
      });
      // Created again (a second worker start): updated, not duplicated.
      await ensureRevenueSchedule(client, { taskQueue: bed.taskQueue, hour, minute: 0, stepTimeoutMs: 5_000 });
      const schedule = client.schedule.getHandle(scheduleId);
      try {
        const seen = new Set<string>();
        const first = await (await triggerAndWait(client, schedule, seen)).result();
        expect(first).toMatchObject({ day: yesterday, customers: 3, failures: [] });
        if ('alreadyRunning' in first) throw new Error('the first run found a day running');
        expect(first.posted).toBeGreaterThanOrEqual(1);
        // The daily reconciliation check: the day's period and the one before, both clean.
        const period = periodOf(`${yesterday}T00:00:00Z`);
        expect(first.reconciliation).toEqual([
          { period: previousPeriod(period).name, differences: 0 },
          { period: period.name, differences: 0 },
        ]);
        const [entry] = await loadJournalEntries(bed.pool, {
          customerId: scheduledCustomer,
          entryTypes: ['revenue_recognized'],
        });
        expect(entry?.entry_key).toBe(
          `recognition:${scheduledCustomer}/${yesterday}:revenue_recognized:revenue-recognition-v1`,
        );
        // 250 packages at the first tier of the version in force (0.009 since mid-October) → 2.25.
        expect(usageRevenue(entry === undefined ? [] : [entry])).toBe('2.25');
        await recordHistory(
          client.workflow.getHandle<typeof revenueDayWorkflow>(revenueDayWorkflowId(bed.taskQueue, yesterday)),
          'revenue-day',
        );

        const second = await (await triggerAndWait(client, schedule, seen)).result();
        expect(second).toMatchObject({
          day: yesterday,
          customers: 3,
          posted: 0,
          unchanged: 0,
          skipped: 3,
          failures: [],
        });
        expect(
          await loadJournalEntries(bed.pool, { customerId: scheduledCustomer, entryTypes: ['revenue_recognized'] }),
        ).toHaveLength(1);
      } finally {
        await schedule.delete();
      }
    });
  });
});

describe('tally reconcile', () => {
  it('ties the period out per customer and SKU with 0 differences, then records a planted difference as an exception once', async () => {
    const clean = JSON.parse(await tally('reconcile', '--period', '2026-10', '--json')) as {
      rows: { customer_id: string; sku: string; metered: string; invoiced: string; recognized: string }[];
      differences: unknown[];
    };
    expect(clean.differences).toEqual([]);
    expect(clean.rows.filter((row) => row.customer_id === customerId)).toEqual([
      expect.objectContaining({ sku: 'llm.tokens', metered: '13.10', invoiced: '13.10', recognized: '13.10' }),
    ]);
    expect(process.exitCode ?? 0).toBe(0);

    // A posting the invoice does not explain: the journal credits 1.00 more usage revenue for the line.
    const invoiceId = `inv:${customerId}:2026-10`;
    await postJournalEntries(bed.pool, [
      {
        entry_key: `manual:${invoiceId}:extra`,
        entry_type: 'usage_rated',
        customer_id: customerId,
        invoice_id: invoiceId,
        currency: 'USD',
        service_period: '2026-10',
        posting_period: '2026-10',
        calculation_version: 'manual',
        memo: 'posted by hand',
        lines: [
          {
            line_no: 1,
            account: 'unbilled_receivables',
            debit: '1.00',
            credit: '0.00',
            source_line_key: 'usage:tokens-us',
          },
          { line_no: 2, account: 'usage_revenue', debit: '0.00', credit: '1.00', source_line_key: 'usage:tokens-us' },
        ],
      },
    ]);
    const text = await tally('reconcile', '--period', '2026-10');
    expect(process.exitCode).toBe(3);
    process.exitCode = 0;
    expect(text).toMatch(/2026-10: \d+ differences \(\d+ new reconciliation exceptions\)/);
    expect(text).toContain('invoice_to_revenue amount_mismatch');
    const exceptions = await listReviewExceptions(bed.pool, {});
    const reconciliation = exceptions.filter((exception) => exception.kind === 'reconciliation');
    expect(reconciliation.length).toBeGreaterThan(0);
    expect(reconciliation[0]?.context).toMatchObject({
      reconciliation: { expected: expect.any(String), actual: expect.any(String) },
    });
    // Run again: the same differences, no new exception.
    const again = JSON.parse(await tally('reconcile', '--period', '2026-10', '--json')) as { exceptionsOpened: number };
    process.exitCode = 0;
    expect(again.exceptionsOpened).toBe(0);
  });

  it('lets billing ops acknowledge a difference or resolve it by a correcting entry, audited; a rerun reopens only a changed difference', async () => {
    const invoiceId = `inv:${customerId}:2026-10`;
    const reconcile = async () => {
      const result = JSON.parse(await tally('reconcile', '--period', '2026-10', '--json')) as {
        exceptionsOpened: number;
        differences: { stage: string; invoice_id: string | null }[];
      };
      process.exitCode = 0;
      return result;
    };
    const mismatch = async () =>
      (await listReviewExceptions(bed.pool, {})).find(
        (exception) =>
          exception.kind === 'reconciliation' &&
          exception.exceptionId.includes(`invoice_to_revenue:amount_mismatch:${invoiceId}`),
      );
    const id = (await mismatch())?.exceptionId ?? '';
    expect(id).not.toBe('');
    const planted = (key: string, amount: string, reverse = false) => ({
      entry_key: key,
      entry_type: 'usage_rated' as const,
      customer_id: customerId,
      invoice_id: invoiceId,
      currency: 'USD',
      service_period: '2026-10',
      posting_period: '2026-11',
      calculation_version: 'manual',
      memo: 'posted by hand',
      lines: [
        {
          line_no: 1,
          account: 'unbilled_receivables',
          debit: reverse ? '0.00' : amount,
          credit: reverse ? amount : '0.00',
          source_line_key: 'usage:tokens-us',
        },
        {
          line_no: 2,
          account: 'usage_revenue',
          debit: reverse ? amount : '0.00',
          credit: reverse ? '0.00' : amount,
          source_line_key: 'usage:tokens-us',
        },
      ],
    });

    // Acknowledged with a note (the controller from the lock test decides): no workflow waits on it.
    expect(await tally('review', 'approve', id, '--note', 'the hand posting is known')).toBe(
      `${id}: approve by controller\n`,
    );
    expect(await mismatch()).toMatchObject({ status: 'approved', reviewer: 'controller' });
    // The same difference again: still decided, nothing opened.
    expect((await reconcile()).exceptionsOpened).toBe(0);
    expect((await mismatch())?.status).toBe('approved');

    // The difference changes (another 0.50 by hand): the decision no longer covers it, it opens again.
    await postJournalEntries(bed.pool, [planted(`manual:${invoiceId}:extra-2`, '0.50')]);
    expect((await reconcile()).exceptionsOpened).toBeGreaterThanOrEqual(1);
    const reopened = await mismatch();
    expect(reopened?.status).toBe('open');
    expect(reopened?.context).toMatchObject({ previousDecision: { status: 'approved', reviewer: 'controller' } });

    // A correcting entry reverses both hand postings: the difference is gone; the exception is resolved by it.
    const correction = `manual:${invoiceId}:correction`;
    await postJournalEntries(bed.pool, [planted(correction, '1.50', true)]);
    expect((await reconcile()).differences.filter((difference) => difference.invoice_id === invoiceId)).toEqual([]);
    expect(await tally('review', 'resolve', id, '--entry', correction, '--note', 'hand postings reversed')).toBe(
      `${id}: resolved by journal entry ${correction} (controller): hand postings reversed\n`,
    );
    expect(await mismatch()).toMatchObject({ status: 'resolved', reviewer: 'controller' });
    const { rows } = await bed.pool.query<{ action: string; details: Record<string, string> }>(
      `SELECT action, details FROM audit_log WHERE subject = $1 ORDER BY seq`,
      [`exception:${id}`],
    );
    expect(rows.map((row) => [row.action, row.details.kind])).toEqual([
      ['exception_decided', 'approve'],
      ['exception_decided', 'resolve'],
    ]);
  });
});
