import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { withTransaction } from '../../db/pool.ts';
import { postInvoiceJournal, postJournalEntries } from '../../activities/post-journal.ts';
import { JournalEntryConflictError, loadJournalEntries, trialBalance } from '../../db/queries/journal.ts';
import {
  CHART_OF_ACCOUNTS,
  journalEntriesForInvoice,
  tieOutUsageRevenue,
  type JournalPolicy,
} from '../../domain/journal/index.ts';
import { Decimal } from '../../domain/money.ts';
import {
  adjustmentLine,
  creditLine,
  discountLine,
  feeLine,
  issuedInvoice,
  trueUpLine,
  usageLine,
} from '../builders/issued-invoice.ts';
import { testPool } from '../harness/services.ts';

const pool = testPool();
afterAll(async () => {
  await pool.end();
});

const policy: JournalPolicy = { commitPolicy: 'drawdown', commitAmount: '1000.00' };

/** A customer of its own per test: the ledger is append-only, so tests never clean up, they never meet. */
function octoberInvoice(customerId = `journal-${randomUUID()}`) {
  return issuedInvoice(
    [
      usageLine('tokens-us', '600.00'),
      feeLine('platform', '500.00'),
      discountLine('launch-10', '-60.00'),
      trueUpLine('460.00'),
      creditLine('promo-q4', 'promotional', '-50.00'),
    ],
    { customer_id: customerId, invoice_id: `inv-${customerId}-2026-10` },
  );
}

async function countRows(invoiceId: string): Promise<{ entries: string; lines: string }> {
  const { rows } = await pool.query<{ entries: string; lines: string }>(
    `SELECT (SELECT count(*) FROM journal_entries WHERE invoice_id = $1)::text AS entries,
            (SELECT count(*) FROM journal_lines l JOIN journal_entries e USING (entry_key) WHERE e.invoice_id = $1)::text AS lines`,
    [invoiceId],
  );
  return rows[0] as { entries: string; lines: string };
}

async function expectRefused(sql: string, params: unknown[], message: RegExp): Promise<void> {
  await expect(withTransaction(pool, (client) => client.query(sql, params))).rejects.toThrow(message);
}

