import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import {
  adjustmentLine,
  creditLine,
  discountLine,
  feeLine,
  issuedInvoice,
  trueUpLine,
  usageLine,
} from '../../test/builders/issued-invoice.ts';
import { Decimal } from '../money.ts';
import {
  assertBalanced,
  isIncomeStatementAccount,
  journalEntriesForInvoice,
  netDebitByAccount,
  type InvoiceJournalInput,
  type JournalPolicy,
  type PrepaidCreditTerms,
} from './index.ts';

const drawdown: JournalPolicy = { commitPolicy: 'drawdown' };

/** An entry as a worked-example line: `type [service→posting] Dr account amount, … | Cr account amount, …`. */
function describeEntry(entry: JournalEntry): string {
  const side = (pick: 'debit' | 'credit') =>
    entry.lines
      .filter((line) => line[pick] !== '0.00' && line[pick] !== '0')
      .map((line) => `${line.account} ${line[pick]}`)
      .join(', ');
  const periods =
    entry.service_period === entry.posting_period ? '' : ` [${entry.service_period}→${entry.posting_period}]`;
  return `${entry.entry_type}${periods}: Dr ${side('debit')} | Cr ${side('credit')}`;
}

function prepaid(creditId: string, amount: string, paid: string, consumedBefore = '0'): PrepaidCreditTerms {
  return { credit_id: creditId, amount, consideration_paid: paid, consumed_before: consumedBefore };
}

interface WorkedExample {
  readonly name: string;
  readonly input: InvoiceJournalInput;
  readonly entries: readonly string[];
}

