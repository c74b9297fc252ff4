import { describe, expect, it } from 'vitest';
import { feeLine, issuedInvoice, trueUpLine, usageLine } from '../../test/builders/issued-invoice.ts';
import { commitDueForPeriod, journalEntriesForInvoice } from './index.ts';

describe('commitDueForPeriod', () => {
  it.each([
    [
      'the prorated commit the invoice was rated against',
      [usageLine('u', '129.75'), { ...trueUpLine('0.00'), commit: '125.81', proration: '0.629032258065' }],
      '200.00',
      '125.81',
    ],
    [
      'the whole commit of a full period',
      [usageLine('u', '10.00'), { ...trueUpLine('190.00'), commit: '200.00' }],
      '200.00',
      '200.00',
    ],
    [
      "the contract's commit when the line does not say",
      [usageLine('u', '10.00'), trueUpLine('190.00')],
      '200.00',
      '200.00',
    ],
    ['none without a commit', [usageLine('u', '10.00'), feeLine('platform', '5.00')], undefined, null],
  ] as const)('%s', (_name, lines, contractCommit, expected) => {
    expect(commitDueForPeriod(lines, contractCommit)).toBe(expected);
  });

  it('lets a contract that ends inside the period be journaled (its commit is prorated, the usage above it)', () => {
    // Commit 200.00 a month; the contract covers 19.5 of October's 31 days: the commit due is 125.81,
    // usage 129.75 is above it, so no shortfall is billed.
    const invoice = issuedInvoice([
      usageLine('tokens-us', '129.75'),
      { ...trueUpLine('0.00'), commit: '125.81', proration: '0.629032258065' },
    ]);
    expect(() =>
      journalEntriesForInvoice({ invoice, policy: { commitPolicy: 'ratable', commitAmount: '200.00' } }),
    ).toThrow(/calls for a true-up of 70.25/);
    const entries = journalEntriesForInvoice({
      invoice,
      policy: { commitPolicy: 'ratable', commitAmount: commitDueForPeriod(invoice.lines, '200.00') },
    });
    expect(
      entries
        .find((entry) => entry.entry_type === 'commit_recognized')
        ?.lines.map((line) => `${line.account} ${line.debit}/${line.credit}`),
    ).toEqual(['usage_revenue 125.81/0.00', 'commitment_revenue 0.00/125.81']);
  });
});
