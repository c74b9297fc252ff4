import { describe, expect, it } from 'vitest';
import { chartNumberMapping, glExportCsv, glExportRows, parseAccountMapping, type LedgerPosting } from './index.ts';

const posting = (overrides: Partial<LedgerPosting>): LedgerPosting => ({
  entry_key: 'invoice:inv-1:usage_rated:calc-v1',
  posted_at: '2026-11-01T02:00:00.000000Z',
  posting_period: '2026-10',
  account: 'unbilled_receivables',
  debit: '600.00',
  credit: '0.00',
  currency: 'USD',
  customer_id: 'acme',
  invoice_id: 'inv-1',
  memo: 'Usage rated, "tokens", 2026-10',
  ...overrides,
});

describe('parseAccountMapping', () => {
  it('reads the header and one account per line, skipping blanks and comments', () => {
    const mapping = parseAccountMapping('# our chart\naccount,external_account\n\nusage_revenue, 4010-00\n', 'map.csv');
    expect([...mapping]).toEqual([['usage_revenue', '4010-00']]);
  });

  it.each([
    ['', 'map.csv line 1, field header: the file is empty'],
    ['acct,ext\n', 'map.csv line 1, field header: expected the header "account,external_account"'],
    [
      'account,external_account\nusage_revenu,4010\n',
      'map.csv line 2, field account: "usage_revenu" is not an account',
    ],
    [
      'account,external_account\nusage_revenue,\n',
      'map.csv line 2, field external_account: account usage_revenue maps to nothing',
    ],
    [
      'account,external_account\nusage_revenue,1\nusage_revenue,2\n',
      'map.csv line 3, field account: usage_revenue is already mapped on line 2',
    ],
    ['account,external_account\nusage_revenue,1,2\n', 'map.csv line 2, field line: expected 2 fields'],
  ])('refuses %j', (text, message) => {
    expect(() => parseAccountMapping(text, 'map.csv')).toThrow(message);
  });
});

describe('glExportRows', () => {
  it('maps each posting, leaves the side without an amount empty, and quotes CSV fields that need it', () => {
    const rows = glExportRows(
      [posting({}), posting({ account: 'usage_revenue', debit: '0.00', credit: '600.00' })],
      chartNumberMapping(),
      null,
    );
    expect(rows.map((row) => [row.external_account, row.debit, row.credit])).toEqual([
      ['1150', '600.00', ''],
      ['4000', '', '600.00'],
    ]);
    expect(glExportCsv(rows).split('\n')[1]).toBe(
      'invoice:inv-1:usage_rated:calc-v1,2026-11-01T02:00:00.000000Z,2026-10,unbilled_receivables,1150,600.00,,USD,acme,inv-1,"Usage rated, ""tokens"", 2026-10"',
    );
  });

  it('refuses an unmapped account, naming the mapping file and how many postings use it', () => {
    const mapping = parseAccountMapping('account,external_account\nunbilled_receivables,1200\n', 'map.csv');
    expect(() =>
      glExportRows(
        [posting({}), posting({ account: 'usage_revenue', debit: '0.00', credit: '600.00' })],
        mapping,
        'map.csv',
      ),
    ).toThrow('map.csv: no line maps account usage_revenue (field account), which 1 posting uses');
  });
});