describe('the general ledger', () => {
  it('holds the chart of accounts of domain/journal, row for row', async () => {
    const { rows } = await pool.query<{
      code: string;
      number: string;
      name: string;
      type: string;
      normal_balance: string;
    }>('SELECT code, number, name, type, normal_balance FROM ledger_accounts ORDER BY number');
    expect(Object.fromEntries(rows.map(({ code, ...account }) => [code, account]))).toEqual(CHART_OF_ACCOUNTS);
  });

  it("posts an invoice's entries once: a repost is a no-op and reads back exactly what was built", async () => {
    const invoice = octoberInvoice();
    const first = await postInvoiceJournal(pool, { invoice, policy });
    expect(first.posted).toHaveLength(first.entries.length);
    expect(first.entries.map((entry) => entry.entry_type)).toEqual([
      'usage_rated',
      'discount_applied',
      'commit_shortfall_breakage',
      'promotional_credit_applied',
      'invoice_issued',
      'subscription_recognized',
    ]);
    const counts = await countRows(invoice.invoice_id);

    const again = await postInvoiceJournal(pool, { invoice, policy });
    expect(again).toMatchObject({ posted: [], alreadyPosted: first.posted });
    expect(await countRows(invoice.invoice_id)).toEqual(counts);

    const stored = await loadJournalEntries(pool, { invoiceIds: [invoice.invoice_id] });
    const byKey = (entries: JournalEntry[]) => [...entries].sort((a, b) => a.entry_key.localeCompare(b.entry_key));
    expect(byKey(stored)).toEqual(byKey(first.entries));
  });

  it('posts one set when the same invoice is posted concurrently', async () => {
    const invoice = octoberInvoice();
    const entries = journalEntriesForInvoice({ invoice, policy });
    const results = await Promise.all(Array.from({ length: 4 }, () => postJournalEntries(pool, entries)));
    expect(results.flatMap((result) => result.posted).sort()).toEqual(entries.map((entry) => entry.entry_key).sort());
    expect(results.flatMap((result) => result.alreadyPosted)).toHaveLength(entries.length * 3);
    expect(await countRows(invoice.invoice_id)).toEqual({
      entries: String(entries.length),
      lines: String(entries.reduce((sum, entry) => sum + entry.lines.length, 0)),
    });
  });

  it('refuses a repost under the same key with different content, and posts nothing of that batch', async () => {
    const invoice = octoberInvoice();
    await postInvoiceJournal(pool, { invoice, policy });
    const changed = issuedInvoice(
      [...invoice.lines.filter((line) => line.kind !== 'fee'), feeLine('platform', '400.00')],
      { customer_id: invoice.customer_id, invoice_id: invoice.invoice_id },
    );
    const entries = journalEntriesForInvoice({ invoice: changed, policy });
    const fresh: JournalEntry = { ...(entries[0] as JournalEntry), entry_key: `${invoice.invoice_id}:fresh` };
    await expect(postJournalEntries(pool, [fresh, ...entries])).rejects.toThrow(JournalEntryConflictError);
    await expect(postJournalEntries(pool, [fresh, ...entries])).rejects.toThrow(
      /invoice_issued:calc-v1 is already posted with different content \(line 1: posted accounts_receivable 1450.00\/0.00, offered accounts_receivable 1350.00\/0.00\)/,
    );
    expect(await loadJournalEntries(pool, { entryKeys: [fresh.entry_key] })).toEqual([]);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of journal rows', async () => {
    const invoice = octoberInvoice();
    const { entries } = await postInvoiceJournal(pool, { invoice, policy });
    const key = entries[0]?.entry_key;
    await expectRefused(
      'UPDATE journal_entries SET memo = $2 WHERE entry_key = $1',
      [key, 'edited'],
      /journal_entries is append-only: UPDATE refused/,
    );
    await expectRefused(
      'DELETE FROM journal_entries WHERE entry_key = $1',
      [key],
      /journal_entries is append-only: DELETE refused/,
    );
    await expectRefused(
      'UPDATE journal_lines SET debit = debit + 1, credit = credit + 1 WHERE entry_key = $1',
      [key],
      /journal_lines is append-only: UPDATE refused/,
    );
    await expectRefused(
      'DELETE FROM journal_lines WHERE entry_key = $1',
      [key],
      /journal_lines is append-only: DELETE refused/,
    );
    await expectRefused('TRUNCATE journal_lines, journal_entries', [], /append-only: TRUNCATE refused/);
    await expectRefused(
      'UPDATE ledger_accounts SET name = $1 WHERE code = $2',
      ['Renamed', 'usage_revenue'],
      /ledger_accounts is append-only/,
    );
    expect(await loadJournalEntries(pool, { entryKeys: [key as string] })).toEqual([entries[0]]);
  });

  it('refuses, at commit, an entry that does not balance, has no lines, or gains a line later', async () => {
    const key = `test:${randomUUID()}`;
    const insertEntry = (client: pg.ClientBase, entryKey: string, lineCount: number) =>
      client.query(
        `INSERT INTO journal_entries (entry_key, entry_type, customer_id, currency, service_period, posting_period, calculation_version, memo, line_count)
       VALUES ($1, 'usage_rated', 'raw-sql', 'USD', '2026-10', '2026-10', 'test', 'raw', $2)`,
        [entryKey, lineCount],
      );
    const insertLine = (
      client: pg.ClientBase,
      entryKey: string,
      lineNo: number,
      account: string,
      debit: string,
      credit: string,
    ) =>
      client.query(
        'INSERT INTO journal_lines (entry_key, line_no, account, debit, credit) VALUES ($1, $2, $3, $4, $5)',
        [entryKey, lineNo, account, debit, credit],
      );

    await expect(
      withTransaction(pool, async (client) => {
        await insertEntry(client, key, 2);
        await insertLine(client, key, 1, 'unbilled_receivables', '100.00', '0');
        await insertLine(client, key, 2, 'usage_revenue', '0', '99.99');
      }),
    ).rejects.toThrow(/does not balance: debits 100.00 ≠ credits 99.99/);

    await expect(withTransaction(pool, (client) => insertEntry(client, key, 2))).rejects.toThrow(
      /has 0 lines, posted with 2/,
    );

    await expect(
      withTransaction(pool, async (client) => {
        await insertEntry(client, key, 2);
        await insertLine(client, key, 1, 'unbilled_receivables', '100.00', '0');
        await insertLine(client, key, 2, 'usage_revenue', '100.00', '0');
      }),
    ).rejects.toThrow(/does not balance/);

    await expect(
      withTransaction(pool, async (client) => {
        await insertEntry(client, key, 2);
        await insertLine(client, key, 1, 'unbilled_receivables', '100.00', '100.00');
      }),
    ).rejects.toThrow(/check constraint/);

    await withTransaction(pool, async (client) => {
      await insertEntry(client, key, 2);
      await insertLine(client, key, 1, 'unbilled_receivables', '100.00', '0');
      await insertLine(client, key, 2, 'usage_revenue', '0', '100.00');
    });
    await expect(
      withTransaction(pool, async (client) => {
        await insertLine(client, key, 3, 'accounts_receivable', '5.00', '0');
        await insertLine(client, key, 4, 'usage_revenue', '0', '5.00');
      }),
    ).rejects.toThrow(/has 4 lines, posted with 2/);
    await expect(
      withTransaction(pool, (client) => insertLine(client, key, 3, 'no_such_account', '5.00', '0')),
    ).rejects.toThrow(/foreign key/);
  });

  it('keeps a trial balance whose debits equal its credits, per customer and over the whole journal', async () => {
    const customerId = `journal-${randomUUID()}`;
    const october = octoberInvoice(customerId);
    const november = issuedInvoice(
      [
        usageLine('tokens-us', '1200.00'),
        trueUpLine('0.00'),
        adjustmentLine('adj:tokens-us:2026-10', '2026-10', '45.00'),
      ],
      { customer_id: customerId, period: '2026-11', invoice_id: `inv-${customerId}-2026-11` },
    );
    await postInvoiceJournal(pool, { invoice: october, policy });
    await postInvoiceJournal(pool, { invoice: november, policy });

    const customer = await trialBalance(pool, { customerId });
    expect(customer.balanced).toBe(true);
    expect(customer.totals).toEqual([{ currency: 'USD', debit: '5610.00', credit: '5610.00', difference: '0.00' }]);
    expect(Object.fromEntries(customer.accounts.map((account) => [account.account, account.balance]))).toEqual({
      accounts_receivable: '2695.00',
      unbilled_receivables: '0.00',
      deferred_revenue_subscriptions: '0.00',
      usage_revenue: '-1845.00',
      subscription_revenue: '-500.00',
      breakage_revenue: '-460.00',
      contra_revenue_discounts: '60.00',
      contra_revenue_promotional_credits: '50.00',
    });
    const throughOctober = await trialBalance(pool, { customerId, throughPostingPeriod: '2026-10' });
    expect(throughOctober.accounts.find((account) => account.account === 'accounts_receivable')?.balance).toBe(
      '1450.00',
    );

    const whole = await trialBalance(pool);
    expect(whole.balanced).toBe(true);
    for (const total of whole.totals) expect(new Decimal(total.difference).isZero()).toBe(true);

    const tieOut = tieOutUsageRevenue({
      period: '2026-10',
      invoices: [october, november],
      entries: await loadJournalEntries(pool, { invoiceIds: [october.invoice_id, november.invoice_id] }),
    });
    expect(tieOut.differences).toEqual([]);
    expect(tieOut).toMatchObject({ usage_billed: '645.00', usage_revenue_recognized: '645.00' });
  });
});
