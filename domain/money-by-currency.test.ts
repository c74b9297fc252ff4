import { describe, expect, it } from 'vitest';
import { describeAmountsByCurrency, formatDecimal, sumByCurrency } from './money.ts';

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
});
