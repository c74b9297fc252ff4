import { describe, expect, it } from 'vitest';
import { describeAmountsByCurrency, describeMoney, displayMoney, formatDecimal, sumByCurrency } from './money.ts';

describe('amounts by currency', () => {
  it.each([
    { name: 'nothing', amounts: [], totals: {}, text: '0' },
    {
      name: 'two currencies are never added',
      amounts: [
        { currency: 'USD', amount: '100.00' },
        { currency: 'EUR', amount: '30.00' },
        { currency: 'USD', amount: '-0.01' },
      ],
      totals: { EUR: '30.00', USD: '99.99' },
      text: '30.00 EUR, 99.99 USD',
    },
    {
      name: 'each total in its currency’s minor digits',
      amounts: [
        { currency: 'JPY', amount: '120' },
        { currency: 'USD', amount: '-5' },
        { currency: 'USD', amount: '5' },
      ],
      totals: { JPY: '120', USD: '0.00' },
      text: '120 JPY, 0.00 USD',
    },
  ])('$name', ({ amounts, totals, text }) => {
    const summed = sumByCurrency(amounts);
    expect(summed).toEqual(totals);
    expect(Object.keys(summed)).toEqual(Object.keys(totals).sort());
    expect(describeAmountsByCurrency(summed)).toBe(text);
  });

  it('formats exactly when asked (a workflow sums what activities rounded)', () => {
    expect(
      sumByCurrency(
        [
          { currency: 'USD', amount: '100.00' },
          { currency: 'EUR', amount: '30.50' },
        ],
        formatDecimal,
      ),
    ).toEqual({ EUR: '30.5', USD: '100' });
  });

  it('describes a workflow’s exact sums in each currency’s minor digits (`tally backfill status`)', () => {
    expect(describeAmountsByCurrency({ EUR: '30.5', USD: '-400' })).toBe('30.50 EUR, -400.00 USD');
    // A run in flight before 0820 summed under `undefined`: shown as it is, never formatted as money.
    expect(describeAmountsByCurrency({ undefined: '130' })).toBe('130 undefined');
  });
});

describe('money as people read it', () => {
  it.each([
    { amount: '100', currency: 'USD', shown: '100.00' },
    { amount: '12.5', currency: 'EUR', shown: '12.50' },
    { amount: '-400', currency: 'USD', shown: '-400.00' },
    { amount: '30.00', currency: 'EUR', shown: '30.00' },
    { amount: '0.0015', currency: 'USD', shown: '0.0015' },
    { amount: '1.23456789', currency: 'USD', shown: '1.23456789' },
    { amount: '120', currency: 'JPY', shown: '120' },
    { amount: '-0', currency: 'USD', shown: '0.00' },
    { amount: '-0.000', currency: 'USD', shown: '0.00' },
    { amount: '7', currency: undefined, shown: '7' },
    { amount: '7', currency: 'XXX', shown: '7' },
    { amount: 'n/a', currency: 'USD', shown: 'n/a' },
  ])('$amount $currency → $shown (padded, never rounded)', ({ amount, currency, shown }) => {
    expect(displayMoney(amount, currency)).toBe(shown);
  });

  it.each([
    { amount: '-250', currency: 'USD', shown: '-250.00 USD' },
    { amount: '0.0015', currency: 'USD', shown: '0.0015 USD' },
    { amount: '120', currency: 'JPY', shown: '120 JPY' },
  ])('$amount $currency → $shown (the code on the figure)', ({ amount, currency, shown }) => {
    expect(describeMoney(amount, currency)).toBe(shown);
  });
});
