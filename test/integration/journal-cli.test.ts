import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyInProcess as tally } from '../cli/tally-in-process.ts';
import { recordCreditGrants } from '../../activities/credit-ledger.ts';
import { postInvoiceJournal } from '../../activities/post-journal.ts';
import { issuedInvoice, usageLine } from '../builders/issued-invoice.ts';
import { testPool, testStack } from '../harness/services.ts';

const pool = testPool(2);
const customerId = `cli-${randomUUID()}`;

beforeAll(async () => {
  // Point the CLI at the test stack: with all three set, it starts nothing of its own.
  const { endpoints } = testStack();
  process.env.DATABASE_URL = endpoints.databaseUrl;
  process.env.NATS_URL = endpoints.natsUrl;
  process.env.TEMPORAL_ADDRESS = endpoints.temporalAddress;
  await recordCreditGrants(pool, {
    customerId,
    currency: 'USD',
    grants: [
      {
        id: 'promo-q4',
        kind: 'promotional',
        amount: '50.00',
        granted_at: '2026-10-01T00:00:00Z',
        expires_at: '2026-12-31T23:59:59Z',
      },
    ],
  });
  await postInvoiceJournal(pool, {
    invoice: issuedInvoice([usageLine('tokens-us', '600.00')], {
      customer_id: customerId,
      invoice_id: `inv-${customerId}`,
    }),
    policy: { commitPolicy: 'drawdown' },
  });
});
afterAll(async () => {
  await pool.end();
});

describe('tally journal / tally credits', () => {
  it("prints a customer's trial balance as a table, and as JSON", async () => {
    expect(await tally('journal', 'trial-balance', '--customer', customerId)).toBe(
      [
        'currency  number  account                        debit  credit  balance',
        'USD       1100    Accounts receivable           600.00    0.00   600.00',
        'USD       1150    Unbilled AR / contract asset  600.00  600.00     0.00',
        'USD       4000    Usage revenue                   0.00  600.00  -600.00',
        '',
        'USD: debits 1200.00, credits 1200.00, difference 0.00',
        '',
      ].join('\n'),
    );
    expect(JSON.parse(await tally('journal', 'trial-balance', '--customer', customerId, '--json'))).toMatchObject({
      balanced: true,
    });
  });

  it('prints entries with their lines, and credit balances', async () => {
    const entries = await tally('journal', 'entries', '--customer', customerId);
    expect(entries).toContain(
      `invoice:inv-${customerId}:usage_rated:calc-v1\n  usage_rated, 2026-10, USD: Usage rated`,
    );
    // Each row names its currency, its amounts at least in cents (nothing consumed is 0.00, not 0).
    const balances = await tally('credits', 'balances', '--customer', customerId);
    expect.soft(balances).toMatch(/^credit\s+kind\s+currency\s+granted/);
    expect
      .soft(balances)
      .toMatch(
        /promo-q4\s+promotional\s+USD\s+2026-10-01T00:00:00.000Z\s+2026-12-31T23:59:59.000Z\s+50\.00\s+0\.00\s+0\.00\s+50\.00/,
      );
    expect(await tally('credits', 'usable', '--customer', customerId, '--period', '2026-10')).toMatch(
      /^credit\s+kind\s+currency\s+expires\s+opening balance\s+remaining now\n\s*promo-q4\s+promotional\s+USD\s+2026-12-31T23:59:59.000Z\s+50\.00\s+50\.00\n/,
    );
    expect(
      JSON.parse(await tally('credits', 'usable', '--customer', customerId, '--period', '2026-10', '--json')),
    ).toMatchObject([{ credit_id: 'promo-q4', opening_balance: '50.00' }]);
  });

  it("prints what expired in each grant's currency, at least in its minor digits; --json as it was", async () => {
    const expiring = `cli-expire-${randomUUID()}`;
    await recordCreditGrants(pool, {
      customerId: expiring,
      currency: 'EUR',
      grants: [
        {
          id: 'promo-oct',
          kind: 'promotional',
          amount: '30',
          granted_at: '2026-10-01T00:00:00Z',
          expires_at: '2026-10-20T00:00:00Z',
        },
        {
          id: 'promo-nov',
          kind: 'promotional',
          amount: '12.5',
          granted_at: '2026-10-01T00:00:00Z',
          expires_at: '2026-11-20T00:00:00Z',
        },
      ],
    });
    expect(await tally('credits', 'expire', '--as-of', '2026-10-21T00:00:00Z', '--customer', expiring)).toMatch(
      new RegExp(
        `^customer\\s+credit\\s+kind\\s+currency\\s+expired\\s+breakage entry\\n${expiring}\\s+promo-oct\\s+promotional\\s+EUR\\s+30\\.00\\s*\\n$`,
      ),
    );
    expect(
      JSON.parse(await tally('credits', 'expire', '--as-of', '2026-11-21T00:00:00Z', '--customer', expiring, '--json')),
    ).toEqual([
      { customer_id: expiring, credit_id: 'promo-nov', kind: 'promotional', expired: '12.5', journal_entry_key: null },
    ]);
  });
});
