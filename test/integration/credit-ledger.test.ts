import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../db/pool.ts';
import { recordCreditExpiries, recordCreditGrants } from '../../activities/credit-ledger.ts';
import { creditBalances, recordCreditConsumptions, usableCredits } from '../../db/queries/credit-ledger.ts';
import { postInvoiceJournal } from '../../activities/post-journal.ts';
import { loadJournalEntries, trialBalance } from '../../db/queries/journal.ts';
import {
  creditMovementsFromInvoice,
  type CreditConsumption,
  type CreditGrant,
} from '../../domain/credit-ledger/index.ts';
import { creditLine, issuedInvoice, usageLine } from '../builders/issued-invoice.ts';
import { testPool } from '../harness/services.ts';

const pool = testPool();
afterAll(async () => {
  await pool.end();
});

/** A customer of its own per test: the ledger is append-only, so tests never clean up, they never meet. */
const newCustomer = (): string => `credits-${randomUUID()}`;

const prepaid = (overrides: Partial<CreditGrant> = {}): CreditGrant => ({
  id: 'prepaid-1',
  kind: 'prepaid',
  amount: '100.00',
  granted_at: '2026-09-15T00:00:00Z',
  ...overrides,
});

function consumption(
  customerId: string,
  period: string,
  amount: string,
  overrides: Partial<CreditConsumption> = {},
): CreditConsumption {
  return {
    customer_id: customerId,
    credit_id: 'prepaid-1',
    credit_kind: 'prepaid',
    invoice_id: `inv-${customerId}-${period}`,
    currency: 'USD',
    period,
    amount,
    line_key: 'credit:prepaid-1',
    ...overrides,
  };
}

async function balance(customerId: string, creditId = 'prepaid-1') {
  return (await creditBalances(pool, customerId)).find((credit) => credit.credit_id === creditId);
}

