import { describe, expect, it } from 'vitest';
import type { CreditGrant } from '../credit-ledger/index.ts';
import { Decimal } from '../money.ts';
import {
  journalEntriesForInvoice,
  netDebitByAccount,
  prepaidCreditExpiredEntry,
  prepaidCreditPurchasedEntry,
} from './index.ts';
import { creditLine, issuedInvoice, usageLine } from '../../test/builders/issued-invoice.ts';

const bonusGrant: CreditGrant = {
  id: 'prepaid-1',
  kind: 'prepaid',
  amount: '1000.00',
  consideration_paid: '900.00',
  granted_at: '2026-09-15T00:00:00Z',
  expires_at: '2027-01-01T00:00:00Z',
};

const lines = (entry: ReturnType<typeof prepaidCreditPurchasedEntry>) =>
  entry?.lines.map((line) => `${line.account} ${line.debit}/${line.credit}`);

describe('prepaid credit grants in the journal', () => {
  it('books a purchase as a contract liability at the consideration paid, in the grant period', () => {
    const entry = prepaidCreditPurchasedEntry({ customer_id: 'acme', currency: 'USD', grant: bonusGrant });
    expect(entry?.entry_key).toBe('credit_grant:acme/prepaid-1:prepaid_credit_purchased:credit-journal-v1');
    expect([entry?.service_period, entry?.posting_period, entry?.invoice_id]).toEqual(['2026-09', '2026-09', null]);
    expect(lines(entry)).toEqual(['accounts_receivable 900.00/0.00', 'contract_liability_prepaid_credits 0.00/900.00']);
  });

  it('books a prepaid grant without consideration_paid at face value, and nothing for promotional or free grants', () => {
    expect(
      lines(
        prepaidCreditPurchasedEntry({
          customer_id: 'acme',
          currency: 'USD',
          grant: { ...bonusGrant, consideration_paid: null },
        }),
      ),
    ).toEqual(['accounts_receivable 1000.00/0.00', 'contract_liability_prepaid_credits 0.00/1000.00']);
    expect(
      prepaidCreditPurchasedEntry({
        customer_id: 'acme',
        currency: 'USD',
        grant: { ...bonusGrant, kind: 'promotional', consideration_paid: null },
      }),
    ).toBeNull();
    expect(
      prepaidCreditPurchasedEntry({
        customer_id: 'acme',
        currency: 'USD',
        grant: { ...bonusGrant, consideration_paid: '0.00' },
      }),
    ).toBeNull();
  });

  it.each([
    [
      '400.00 unused of 1000.00 bought for 900.00',
      '400.00',
      ['contract_liability_prepaid_credits 360.00/0.00', 'breakage_revenue 0.00/360.00'],
    ],
    ['all unused', '1000.00', ['contract_liability_prepaid_credits 900.00/0.00', 'breakage_revenue 0.00/900.00']],
    ['nothing unused', '0.00', undefined],
  ])('recognizes breakage at expiry: %s', (_name, remaining, expected) => {
    const entry = prepaidCreditExpiredEntry({ customer_id: 'acme', currency: 'USD', grant: bonusGrant, remaining });
    expect(lines(entry)).toEqual(expected);
    if (entry) expect([entry.service_period, entry.posting_period]).toEqual(['2027-01', '2027-01']);
  });

  it('leaves the liability of a grant at exactly zero after odd draws and breakage', () => {
    const grant: CreditGrant = {
      id: 'p',
      kind: 'prepaid',
      amount: '300.00',
      consideration_paid: '100.00',
      granted_at: '2026-09-01T00:00:00Z',
      expires_at: '2027-01-01T00:00:00Z',
    };
    const draws = ['10.01', '77.77', '0.01', '123.45'];
    const periods = ['2026-09', '2026-10', '2026-11', '2026-12'];
    const entries = [prepaidCreditPurchasedEntry({ customer_id: 'acme', currency: 'USD', grant })];
    let consumed = new Decimal(0);
    draws.forEach((draw, index) => {
      const invoice = issuedInvoice([usageLine('u', draw), creditLine('p', 'prepaid', `-${draw}`)], {
        period: periods[index],
        invoice_id: `inv-${index}`,
      });
      entries.push(
        ...journalEntriesForInvoice({
          invoice,
          policy: { commitPolicy: 'drawdown' },
          prepaidCredits: [
            {
              credit_id: 'p',
              amount: grant.amount,
              consideration_paid: '100.00',
              consumed_before: consumed.toString(),
            },
          ],
        }),
      );
      consumed = consumed.plus(draw);
    });
    entries.push(
      prepaidCreditExpiredEntry({
        customer_id: 'acme',
        currency: 'USD',
        grant,
        remaining: new Decimal(grant.amount).minus(consumed).toString(),
      }),
    );
    const net = netDebitByAccount(entries.filter((entry) => entry !== null));
    expect(net.get('contract_liability_prepaid_credits')?.isZero()).toBe(true);
  });

  it('refuses to expire a grant that never expires, or more than was granted', () => {
    expect(() =>
      prepaidCreditExpiredEntry({
        customer_id: 'acme',
        currency: 'USD',
        grant: { ...bonusGrant, expires_at: null },
        remaining: '1.00',
      }),
    ).toThrow(/never expires/);
    expect(() =>
      prepaidCreditExpiredEntry({ customer_id: 'acme', currency: 'USD', grant: bonusGrant, remaining: '1000.01' }),
    ).toThrow(/outside \[0, 1000.00\]/);
  });
});
