import { describe, expect, it } from 'vitest';
import { LegacyFileError, parseLegacyCsv } from './legacy-csv.ts';

const HEADER = 'customer_id,period,price_id,quantity,amount,currency';
const file = (...rows: string[]) => [HEADER, ...rows].join('\n') + '\n';

function problemsOf(text: string) {
  try {
    parseLegacyCsv('legacy.csv', text);
  } catch (error) {
    if (error instanceof LegacyFileError) return error.problems.map((p) => `${p.line}:${p.field}`);
    throw error;
  }
  throw new Error('the file was accepted');
}

describe('parseLegacyCsv', () => {
  it('reads rows, an empty quantity as undefined, quoted fields and CRLF', () => {
    const lines = parseLegacyCsv(
      'legacy.csv',
      [
        HEADER,
        'acme,2026-10,tokens-us,15000,600.00,USD',
        'acme,2026-10,"platform, annual",,500.00,USD',
        'kyo,2026-10,tokens,5,1200,JPY',
        '',
      ].join('\r\n'),
    );
    expect(lines).toEqual([
      {
        customer_id: 'acme',
        period: '2026-10',
        price_id: 'tokens-us',
        quantity: '15000',
        amount: '600.00',
        currency: 'USD',
      },
      {
        customer_id: 'acme',
        period: '2026-10',
        price_id: 'platform, annual',
        quantity: undefined,
        amount: '500.00',
        currency: 'USD',
      },
      { customer_id: 'kyo', period: '2026-10', price_id: 'tokens', quantity: '5', amount: '1200', currency: 'JPY' },
    ]);
  });

  it.each([
    ['unknown currency', file('acme,2026-10,fee,,1.00,XYZ'), ['2:currency']],
    ['malformed amount', file('acme,2026-10,fee,,1.0O,USD'), ['2:amount']],
    [
      'amount without exactly the minor digits',
      file('acme,2026-10,fee,,1.0,USD', 'kyo,2026-10,fee,,1.00,JPY'),
      ['2:amount', '3:amount'],
    ],
    [
      'malformed quantity',
      file('acme,2026-10,tokens,1e5,1.00,USD', 'acme,2026-10,b,-3,1.00,USD'),
      ['2:quantity', '3:quantity'],
    ],
    ['bad period', file('acme,2026-13,fee,,1.00,USD', 'acme,26-10,fee,,1.00,USD'), ['2:period', '3:period']],
    [
      'duplicate key within the file',
      file('acme,2026-10,fee,,1.00,USD', 'beta,2026-10,fee,,1.00,USD', 'acme,2026-10,fee,,2.00,USD'),
      ['4:price_id'],
    ],
    [
      'one customer-period in two currencies',
      file('acme,2026-10,fee,,1.00,USD', 'acme,2026-10,tokens,1,1.00,EUR'),
      ['3:currency'],
    ],
    ['a row with too few fields', file('acme,2026-10,fee,1.00,USD'), ['2:row']],
    ['an empty customer', file(',2026-10,fee,,1.00,USD'), ['2:customer_id']],
  ])('refuses the whole file: %s', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('refuses a wrong header, naming line 1', () => {
    expect(problemsOf('customer,period,price_id,quantity,amount,currency\nacme,2026-10,fee,,1.00,USD\n')).toEqual([
      '1:header',
    ]);
  });

  it('names file, line and field in the message', () => {
    expect(() =>
      parseLegacyCsv('/tmp/legacy.csv', file('acme,2026-10,fee,,1.00,USD', 'acme,2026-10,x,,1,USD')),
    ).toThrow(/\/tmp\/legacy\.csv:3: amount: 1 does not have exactly 2 decimal digits for USD/);
  });
});