const examples: WorkedExample[] = [
  {
    name: 'usage rated, then invoice issued',
    input: { invoice: issuedInvoice([usageLine('tokens-us', '600.00')]), policy: drawdown },
    entries: [
      'usage_rated: Dr unbilled_receivables 600.00 | Cr usage_revenue 600.00',
      'invoice_issued: Dr accounts_receivable 600.00 | Cr unbilled_receivables 600.00',
    ],
  },
  {
    name: 'the SPEC §4 invoice: usage, fee, discount, zero true-up, promotional credit',
    input: {
      invoice: issuedInvoice([
        usageLine('tokens-us', '600.00'),
        feeLine('platform', '500.00'),
        discountLine('launch-10', '-60.00'),
        trueUpLine('0.00'),
        creditLine('promo-q4', 'promotional', '-50.00'),
      ]),
      policy: drawdown,
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 600.00 | Cr usage_revenue 600.00',
      'discount_applied: Dr contra_revenue_discounts 60.00 | Cr unbilled_receivables 60.00',
      'promotional_credit_applied: Dr contra_revenue_promotional_credits 50.00 | Cr unbilled_receivables 50.00',
      'invoice_issued: Dr accounts_receivable 990.00 | Cr deferred_revenue_subscriptions 500.00, unbilled_receivables 490.00',
      'subscription_recognized: Dr deferred_revenue_subscriptions 500.00 | Cr subscription_revenue 500.00',
    ],
  },
  {
    name: 'prepaid credit at face value: the liability becomes revenue one for one',
    input: {
      invoice: issuedInvoice([usageLine('tokens-us', '300.00'), creditLine('prepaid-1', 'prepaid', '-100.00')]),
      policy: drawdown,
      prepaidCredits: [prepaid('prepaid-1', '2000.00', '2000.00', '500.00')],
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 300.00 | Cr usage_revenue 300.00',
      'prepaid_credit_consumed: Dr contract_liability_prepaid_credits 100.00 | Cr unbilled_receivables 100.00',
      'invoice_issued: Dr accounts_receivable 200.00 | Cr unbilled_receivables 200.00',
    ],
  },
  {
    name: 'bonus prepaid credits (900.00 paid for 1000.00) lower the effective price to 0.90',
    input: {
      invoice: issuedInvoice([usageLine('tokens-us', '300.00'), creditLine('prepaid-1', 'prepaid', '-300.00')]),
      policy: drawdown,
      prepaidCredits: [prepaid('prepaid-1', '1000.00', '900.00')],
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 300.00 | Cr usage_revenue 300.00',
      'prepaid_credit_consumed: Dr contract_liability_prepaid_credits 270.00, contra_revenue_prepaid_bonus 30.00 | Cr unbilled_receivables 300.00',
    ],
  },
  {
    name: 'promotional before prepaid on one invoice: promotional is contra-revenue, prepaid releases the liability',
    input: {
      invoice: issuedInvoice([
        usageLine('tokens-us', '250.00'),
        creditLine('promo-q4', 'promotional', '-50.00'),
        creditLine('prepaid-1', 'prepaid', '-200.00'),
      ]),
      policy: drawdown,
      prepaidCredits: [prepaid('prepaid-1', '2000.00', '2000.00')],
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 250.00 | Cr usage_revenue 250.00',
      'promotional_credit_applied: Dr contra_revenue_promotional_credits 50.00 | Cr unbilled_receivables 50.00',
      'prepaid_credit_consumed: Dr contract_liability_prepaid_credits 200.00 | Cr unbilled_receivables 200.00',
    ],
  },
  {
    name: 'commit, ratable, with a shortfall: the commit is revenue, the shortfall bill only moves the receivable',
    input: {
      invoice: issuedInvoice([
        usageLine('tokens-us', '600.00'),
        discountLine('launch-10', '-60.00'),
        trueUpLine('460.00'),
      ]),
      policy: { commitPolicy: 'ratable', commitAmount: '1000.00' },
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 600.00 | Cr usage_revenue 600.00',
      'discount_applied: Dr contra_revenue_discounts 60.00 | Cr unbilled_receivables 60.00',
      'commit_recognized: Dr usage_revenue 540.00, unbilled_receivables 460.00 | Cr commitment_revenue 1000.00',
      'invoice_issued: Dr accounts_receivable 1000.00 | Cr unbilled_receivables 1000.00',
    ],
  },
  {
    name: 'commit, ratable, with overage: the commit is recognized, usage above it stays usage revenue',
    input: {
      invoice: issuedInvoice([usageLine('tokens-us', '800.00'), trueUpLine('0.00')]),
      policy: { commitPolicy: 'ratable', commitAmount: '500.00' },
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 800.00 | Cr usage_revenue 800.00',
      'commit_recognized: Dr usage_revenue 500.00 | Cr commitment_revenue 500.00',
      'invoice_issued: Dr accounts_receivable 800.00 | Cr unbilled_receivables 800.00',
    ],
  },
  {
    name: 'commit, drawdown, with a shortfall: usage as consumed, the shortfall is breakage',
    input: {
      invoice: issuedInvoice([usageLine('tokens-us', '600.00'), trueUpLine('400.00')]),
      policy: { commitPolicy: 'drawdown', commitAmount: '1000.00' },
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 600.00 | Cr usage_revenue 600.00',
      'commit_shortfall_breakage: Dr unbilled_receivables 400.00 | Cr breakage_revenue 400.00',
      'invoice_issued: Dr accounts_receivable 1000.00 | Cr unbilled_receivables 1000.00',
    ],
  },
  {
    name: 'commit, drawdown, met: nothing beyond usage',
    input: {
      invoice: issuedInvoice([usageLine('tokens-us', '1200.00'), trueUpLine('0.00')]),
      policy: { commitPolicy: 'drawdown', commitAmount: '1000.00' },
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 1200.00 | Cr usage_revenue 1200.00',
      'invoice_issued: Dr accounts_receivable 1200.00 | Cr unbilled_receivables 1200.00',
    ],
  },
  {
    name: 'late usage: posted in the current period, tagged with the period it belongs to',
    input: {
      invoice: issuedInvoice([
        usageLine('tokens-us', '700.00'),
        adjustmentLine('adj:tokens-us:2026-09', '2026-09', '120.00', { price_id: 'tokens-us' }),
      ]),
      policy: drawdown,
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 700.00 | Cr usage_revenue 700.00',
      'adjustment_posted [2026-09→2026-10]: Dr unbilled_receivables 120.00 | Cr usage_revenue 120.00',
      'invoice_issued: Dr accounts_receivable 820.00 | Cr unbilled_receivables 820.00',
    ],
  },
  {
    name: "a reviewer's adjustment of this invoice: its own period's usage revenue moves, and the receivable with it",
    input: {
      invoice: issuedInvoice([
        usageLine('tokens-us', '500.00'),
        adjustmentLine('review_adjustment:exc:1', '2026-10', '-25.00', {
          corrects_invoice_id: 'inv-acme-2026-10',
          reason: 'goodwill for an outage (review exc:1 by ana)',
        }),
      ]),
      policy: drawdown,
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 500.00 | Cr usage_revenue 500.00',
      'adjustment_posted: Dr usage_revenue 25.00 | Cr unbilled_receivables 25.00',
      'invoice_issued: Dr accounts_receivable 475.00 | Cr unbilled_receivables 475.00',
    ],
  },
  {
    name: 'downward adjustment on the next invoice: usage revenue is reduced, so is the receivable',
    input: {
      invoice: issuedInvoice([
        usageLine('tokens-us', '500.00'),
        adjustmentLine('adj:tokens-us:2026-09', '2026-09', '-80.00', { reason: 'rate card corrected' }),
      ]),
      policy: drawdown,
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 500.00 | Cr usage_revenue 500.00',
      'adjustment_posted [2026-09→2026-10]: Dr usage_revenue 80.00 | Cr unbilled_receivables 80.00',
      'invoice_issued: Dr accounts_receivable 420.00 | Cr unbilled_receivables 420.00',
    ],
  },
  {
    name: 'credit note: an invoice that is only a downward adjustment credits AR',
    input: { invoice: issuedInvoice([adjustmentLine('adj:tokens-us:2026-09', '2026-09', '-80.00')]), policy: drawdown },
    entries: [
      'adjustment_posted [2026-09→2026-10]: Dr usage_revenue 80.00 | Cr unbilled_receivables 80.00',
      'invoice_issued: Dr unbilled_receivables 80.00 | Cr accounts_receivable 80.00',
    ],
  },
  {
    name: 'adjustments of other obligations go to their own accounts',
    input: {
      invoice: issuedInvoice([
        adjustmentLine('adj:platform', '2026-08', '100.00', { price_id: 'platform' }),
        adjustmentLine('adj:launch-10', '2026-09', '-12.00', { price_id: 'launch-10' }),
      ]),
      policy: {
        commitPolicy: 'drawdown',
        adjustmentObligations: { platform: 'subscription', 'launch-10': 'discount' },
      },
    },
    entries: [
      'adjustment_posted [2026-08→2026-10]: Dr unbilled_receivables 100.00 | Cr subscription_revenue 100.00',
      'adjustment_posted [2026-09→2026-10]: Dr contra_revenue_discounts 12.00 | Cr unbilled_receivables 12.00',
      'invoice_issued: Dr accounts_receivable 88.00 | Cr unbilled_receivables 88.00',
    ],
  },
  {
    name: 'a subscription fee alone: deferred on issue, released for its service period',
    input: { invoice: issuedInvoice([feeLine('platform', '500.00')]), policy: drawdown },
    entries: [
      'invoice_issued: Dr accounts_receivable 500.00 | Cr deferred_revenue_subscriptions 500.00',
      'subscription_recognized: Dr deferred_revenue_subscriptions 500.00 | Cr subscription_revenue 500.00',
    ],
  },
  {
    name: 'a promotional credit that covers a fee: nothing is receivable, the fee is still revenue',
    input: {
      invoice: issuedInvoice([feeLine('platform', '500.00'), creditLine('promo-q4', 'promotional', '-500.00')]),
      policy: drawdown,
    },
    entries: [
      'promotional_credit_applied: Dr contra_revenue_promotional_credits 500.00 | Cr unbilled_receivables 500.00',
      'invoice_issued: Dr unbilled_receivables 500.00 | Cr deferred_revenue_subscriptions 500.00',
      'subscription_recognized: Dr deferred_revenue_subscriptions 500.00 | Cr subscription_revenue 500.00',
    ],
  },
  {
    name: 'yen: zero minor digits',
    input: {
      invoice: issuedInvoice([usageLine('tokens-jp', '1520'), discountLine('launch-10', '-152')], { currency: 'JPY' }),
      policy: drawdown,
    },
    entries: [
      'usage_rated: Dr unbilled_receivables 1520 | Cr usage_revenue 1520',
      'discount_applied: Dr contra_revenue_discounts 152 | Cr unbilled_receivables 152',
      'invoice_issued: Dr accounts_receivable 1368 | Cr unbilled_receivables 1368',
    ],
  },
  {
    name: 'an all-zero invoice posts nothing',
    input: { invoice: issuedInvoice([usageLine('tokens-us', '0.00'), trueUpLine('0.00')]), policy: drawdown },
    entries: [],
  },
];

