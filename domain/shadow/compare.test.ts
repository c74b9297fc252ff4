import { describe, expect, it } from 'vitest';
import type { InvoiceLine } from '../../contracts/invoice.ts';
import {
  adjustmentLine,
  creditLine,
  discountLine,
  feeLine,
  trueUpLine,
  usageLine,
} from '../../test/builders/issued-invoice.ts';
import { Decimal, formatMoney } from '../money.ts';
import { compareCustomerPeriod, type ShadowThresholds } from './compare.ts';
import type { LegacyLine } from './legacy-line.ts';
import { shadowReport } from './shadow-report.ts';

const legacy = (priceId: string, amount: string, quantity?: string, currency = 'USD'): LegacyLine => ({
  customer_id: 'acme',
  period: '2026-10',
  price_id: priceId,
  quantity,
  amount,
  currency,
});
const invoice = (lines: InvoiceLine[], currency = 'USD') => ({ currency, lines });
const compare = (
  legacyLines: LegacyLine[],
  lines: InvoiceLine[] | undefined,
  thresholds: ShadowThresholds = { variancePctAbove: '1', varianceAbsAbove: '100.00' },
) =>
  compareCustomerPeriod({
    customerId: 'acme',
    legacy: legacyLines,
    invoice: lines === undefined ? undefined : invoice(lines),
    thresholds,
  });