describe('the credit ledger', () => {
  it('records grants idempotently, with their grant movement and the prepaid liability, and refuses changed terms', async () => {
    const customerId = newCustomer();
    const grants = [
      prepaid({ consideration_paid: '90.00' }),
      {
        id: 'promo-q4',
        kind: 'promotional' as const,
        amount: '50.00',
        granted_at: '2026-10-01T00:00:00Z',
        expires_at: '2026-12-31T23:59:59Z',
      },
    ];
    expect(await recordCreditGrants(pool, { customerId, currency: 'USD', grants })).toEqual({
      recorded: ['prepaid-1', 'promo-q4'],
      existing: [],
    });
    expect(await recordCreditGrants(pool, { customerId, currency: 'USD', grants })).toEqual({
      recorded: [],
      existing: ['prepaid-1', 'promo-q4'],
    });
    expect(await balance(customerId)).toMatchObject({
      amount: '100.00',
      remaining: '100.00',
      movements_total: '100.00',
      consumed: '0',
      expired: '0',
    });

    const entries = await loadJournalEntries(pool, { customerId });
    expect(
      entries.map((entry) => [
        entry.entry_type,
        entry.lines.map((line) => `${line.account} ${line.debit}/${line.credit}`),
      ]),
    ).toEqual([
      ['prepaid_credit_purchased', ['accounts_receivable 90.00/0.00', 'contract_liability_prepaid_credits 0.00/90.00']],
    ]);

    await expect(
      recordCreditGrants(pool, { customerId, currency: 'USD', grants: [prepaid({ consideration_paid: '80.00' })] }),
    ).rejects.toMatchObject({ code: 'credit_grant_conflict' });
    await expect(
      recordCreditGrants(pool, { customerId, currency: 'USD', grants: [prepaid({ amount: '0.00' })] }),
    ).rejects.toThrow(/credit "prepaid-1": amount must be positive/);
  });

  it('draws once for the same (invoice, credit), however often it is recorded', async () => {
    const customerId = newCustomer();
    await recordCreditGrants(pool, { customerId, currency: 'USD', grants: [prepaid()] });
    const draw = consumption(customerId, '2026-10', '-30.00');
    expect(await recordCreditConsumptions(pool, [draw])).toEqual({ recorded: 1, existing: 0 });
    expect(await recordCreditConsumptions(pool, [draw])).toEqual({ recorded: 0, existing: 1 });
    await Promise.all([recordCreditConsumptions(pool, [draw]), recordCreditConsumptions(pool, [draw])]);
    expect(await balance(customerId)).toMatchObject({
      remaining: '70.00',
      consumed: '30.00',
      movements_total: '70.00',
    });
    await expect(recordCreditConsumptions(pool, [{ ...draw, amount: '-31.00' }])).rejects.toMatchObject({
      code: 'credit_movement_conflict',
    });
    await expect(
      recordCreditConsumptions(pool, [{ ...draw, invoice_id: 'inv-in-euros', currency: 'EUR' }]),
    ).rejects.toMatchObject({ code: 'credit_currency_mismatch' });
  });

  it('never lets a balance go negative, also when two invoices draw at once', async () => {
    const customerId = newCustomer();
    await recordCreditGrants(pool, { customerId, currency: 'USD', grants: [prepaid()] });
    await expect(recordCreditConsumptions(pool, [consumption(customerId, '2026-10', '-100.01')])).rejects.toMatchObject(
      { code: 'credit_overdrawn' },
    );

    const racing = await Promise.allSettled([
      recordCreditConsumptions(pool, [consumption(customerId, '2026-10', '-60.00', { invoice_id: 'inv-a' })]),
      recordCreditConsumptions(pool, [consumption(customerId, '2026-10', '-60.00', { invoice_id: 'inv-b' })]),
    ]);
    expect(racing.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = racing.find((result) => result.status === 'rejected');
    expect(refused?.reason).toMatchObject({ code: 'credit_overdrawn' });
    expect(await balance(customerId)).toMatchObject({
      remaining: '40.00',
      consumed: '60.00',
      movements_total: '40.00',
    });
  });

  it('refuses direct edits: balances move only by movements, movements are append-only', async () => {
    const customerId = newCustomer();
    await recordCreditGrants(pool, { customerId, currency: 'USD', grants: [prepaid()] });
    const refused = (sql: string, params: unknown[]) => withTransaction(pool, (client) => client.query(sql, params));
    await expect(
      refused('UPDATE credit_grants SET remaining = 1000 WHERE customer_id = $1', [customerId]),
    ).rejects.toThrow(/balances move only by credit_movements/);
    await expect(
      refused('UPDATE credit_grants SET amount = 1000 WHERE customer_id = $1', [customerId]),
    ).rejects.toThrow(/grants are fixed/);
    await expect(refused('DELETE FROM credit_grants WHERE customer_id = $1', [customerId])).rejects.toThrow(
      /DELETE refused/,
    );
    await expect(
      refused('UPDATE credit_movements SET amount = 1000 WHERE customer_id = $1', [customerId]),
    ).rejects.toThrow(/credit_movements is append-only/);
    await expect(refused('DELETE FROM credit_movements WHERE customer_id = $1', [customerId])).rejects.toThrow(
      /credit_movements is append-only/,
    );
    await expect(
      refused(
        `INSERT INTO credit_grants (customer_id, credit_id, kind, currency, amount, granted_at, remaining) VALUES ($1, 'free-money', 'prepaid', 'USD', 10, now(), 10)`,
        [customerId],
      ),
    ).rejects.toThrow(/a grant starts at a zero balance/);
    await expect(
      refused(
        `INSERT INTO credit_movements (customer_id, credit_id, kind, currency, amount) VALUES ($1, 'prepaid-1', 'grant', 'USD', 100)`,
        [customerId],
      ),
    ).rejects.toThrow(/credit_movement_once/);
    expect(await balance(customerId)).toMatchObject({ remaining: '100.00', movements_total: '100.00' });
  });

  it('carries balances across periods, and a retried period sees the same opening balance', async () => {
    const customerId = newCustomer();
    await recordCreditGrants(pool, { customerId, currency: 'USD', grants: [prepaid()] });
    const opening = async (period: string) =>
      (await usableCredits(pool, { customerId, period })).map((credit) => [
        credit.credit_id,
        credit.opening_balance,
        credit.remaining,
      ]);

    expect(await opening('2026-10')).toEqual([['prepaid-1', '100.00', '100.00']]);
    await recordCreditConsumptions(pool, [consumption(customerId, '2026-10', '-30.00')]);
    expect(await opening('2026-10')).toEqual([['prepaid-1', '100.00', '70.00']]);
    expect(await opening('2026-11')).toEqual([['prepaid-1', '70.00', '70.00']]);
    await recordCreditConsumptions(pool, [consumption(customerId, '2026-11', '-50.00')]);
    expect(await opening('2026-11')).toEqual([['prepaid-1', '70.00', '20.00']]);
    expect(await opening('2026-12')).toEqual([['prepaid-1', '20.00', '20.00']]);
    await recordCreditConsumptions(pool, [consumption(customerId, '2026-12', '-20.00')]);
    expect(await opening('2027-01')).toEqual([]);
    expect(await balance(customerId)).toMatchObject({ remaining: '0.00', consumed: '100.00', movements_total: '0.00' });
  });

  it('lists the credits usable in a period in SPEC §2 rule 10 order, and refuses a draw outside it', async () => {
    const customerId = newCustomer();
    const grants: CreditGrant[] = [
      { id: 'prepaid-b', kind: 'prepaid', amount: '10.00', granted_at: '2026-01-01T00:00:00Z' },
      { id: 'prepaid-a', kind: 'prepaid', amount: '10.00', granted_at: '2026-01-01T00:00:00Z' },
      {
        id: 'prepaid-expiring',
        kind: 'prepaid',
        amount: '10.00',
        granted_at: '2026-06-01T00:00:00Z',
        expires_at: '2027-01-01T00:00:00Z',
      },
      {
        id: 'promo-early-grant',
        kind: 'promotional',
        amount: '10.00',
        granted_at: '2026-02-01T00:00:00Z',
        expires_at: '2027-06-01T00:00:00Z',
      },
      {
        id: 'promo-late',
        kind: 'promotional',
        amount: '10.00',
        granted_at: '2026-03-01T00:00:00Z',
        expires_at: '2027-06-01T00:00:00Z',
      },
      {
        id: 'promo-soon',
        kind: 'promotional',
        amount: '10.00',
        granted_at: '2026-05-01T00:00:00Z',
        expires_at: '2026-11-01T00:00:00Z',
      },
      { id: 'promo-never', kind: 'promotional', amount: '10.00', granted_at: '2026-01-01T00:00:00Z' },
      {
        id: 'promo-expired-mid-october',
        kind: 'promotional',
        amount: '10.00',
        granted_at: '2026-01-01T00:00:00Z',
        expires_at: '2026-10-15T00:00:00Z',
      },
      { id: 'prepaid-granted-november', kind: 'prepaid', amount: '10.00', granted_at: '2026-11-01T00:00:00Z' },
    ];
    await recordCreditGrants(pool, { customerId, currency: 'USD', grants });
    expect((await usableCredits(pool, { customerId, period: '2026-10' })).map((credit) => credit.credit_id)).toEqual([
      'promo-soon',
      'promo-early-grant',
      'promo-late',
      'promo-never',
      'prepaid-expiring',
      'prepaid-a',
      'prepaid-b',
    ]);
    expect((await usableCredits(pool, { customerId, period: '2026-11' })).map((credit) => credit.credit_id)).toEqual([
      'promo-early-grant',
      'promo-late',
      'promo-never',
      'prepaid-expiring',
      'prepaid-a',
      'prepaid-b',
      'prepaid-granted-november',
    ]);
    await expect(
      recordCreditConsumptions(pool, [
        consumption(customerId, '2026-10', '-1.00', { credit_id: 'promo-expired-mid-october' }),
      ]),
    ).rejects.toMatchObject({ code: 'credit_not_usable' });
    await expect(
      recordCreditConsumptions(pool, [
        consumption(customerId, '2026-10', '-1.00', { credit_id: 'prepaid-granted-november' }),
      ]),
    ).rejects.toMatchObject({ code: 'credit_not_usable' });
    await expect(
      recordCreditConsumptions(pool, [consumption(customerId, '2026-10', '-1.00', { credit_id: 'no-such-credit' })]),
    ).rejects.toMatchObject({ code: 'credit_grant_not_found' });
  });

  it('expires a credit once, posts its breakage once, and refuses draws after expiry', async () => {
    const customerId = newCustomer();
    await recordCreditGrants(pool, {
      customerId,
      currency: 'USD',
      grants: [
        prepaid({ consideration_paid: '90.00', expires_at: '2026-11-01T00:00:00Z' }),
        {
          id: 'promo-q4',
          kind: 'promotional',
          amount: '50.00',
          granted_at: '2026-10-01T00:00:00Z',
          expires_at: '2026-10-20T00:00:00Z',
        },
      ],
    });
    await recordCreditConsumptions(pool, [consumption(customerId, '2026-10', '-40.00')]);

    expect(await recordCreditExpiries(pool, { asOf: '2026-10-31T23:59:59Z', customerId })).toEqual([
      {
        customer_id: customerId,
        credit_id: 'promo-q4',
        kind: 'promotional',
        expired: '50.00',
        journal_entry_key: null,
      },
    ]);
    const expiries = await Promise.all([
      recordCreditExpiries(pool, { asOf: '2026-11-01T00:00:00Z', customerId }),
      recordCreditExpiries(pool, { asOf: '2026-11-01T00:00:00Z', customerId }),
    ]);
    expect(expiries.flat()).toEqual([
      {
        customer_id: customerId,
        credit_id: 'prepaid-1',
        kind: 'prepaid',
        expired: '60.00',
        journal_entry_key: `credit_grant:${customerId}/prepaid-1:prepaid_credit_expired:credit-journal-v1`,
      },
    ]);
    expect(await recordCreditExpiries(pool, { asOf: '2027-01-01T00:00:00Z', customerId })).toEqual([]);

    expect(await balance(customerId)).toMatchObject({
      remaining: '0.00',
      consumed: '40.00',
      expired: '60.00',
      movements_total: '0.00',
    });
    const [breakage] = await loadJournalEntries(pool, { customerId, postingPeriod: '2026-11' });
    expect(breakage?.lines.map((line) => `${line.account} ${line.debit}/${line.credit}`)).toEqual([
      'contract_liability_prepaid_credits 54.00/0.00',
      'breakage_revenue 0.00/54.00',
    ]);
    await expect(
      recordCreditConsumptions(pool, [consumption(customerId, '2026-10', '-1.00', { invoice_id: 'inv-late' })]),
    ).rejects.toMatchObject({ code: 'credit_expired' });
  });

  it('runs a prepaid grant with a bonus from purchase through draws to breakage, leaving no liability', async () => {
    const customerId = newCustomer();
    await recordCreditGrants(pool, {
      customerId,
      currency: 'USD',
      grants: [prepaid({ amount: '300.00', consideration_paid: '100.00', expires_at: '2027-01-01T00:00:00Z' })],
    });
    const policy = { commitPolicy: 'drawdown' as const };
    for (const [period, draw] of [
      ['2026-10', '100.00'],
      ['2026-11', '100.00'],
      ['2026-12', '33.33'],
    ] as const) {
      const [usable] = await usableCredits(pool, { customerId, period });
      expect(usable?.credit_id).toBe('prepaid-1');
      const invoice = issuedInvoice(
        [usageLine('tokens-us', '150.00'), creditLine('prepaid-1', 'prepaid', `-${draw}`)],
        { customer_id: customerId, period, invoice_id: `inv-${customerId}-${period}` },
      );
      await recordCreditConsumptions(pool, creditMovementsFromInvoice(invoice));
      const first = await postInvoiceJournal(pool, { invoice, policy });
      // The terms never include the invoice's own draw: a rerun after the draw is recorded builds the same entries.
      await recordCreditConsumptions(pool, creditMovementsFromInvoice(invoice));
      expect((await postInvoiceJournal(pool, { invoice, policy })).entries).toEqual(first.entries);
    }
    await recordCreditExpiries(pool, { asOf: '2027-01-01T00:00:00Z', customerId });
    const accounts = Object.fromEntries(
      (await trialBalance(pool, { customerId })).accounts.map((account) => [account.account, account.balance]),
    );
    expect(accounts).toMatchObject({
      contract_liability_prepaid_credits: '0.00',
      contra_revenue_prepaid_bonus: '155.55',
      breakage_revenue: '-22.22',
      accounts_receivable: '316.67',
    });
  });
});
