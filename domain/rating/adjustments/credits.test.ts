import { describe, expect, it } from 'vitest';
import { Decimal, formatMoney } from '../../money.ts';
import { billingPeriod } from '../../period.ts';
import { compareCreditsForDrawdown, drawDownCredits, isCreditUsable, type CreditBalance } from './credits.ts';
import { RatingInputError } from '../rating-input-error.ts';

const OCTOBER = billingPeriod('2026-10');
const credit = (id: string, overrides: Partial<CreditBalance> = {}): CreditBalance => ({
  id,
  kind: 'prepaid',
  remaining: '100.00',
  granted_at: '2026-01-01T00:00:00Z',
  ...overrides,
});

describe('credit drawdown order (rule 10)', () => {
  it('promotional before prepaid; earliest expiry first, never-expiring last; then granted_at; then id', () => {
    const credits = [
      credit('prepaid-forever'),
      credit('prepaid-late-expiry', { expires_at: '2027-06-01T00:00:00Z' }),
      credit('prepaid-early-expiry-b', { expires_at: '2027-01-01T00:00:00Z', granted_at: '2026-03-01T00:00:00Z' }),
      credit('prepaid-early-expiry-a', { expires_at: '2027-01-01T00:00:00Z', granted_at: '2026-03-01T00:00:00Z' }),
      credit('prepaid-early-expiry-older', {
        expires_at: '2027-01-01T00:00:00+00:00',
        granted_at: '2026-02-01T00:00:00Z',
      }),
      credit('promo-forever', { kind: 'promotional' }),
      credit('promo-expiring', { kind: 'promotional', expires_at: '2027-12-01T00:00:00Z' }),
    ];
    expect([...credits].sort(compareCreditsForDrawdown).map((item) => item.id)).toEqual([
      'promo-expiring',
      'promo-forever',
      'prepaid-early-expiry-older',
      'prepaid-early-expiry-a',
      'prepaid-early-expiry-b',
      'prepaid-late-expiry',
      'prepaid-forever',
    ]);
  });
});

describe('credit usability window (rule 10)', () => {
  it.each([
    ['granted inside the period', { granted_at: '2026-10-20T00:00:00Z' }, true],
    ['granted the instant the period ends', { granted_at: '2026-11-01T00:00:00Z' }, false],
    ['granted after the period', { granted_at: '2026-11-05T00:00:00Z' }, false],
    ['expiring at the period end', { expires_at: '2026-11-01T00:00:00Z' }, true],
    ['expiring a second before the period ends', { expires_at: '2026-10-31T23:59:59Z' }, false],
    ['expired inside the period', { expires_at: '2026-10-15T00:00:00Z' }, false],
    ['expiring later', { expires_at: '2027-01-01T00:00:00Z' }, true],
    ['never expiring', {}, true],
  ] as const)('%s → usable: %s', (_name, overrides, usable) => {
    expect(isCreditUsable(credit('c', overrides), OCTOBER)).toBe(usable);
  });
});

describe('drawing credits down', () => {
  const uses = (credits: CreditBalance[], due: string): string[] =>
    drawDownCredits(credits, new Decimal(due), OCTOBER, 'USD').map(
      (use) => `${use.credit.id} ${formatMoney(use.amount, 'USD')}`,
    );

  it('takes each credit up to its balance and never past zero due', () => {
    const credits = [
      credit('prepaid-1', { remaining: '2000.00' }),
      credit('promo-q4', { kind: 'promotional', remaining: '50.00' }),
    ];
    expect(uses(credits, '990.00')).toEqual(['promo-q4 50.00', 'prepaid-1 940.00']);
    expect(uses(credits, '30.00')).toEqual(['promo-q4 30.00']);
    expect(uses(credits, '5000.00')).toEqual(['promo-q4 50.00', 'prepaid-1 2000.00']);
    expect(uses(credits, '0.00')).toEqual([]);
    expect(uses(credits, '-10.00')).toEqual([]); // nothing due: nothing drawn
  });

  it('skips empty and unusable credits', () => {
    const credits = [
      credit('empty', { kind: 'promotional', remaining: '0.00' }),
      credit('expired', { kind: 'promotional', expires_at: '2026-10-10T00:00:00Z' }),
      credit('future', { kind: 'promotional', granted_at: '2026-11-02T00:00:00Z' }),
      credit('ok'),
    ];
    expect(uses(credits, '40.00')).toEqual(['ok 40.00']);
  });

  it('refuses balances that are negative, finer than the minor unit, or listed twice', () => {
    expect(() => uses([credit('a', { remaining: '-1.00' })], '10')).toThrow(RatingInputError);
    expect(() => uses([credit('a', { remaining: '1.001' })], '10')).toThrow(/minor units/);
    expect(() => uses([credit('a'), credit('a')], '10')).toThrow(/twice/);
  });
});