describe('journalEntriesForInvoice: worked examples', () => {
  it.each(examples)('$name', ({ input, entries: expected }) => {
    const entries = journalEntriesForInvoice(input);
    expect(entries.map(describeEntry)).toEqual(expected);
    for (const entry of entries) expect(() => assertBalanced(entry)).not.toThrow();

    // Across the invoice, Unbilled AR and Deferred revenue clear, AR carries the total, and the
    // income statement gains the total plus whatever prepaid liability the invoice released.
    const net = netDebitByAccount(entries);
    const zero = new Decimal(0);
    expect((net.get('unbilled_receivables') ?? zero).toString()).toBe('0');
    expect((net.get('deferred_revenue_subscriptions') ?? zero).toString()).toBe('0');
    expect((net.get('accounts_receivable') ?? zero).eq(input.invoice.total)).toBe(true);
    const revenue = [...net]
      .filter(([account]) => isIncomeStatementAccount(account))
      .reduce((sum, [, value]) => sum.minus(value), zero);
    const released = net.get('contract_liability_prepaid_credits') ?? zero;
    expect(revenue.eq(released.plus(input.invoice.total))).toBe(true);
  });
});

describe('journalEntriesForInvoice: keys, periods and lineage', () => {
  const invoice = issuedInvoice(
    [usageLine('tokens-us', '600.00'), adjustmentLine('adj:tokens-us:2026-09', '2026-09', '120.00')],
    { invoice_id: 'inv:acme/2026-10' },
  );
  const entries = journalEntriesForInvoice({ invoice, policy: drawdown });

  it('keys each entry by (source, entry type, calculation version), escaping separators inside ids', () => {
    expect(entries.map((entry) => entry.entry_key)).toEqual([
      'invoice:inv%3Aacme%2F2026-10:usage_rated:calc-v1',
      'invoice:inv%3Aacme%2F2026-10/adj%3Atokens-us%3A2026-09:adjustment_posted:calc-v1',
      'invoice:inv%3Aacme%2F2026-10:invoice_issued:calc-v1',
    ]);
    expect(journalEntriesForInvoice({ invoice, policy: drawdown })).toEqual(entries);
  });

  it('posts in the invoice period; an adjustment serves the period it corrects', () => {
    expect(entries.map((entry) => [entry.entry_type, entry.service_period, entry.posting_period])).toEqual([
      ['usage_rated', '2026-10', '2026-10'],
      ['adjustment_posted', '2026-09', '2026-10'],
      ['invoice_issued', '2026-10', '2026-10'],
    ]);
  });

  it('points each posting at the invoice line it comes from', () => {
    expect(entries[0]?.lines.map((line) => line.source_line_key)).toEqual(['tokens-us', 'tokens-us']);
    expect(entries[1]?.lines.map((line) => line.source_line_key)).toEqual([
      'adj:tokens-us:2026-09',
      'adj:tokens-us:2026-09',
    ]);
    expect(entries[2]?.lines.map((line) => line.source_line_key)).toEqual([null, null]);
  });
});

