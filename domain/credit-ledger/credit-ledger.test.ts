import { describe, expect, it } from 'vitest';
import { adjustmentLine, creditLine, issuedInvoice, usageLine } from '../../test/builders/issued-invoice.ts';
import { billingPeriod } from '../period.ts';
import {
  compareCreditsForDrawdown,
  creditMovementsFromInvoice,
  effectivePricePerCredit,
  isCreditUsableInPeriod,
  validateCreditGrant,
  type CreditGrant,
} from './index.ts';

const october = billingPeriod('2026-10');

describe('isCreditUsableInPeriod (SPEC §2 rule 10)', () => {
  it.each([
    ['granted inside the period, never expiring', '2026-10-15T00:00:00Z', null, true],
    ['granted before the period', '2026-09-15T00:00:00Z', null, true],
    ['granted at the instant the period ends', '2026-11-01T00:00:00Z', null, false],
    ['granted after the period', '2026-11-02T00:00:00Z', null, false],
    ['expiring exactly when the period ends', '2026-09-01T00:00:00Z', '2026-11-01T00:00:00Z', true],
    ['expiring one second before the period ends', '2026-09-01T00:00:00Z', '2026-10-31T23:59:59Z', false],
    ['expiring after the period', '2026-09-01T00:00:00Z', '2026-12-31T23:59:59Z', true],
    ['offsets are instants, not strings', '2026-11-01T01:00:00+02:00', null, true],
  ])('%s → %s', (_name, grantedAt, expiresAt, usable) => {
    expect(isCreditUsableInPeriod({ granted_at: grantedAt, expires_at: expiresAt }, october)).toBe(usable);
  });
});

describe('compareCreditsForDrawdown (SPEC §2 rule 10 order)', () => {
  it('orders promotional before prepaid, then earliest expiry (never last), then earliest grant, then id', () => {
    const credits: CreditGrant[] = [
      { id: 'prepaid-b', kind: 'prepaid', amount: '1', granted_at: '2026-01-01T00:00:00Z' },
      { id: 'prepaid-a', kind: 'prepaid', amount: '1', granted_at: '2026-01-01T00:00:00Z' },
      {
        id: 'prepaid-expiring',
        kind: 'prepaid',
        amount: '1',
        granted_at: '2026-06-01T00:00:00Z',
        expires_at: '2027-01-01T00:00:00Z',
      },
      {
        id: 'promo-late',
        kind: 'promotional',
        amount: '1',
        granted_at: '2026-03-01T00:00:00Z',
        expires_at: '2027-06-01T00:00:00Z',
      },
      {
        id: 'promo-early-grant',
        kind: 'promotional',
        amount: '1',
        granted_at: '2026-02-01T00:00:00Z',
        expires_at: '2027-06-01T00:00:00Z',
      },
      {
        id: 'promo-soon',
        kind: 'promotional',
        amount: '1',
        granted_at: '2026-05-01T00:00:00Z',
        expires_at: '2026-12-01T00:00:00Z',
      },
      { id: 'promo-never', kind: 'promotional', amount: '1', granted_at: '2026-01-01T00:00:00Z' },
    ];
    expect([...credits].sort(compareCreditsForDrawdown).map((credit) => credit.id)).toEqual([
      'promo-soon',
      'promo-early-grant',
      'promo-late',
      'promo-never',
      'prepaid-expiring',
      'prepaid-a',
      'prepaid-b',
    ]);
  });
});

describe('validateCreditGrant', () => {
  const grant: CreditGrant = {
    id: 'prepaid-1',
    kind: 'prepaid',
    amount: '1000.00',
    granted_at: '2026-09-15T00:00:00Z',
  };
  it.each([
    ['a zero amount', { amount: '0.00' }, /credit "prepaid-1": amount must be positive/],
    ['a float-looking amount', { amount: '1e3' }, /amount must be a decimal string/],
    ['fractions of a cent', { amount: '10.001' }, /amount must be a whole number of USD minor units/],
    ['an expiry before the grant', { expires_at: '2026-09-01T00:00:00Z' }, /expires_at must be after granted_at/],
    ['a bad instant', { granted_at: 'yesterday' }, /granted_at is not an instant/],
    [
      'consideration above face value',
      { consideration_paid: '1000.01' },
      /consideration_paid exceeds the amount granted/,
    ],
    [
      'consideration on a promotional credit',
      { kind: 'promotional', consideration_paid: '10.00' },
      /consideration_paid is only for prepaid credits/,
    ],
  ] as [string, Partial<CreditGrant>, RegExp][])('refuses %s', (_name, overrides, message) => {
    expect(() => validateCreditGrant({ ...grant, ...overrides }, 'USD')).toThrow(message);
  });

  it('accepts a bonus grant and prices each credit at what was paid for it', () => {
    const bonus = { ...grant, consideration_paid: '900.00' };
    expect(() => validateCreditGrant(bonus, 'USD')).not.toThrow();
    expect(effectivePricePerCredit(bonus).toString()).toBe('0.9');
    expect(effectivePricePerCredit({ ...grant, kind: 'promotional' }).toString()).toBe('0');
  });
});

describe('creditMovementsFromInvoice', () => {
  it('turns each non-zero credit line into a consumption keyed by (invoice, credit)', () => {
    const invoice = issuedInvoice([
      usageLine('u', '500.00'),
      creditLine('promo-q4', 'promotional', '-50.00'),
      creditLine('prepaid-1', 'prepaid', '-450.00'),
      creditLine('prepaid-2', 'prepaid', '0.00'),
      adjustmentLine('a', '2026-09', '0.00'),
    ]);
    expect(creditMovementsFromInvoice(invoice)).toEqual([
      {
        customer_id: 'acme',
        credit_id: 'promo-q4',
        credit_kind: 'promotional',
        invoice_id: 'inv-acme-2026-10',
        currency: 'USD',
        period: '2026-10',
        amount: '-50.00',
        line_key: 'credit:promo-q4',
      },
      {
        customer_id: 'acme',
        credit_id: 'prepaid-1',
        credit_kind: 'prepaid',
        invoice_id: 'inv-acme-2026-10',
        currency: 'USD',
        period: '2026-10',
        amount: '-450.00',
        line_key: 'credit:prepaid-1',
      },
    ]);
  });

  it('refuses a positive credit line and a credit drawn twice', () => {
    expect(() =>
      creditMovementsFromInvoice(issuedInvoice([usageLine('u', '5.00'), creditLine('p', 'prepaid', '5.00')])),
    ).toThrow(/must not be positive/);
    const twice = issuedInvoice([
      usageLine('u', '5.00'),
      creditLine('p', 'prepaid', '-1.00'),
      { ...creditLine('p', 'prepaid', '-2.00'), line_key: 'again' },
    ]);
    expect(() => creditMovementsFromInvoice(twice)).toThrow(/line again: credit p is drawn by more than one line/);
  });
});
