import { describe, expect, it } from 'vitest';
import { usageLine } from '../../test/builders/issued-invoice.ts';
import { Decimal } from '../money.ts';
import {
  periodBoundaryZone,
  quantityInZone,
  tierBoundaryExplanation,
  utcOffsetName,
  type BoundaryUsage,
} from './boundary-causes.ts';
import { compareCustomerPeriod } from './compare.ts';
import type { LegacyLine } from './legacy-line.ts';

const d = (text: string) => new Decimal(text);
const CENT = d('0.01');
/** 1000 × 0.10 + 500 × 0.08 = 140.00 (graduated). */
const TWO_TIERS = [
  { quantity: d('1000'), unitPrice: d('0.10') },
  { quantity: d('500'), unitPrice: d('0.08') },
];

describe('tierBoundaryExplanation', () => {
  it.each([
    { name: 'every unit at the higher tier’s price', legacy: '120.00', expected: "every unit at tier 2's price 0.08" },
    { name: 'every unit at the first tier’s price', legacy: '150.00', expected: "every unit at tier 1's price 0.1" },
    {
      name: 'the boundary unit billed in the lower tier',
      legacy: '140.02',
      expected: 'the unit at 1 tier boundary billed in the lower tier',
    },
    {
      name: 'the boundary unit billed in the higher tier',
      legacy: '139.98',
      expected: 'the unit at 1 tier boundary billed in the higher tier',
    },
    { name: 'an old rate is not a boundary', legacy: '145.00', expected: undefined },
  ])('$name', ({ legacy, expected }) => {
    expect(
      tierBoundaryExplanation({
        tiers: TWO_TIERS,
        quantity: d('1500'),
        legacyAmount: d(legacy),
        newAmount: d('140.00'),
        minorUnit: CENT,
      }),
    ).toBe(expected);
  });

  it('claims nothing for a line that stayed in one tier, or tiers of one price', () => {
    const one = { quantity: d('1500'), unitPrice: d('0.10') };
    expect(
      tierBoundaryExplanation({
        tiers: [one],
        quantity: d('1500'),
        legacyAmount: d('120.00'),
        newAmount: d('150.00'),
        minorUnit: CENT,
      }),
    ).toBeUndefined();
    expect(
      tierBoundaryExplanation({
        tiers: [one, { ...one, quantity: d('0') }],
        quantity: d('1500'),
        legacyAmount: d('120.00'),
        newAmount: d('150.00'),
        minorUnit: CENT,
      }),
    ).toBeUndefined();
  });
});

describe('quantityInZone and periodBoundaryZone', () => {
  // 10 units in the first two hours of the month (UTC), 4 in the first five hours of the next one.
  const usage: BoundaryUsage = {
    key: 'tokens',
    nearStart: [
      { minutes: -120, quantity: d('7') },
      { minutes: 30, quantity: d('6') },
      { minutes: 90, quantity: d('4') },
    ],
    nearEnd: [
      { minutes: -60, quantity: d('3') },
      { minutes: 240, quantity: d('4') },
    ],
  };

  it.each([
    // UTC−05:00: the month starts and ends five hours later: −(6 + 4) + 4.
    { zone: -300, expected: '94' },
    // UTC−01:00: one hour later: −6.
    { zone: -60, expected: '94' },
    // UTC+03:00: three hours earlier: +7 − 3.
    { zone: 180, expected: '104' },
    // UTC+01:00: one hour earlier: −3.
    { zone: 60, expected: '97' },
  ])('re-cuts the month at UTC $zone minutes', ({ zone, expected }) => {
    expect(quantityInZone(d('100'), usage, zone).toString()).toBe(expected);
  });

  it('finds the zone nearest UTC that gives every differing key its legacy quantity', () => {
    const differing = [{ key: 'tokens', legacyQuantity: d('94'), newQuantity: d('100') }];
    expect(periodBoundaryZone(differing, [usage])).toBe(-60);
    // UTC+02:00 and UTC+03:00 both give 104 (nothing lies between them): the nearer one is named.
    expect(periodBoundaryZone([{ ...differing[0]!, legacyQuantity: d('104') }], [usage])).toBe(120);
    expect(periodBoundaryZone([{ ...differing[0]!, legacyQuantity: d('95') }], [usage])).toBeUndefined();
    // A differing key without usage near the edges cannot be re-cut: nothing claimed.
    expect(
      periodBoundaryZone([...differing, { key: 'images', legacyQuantity: d('1'), newQuantity: d('2') }], [usage]),
    ).toBe(undefined);
    expect(periodBoundaryZone([], [usage])).toBeUndefined();
  });

  it('names zones as UTC offsets', () => {
    expect([-300, 330, 0, 765].map(utcOffsetName)).toEqual(['UTC-05:00', 'UTC+05:30', 'UTC+00:00', 'UTC+12:45']);
  });
});