describe('prepaid recognition is cumulative, so rounding never strands a cent', () => {
  it('releases 100.00 paid for 300.00 of credits as 33.33 + 33.34 + 33.33 over three equal draws', () => {
    const releases = ['0', '100.00', '200.00'].map((before, index) => {
      const invoice = issuedInvoice([usageLine('tokens-us', '100.00'), creditLine('prepaid-1', 'prepaid', '-100.00')], {
        period: `2026-1${index}`,
        invoice_id: `inv-${index}`,
      });
      const [, consumed] = journalEntriesForInvoice({
        invoice,
        policy: drawdown,
        prepaidCredits: [prepaid('prepaid-1', '300.00', '100.00', before)],
      });
      return consumed?.lines.map((line) => `${line.account} ${line.debit}/${line.credit}`);
    });
    expect(releases).toEqual([
      [
        'contract_liability_prepaid_credits 33.33/0.00',
        'contra_revenue_prepaid_bonus 66.67/0.00',
        'unbilled_receivables 0.00/100.00',
      ],
      [
        'contract_liability_prepaid_credits 33.34/0.00',
        'contra_revenue_prepaid_bonus 66.66/0.00',
        'unbilled_receivables 0.00/100.00',
      ],
      [
        'contract_liability_prepaid_credits 33.33/0.00',
        'contra_revenue_prepaid_bonus 66.67/0.00',
        'unbilled_receivables 0.00/100.00',
      ],
    ]);
  });
});