describe('compareCustomerPeriod', () => {
  it('reproduces the worked example of SPEC §6', () => {
    const result = compare(
      [legacy('tokens-us', '600.00', '15000'), legacy('platform', '500.00'), legacy('credit:promo-q4', '-110.00')],
      [
        usageLine('tokens-us', '610.00', { quantity: '15250' }),
        feeLine('platform', '500.00'),
        creditLine('promo-q4', 'promotional', '-110.00'),
      ],
    );
    expect(result).toMatchObject({
      customer_id: 'acme',
      status: 'diff',
      legacy_total: '990.00',
      new_total: '1000.00',
      variance: '10.00',
      variance_pct: '1.01',
      exception: true,
    });
    expect(result.lines[0]).toEqual({
      key: 'tokens-us',
      status: 'diff',
      legacy_quantity: '15000',
      new_quantity: '15250',
      legacy_amount: '600.00',
      new_amount: '610.00',
      delta: '10.00',
      quantity_effect: '10.00',
      price_effect: '0.00',
      cause: 'missing_or_duplicate_events',
    });
    expect(result.lines.slice(1).map((line) => line.status)).toEqual(['match', 'match']);
  });

  it('keys lines by price_id (summed across versions), commit_true_up and credit:<id>; adjustments are not compared', () => {
    const result = compare(
      [
        legacy('tokens-us', '30.00', '300'),
        legacy('launch-10', '-3.00'),
        legacy('commit_true_up', '70.00'),
        legacy('credit:prepaid-1', '-90.00'),
      ],
      [
        usageLine('tokens-us@2026-10-01', '10.00', { price_id: 'tokens-us', quantity: '100' }),
        usageLine('tokens-us@2026-10-15', '20.00', { price_id: 'tokens-us', quantity: '200' }),
        discountLine('launch-10', '-3.00'),
        trueUpLine('70.00'),
        creditLine('prepaid-1', 'prepaid', '-90.00'),
        adjustmentLine('adj:2026-09', '2026-09', '12.00'),
      ],
    );
    expect(result.status).toBe('match');
    expect(result.lines.map((line) => [line.key, line.status, line.new_quantity])).toEqual([
      ['tokens-us', 'match', '300'],
      ['launch-10', 'match', undefined],
      ['commit_true_up', 'match', undefined],
      ['credit:prepaid-1', 'match', undefined],
    ]);
    expect(result).toMatchObject({ legacy_total: '7.00', variance: '0.00', variance_pct: '0.00', exception: false });
  });

  it('a usage line with equal amounts but another quantity is a diff', () => {
    const result = compare(
      [legacy('tokens-us', '10.00', '100')],
      [usageLine('tokens-us', '10.00', { quantity: '101' })],
    );
    expect(result.lines[0]).toMatchObject({
      status: 'diff',
      delta: '0.00',
      quantity_effect: '0.10',
      price_effect: '-0.10',
    });
    expect(result.status).toBe('diff');
    expect(result.exception).toBe(false);
  });

  it('a legacy line without a quantity compares amounts only; quantity_effect is 0', () => {
    const result = compare([legacy('tokens-us', '10.00')], [usageLine('tokens-us', '12.00', { quantity: '120' })]);
    expect(result.lines[0]).toMatchObject({
      status: 'diff',
      delta: '2.00',
      quantity_effect: '0.00',
      price_effect: '2.00',
    });
  });

  it('a legacy quantity of 0 gives quantity_effect 0', () => {
    const result = compare([legacy('tokens-us', '5.00', '0')], [usageLine('tokens-us', '12.00', { quantity: '120' })]);
    expect(result.lines[0]).toMatchObject({ delta: '7.00', quantity_effect: '0.00', price_effect: '7.00' });
  });

  it('rounds quantity_effect half-up to the minor unit', () => {
    // (101 − 100) × 10.05 ÷ 100 = 0.1005 → 0.10; (103 − 100) × 10.05 ÷ 100 = 0.3015 → 0.30; 0.105 → 0.11
    const effect = (newQuantity: string, legacyAmount: string, legacyQuantity: string) =>
      compare(
        [legacy('tokens-us', legacyAmount, legacyQuantity)],
        [usageLine('tokens-us', '99.00', { quantity: newQuantity })],
      ).lines[0]?.quantity_effect;
    expect(effect('101', '10.05', '100')).toBe('0.10');
    expect(effect('3', '0.35', '2')).toBe('0.18');
    expect(effect('1', '0.21', '2')).toBe('-0.11');
  });

  it('the same quantity at another unit price is a price difference; one minor unit apart is rounding', () => {
    const price = compare(
      [legacy('tokens-us', '40.00', '1000')],
      [usageLine('tokens-us', '45.00', { quantity: '1000' })],
    );
    expect(price.lines[0]).toMatchObject({ quantity_effect: '0.00', price_effect: '5.00', cause: 'price' });
    const rounding = compare(
      [legacy('tokens-us', '40.01', '1000')],
      [usageLine('tokens-us', '40.00', { quantity: '1000' })],
    );
    expect(rounding.lines[0]).toMatchObject({ delta: '-0.01', cause: 'rounding' });
    const both = compare(
      [legacy('tokens-us', '40.00', '1000')],
      [usageLine('tokens-us', '50.00', { quantity: '1100' })],
    );
    expect(both.lines[0]).toMatchObject({ quantity_effect: '4.00', price_effect: '6.00', cause: 'unexplained' });
  });

  it('credits drawn in another order, with the same total, are explained as credit_drawdown_order', () => {
    const result = compare(
      [legacy('platform', '500.00'), legacy('credit:promo', '-50.00'), legacy('credit:prepaid', '-100.00')],
      [
        feeLine('platform', '500.00'),
        creditLine('promo', 'promotional', '-100.00'),
        creditLine('prepaid', 'prepaid', '-50.00'),
      ],
    );
    expect(result.lines.filter((line) => line.status === 'diff').map((line) => [line.key, line.cause])).toEqual([
      ['credit:promo', 'credit_drawdown_order'],
      ['credit:prepaid', 'credit_drawdown_order'],
    ]);
    expect(result.variance).toBe('0.00');
    const different = compare([legacy('credit:promo', '-50.00')], [creditLine('promo', 'promotional', '-60.00')]);
    expect(different.lines[0]?.cause).toBe('unexplained');
  });

  it('a fee Tally prorated that the legacy biller billed whole is explained as proration', () => {
    const prorated = { ...feeLine('platform', '250.00'), proration: '0.5' };
    expect(compare([legacy('platform', '500.00')], [prorated]).lines[0]).toMatchObject({
      delta: '-250.00',
      cause: 'proration',
    });
    expect(compare([legacy('platform', '400.00')], [prorated]).lines[0]?.cause).toBe('unexplained');
  });

  it('keys on one side only are only_legacy / only_new, with the effects of a usage line', () => {
    const result = compare(
      [legacy('tokens-us', '600.00', '15000'), legacy('old-fee', '5.00')],
      [feeLine('platform', '500.00'), usageLine('images', '3.00', { quantity: '3' })],
    );
    const byKey = Object.fromEntries(result.lines.map((line) => [line.key, line]));
    expect(byKey['tokens-us']).toMatchObject({
      status: 'only_legacy',
      delta: '-600.00',
      quantity_effect: '-600.00',
      price_effect: '0.00',
    });
    expect(byKey['old-fee']).toEqual({ key: 'old-fee', status: 'only_legacy', legacy_amount: '5.00', delta: '-5.00' });
    expect(byKey['platform']).toMatchObject({ status: 'only_new', delta: '500.00' });
    expect(byKey['images']).toMatchObject({ status: 'only_new', quantity_effect: '0.00', price_effect: '3.00' });
    expect(result.status).toBe('diff');
  });

  it('a zero line on one side and no line on the other match', () => {
    const result = compare([legacy('platform', '500.00')], [feeLine('platform', '500.00'), trueUpLine('0.00')]);
    expect(result.lines.map((line) => line.status)).toEqual(['match', 'match']);
    expect(result.status).toBe('match');
  });

  it('no Tally invoice is only_legacy and no legacy lines only_new, both exceptions', () => {
    const onlyLegacy = compare([legacy('platform', '500.00')], undefined, {
      varianceAbsAbove: '1000',
      variancePctAbove: '200',
    });
    expect(onlyLegacy).toMatchObject({
      status: 'only_legacy',
      new_total: '0.00',
      variance: '-500.00',
      exception: true,
    });
    const onlyNew = compare([], [feeLine('platform', '500.00')], { varianceAbsAbove: '1000', variancePctAbove: '200' });
    expect(onlyNew).toMatchObject({ status: 'only_new', legacy_total: '0.00', variance_pct: null, exception: true });
  });

  it.each([
    ['at the absolute threshold: no exception', '100.00', '100.00', '50', false],
    ['one cent over the absolute threshold', '100.01', '100.00', '50', true],
    ['percent exactly at the threshold: no exception', '10.00', '1000', '1', false],
    ['percent over the threshold (1.01 %)', '10.10', '1000', '1', true],
    ['1.001 % rounds to 1.00: not over', '10.01', '1000', '1', false],
    ['a missing threshold is 0: any variance', '0.01', undefined, undefined, true],
  ])('%s', (_name, variance, absAbove, pctAbove, exception) => {
    const newAmount = formatMoney(new Decimal('1000').plus(variance), 'USD');
    const result = compare([legacy('platform', '1000.00')], [feeLine('platform', newAmount)], {
      varianceAbsAbove: absAbove,
      variancePctAbove: pctAbove,
    });
    expect(result.variance).toBe(variance);
    expect(result.exception).toBe(exception);
  });

  it('variance_pct is null on a legacy total of 0, and a non-zero variance then is an exception', () => {
    const result = compare([legacy('platform', '10.00'), legacy('promo', '-10.00')], [feeLine('platform', '10.00')], {
      varianceAbsAbove: '1000',
      variancePctAbove: '1000',
    });
    expect(result).toMatchObject({ variance: '10.00', variance_pct: null, exception: true });
  });

  it('offsetting line differences with a zero variance are a diff without an exception', () => {
    const result = compare(
      [legacy('a', '10.00'), legacy('b', '20.00')],
      [feeLine('a', '15.00'), feeLine('b', '15.00')],
      {},
    );
    expect(result).toMatchObject({ status: 'diff', variance: '0.00', exception: false });
  });

  it('legacy lines in another currency are never netted against Tally amounts', () => {
    const result = compareCustomerPeriod({
      customerId: 'acme',
      legacy: [legacy('platform', '500.00', undefined, 'EUR')],
      invoice: invoice([feeLine('platform', '500.00')]),
      thresholds: {},
    });
    expect(result).toMatchObject({
      status: 'diff',
      currency: 'USD',
      legacy_currency: 'EUR',
      variance: null,
      variance_pct: null,
      exception: true,
    });
    expect(result.lines.map((line) => line.status)).toEqual(['only_legacy', 'only_new']);
  });

  it('prints amounts with the currency minor digits (JPY: none)', () => {
    const result = compareCustomerPeriod({
      customerId: 'acme',
      legacy: [legacy('tokens', '600', '3', 'JPY')],
      invoice: invoice([usageLine('tokens', '1000', { quantity: '5' })], 'JPY'),
      thresholds: {},
    });
    expect(result.lines[0]).toMatchObject({ delta: '400', quantity_effect: '400', price_effect: '0' });
    expect(result.variance_pct).toBe('66.67');
  });
});

describe('shadowReport', () => {
  it('sorts customers and counts the summary', () => {
    const a = compare([legacy('platform', '1.00')], [feeLine('platform', '1.00')]);
    const b = { ...compare([legacy('platform', '1.00')], undefined), customer_id: 'beta' };
    const report = shadowReport('2026-10', [b, { ...a, customer_id: 'alpha' }]);
    expect(report.customers.map((customer) => customer.customer_id)).toEqual(['alpha', 'beta']);
    expect(report.summary).toEqual({ match: 1, diff: 0, only_legacy: 1, only_new: 0, exceptions: 1 });
    expect(report.currency).toBe('USD');
  });
});