const legacy = (priceId: string, amount: string, quantity?: string): LegacyLine => ({
  customer_id: 'acme',
  period: '2026-10',
  price_id: priceId,
  quantity,
  amount,
  currency: 'USD',
});

describe('compareCustomerPeriod with the boundary causes', () => {
  const tiered = usageLine('tokens', '140.00', {
    quantity: '1500',
    billable_quantity: '1500',
    tiers: [
      { tier: 1, quantity: '1000', unit_price: '0.10', amount: '100' },
      { tier: 2, quantity: '500', unit_price: '0.08', amount: '40' },
    ],
  });

  it('says tier_boundary (with how) where the same quantity is priced by Tally’s tiers cut elsewhere, price otherwise', () => {
    const volume = compareCustomerPeriod({
      customerId: 'acme',
      legacy: [legacy('tokens', '120.00', '1500')],
      invoice: { currency: 'USD', lines: [tiered] },
      thresholds: {},
    });
    expect(volume.lines[0]).toMatchObject({
      status: 'diff',
      delta: '20.00',
      cause: 'tier_boundary',
      cause_detail: "every unit at tier 2's price 0.08",
    });
    const oldRate = compareCustomerPeriod({
      customerId: 'acme',
      legacy: [legacy('tokens', '145.00', '1500')],
      invoice: { currency: 'USD', lines: [tiered] },
      thresholds: {},
    });
    expect(oldRate.lines[0]).toMatchObject({ cause: 'price' });
    expect(oldRate.lines[0]).not.toHaveProperty('cause_detail');
  });

  it('says period_boundary (with the zone) where usage re-cut at a zone’s midnight gives the legacy quantity, missing events without the usage', () => {
    const line = usageLine('tokens', '10.00', { quantity: '100', billable_quantity: '100' });
    const nearEdges: BoundaryUsage = {
      key: 'tokens',
      nearStart: [{ minutes: 120, quantity: d('6') }],
      nearEnd: [{ minutes: 220, quantity: d('2') }],
    };
    const input = {
      customerId: 'acme',
      legacy: [legacy('tokens', '9.60', '96')],
      invoice: { currency: 'USD', lines: [line] },
      thresholds: {},
    };
    // UTC−04:00: the month starts and ends four hours later: 100 − 6 + 2 = 96.
    expect(compareCustomerPeriod({ ...input, boundaryUsage: [nearEdges] }).lines[0]).toMatchObject({
      cause: 'period_boundary',
      cause_detail: "the legacy biller's month runs in UTC-04:00",
      quantity_effect: '0.40',
      price_effect: '0.00',
    });
    expect(compareCustomerPeriod(input).lines[0]).toMatchObject({ cause: 'missing_or_duplicate_events' });
    // Another unit price as well: not a boundary alone.
    expect(
      compareCustomerPeriod({ ...input, legacy: [legacy('tokens', '12.00', '96')], boundaryUsage: [nearEdges] })
        .lines[0],
    ).toMatchObject({ cause: 'unexplained' });
  });
});