describe('journalEntriesForInvoice refuses what it cannot account for', () => {
  it.each([
    [
      'a true-up without a commit in the policy',
      { invoice: issuedInvoice([usageLine('u', '10.00'), trueUpLine('90.00')]), policy: drawdown },
      /commit_policy_mismatch|no commit amount/,
    ],
    [
      'a true-up that does not match the commit',
      {
        invoice: issuedInvoice([usageLine('u', '10.00'), trueUpLine('80.00')]),
        policy: { commitPolicy: 'ratable', commitAmount: '100.00' },
      },
      /calls for a true-up of 90/,
    ],
    [
      'a missing true-up under a commit',
      {
        invoice: issuedInvoice([usageLine('u', '10.00')]),
        policy: { commitPolicy: 'drawdown', commitAmount: '100.00' },
      },
      /calls for a true-up of 90/,
    ],
    [
      'a prepaid draw without terms',
      { invoice: issuedInvoice([usageLine('u', '10.00'), creditLine('p', 'prepaid', '-10.00')]), policy: drawdown },
      /no prepaid terms for credit p/,
    ],
    [
      'a prepaid draw beyond the grant',
      {
        invoice: issuedInvoice([usageLine('u', '10.00'), creditLine('p', 'prepaid', '-10.00')]),
        policy: drawdown,
        prepaidCredits: [prepaid('p', '100.00', '100.00', '95.00')],
      },
      /more than was granted/,
    ],
    [
      'a total that is not the sum of the lines',
      { invoice: issuedInvoice([usageLine('u', '10.00')], { total: '11.00' }), policy: drawdown },
      /lines add up to 10, the total says 11.00/,
    ],
    [
      'a positive credit line',
      { invoice: issuedInvoice([usageLine('u', '10.00'), creditLine('p', 'promotional', '5.00')]), policy: drawdown },
      /line credit:p: a credit line cannot be positive/,
    ],
    [
      'a negative usage line',
      { invoice: issuedInvoice([usageLine('u', '-10.00')]), policy: drawdown },
      /line u: a usage line cannot be negative/,
    ],
    [
      'fractions of a cent',
      { invoice: issuedInvoice([usageLine('u', '10.005')]), policy: drawdown },
      /10.005 is not a whole number of USD minor units/,
    ],
    [
      "an adjustment of the invoice's own period that names another invoice",
      {
        invoice: issuedInvoice([adjustmentLine('a', '2026-10', '5.00', { corrects_invoice_id: 'inv-other' })]),
        policy: drawdown,
      },
      /corrects 2026-10, which is neither an earlier period nor this invoice/,
    ],
    [
      'a line key used twice',
      { invoice: issuedInvoice([usageLine('u', '1.00'), usageLine('u', '2.00')]), policy: drawdown },
      /line_key appears twice/,
    ],
  ] as [string, InvoiceJournalInput, RegExp][])('%s', (_name, input, message) => {
    expect(() => journalEntriesForInvoice(input)).toThrow(message);
  });
});
