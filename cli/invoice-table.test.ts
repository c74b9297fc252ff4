import { describe, expect, it } from 'vitest';
import {
  adjustmentLine,
  creditLine,
  discountLine,
  feeLine,
  issuedInvoice,
  usageLine,
} from '../test/builders/issued-invoice.ts';
import { formatInvoiceTable } from './invoice-table.ts';

// A line of 2026-10 with tiers priced by two versions, packages, a credit and two kinds of adjustment,
// whose lines arrive in the order the rating appended them (adjustments last, a credit in between).
const invoice = issuedInvoice(
  [
    usageLine('usage:tokens-us', '600.00', {
      price_id: 'tokens-us',
      quantity: '15000',
      billable_quantity: '15',
      tiers: [
        { tier: 1, quantity: '10', unit_price: '40', amount: '400', effective_from: '2026-10-01T00:00:00Z' },
        { tier: 1, quantity: '5', unit_price: '40', amount: '200', effective_from: '2026-10-15T12:00:00Z' },
      ],
    }),
    usageLine('usage:jobs', '3.00', { price_id: 'jobs', unit: 'jobs', quantity: '6', billable_quantity: '6' }),
    feeLine('fee:platform', '500.00'),
    discountLine('discount:launch-10', '-60.00'),
    creditLine('promo-q4', 'promotional', '-50.00'),
    adjustmentLine('adjustment:2026-09:usage:tokens-us', '2026-09', '12.40', { price_id: 'tokens-us' }),
    adjustmentLine('review_adjustment:exc-1', '2026-10', '-5.00', {
      corrects_invoice_id: 'inv-acme-2026-10',
      reason: 'goodwill (review exc-1 by ana)',
    }),
  ],
  { subtotal: '1043.00' },
);

describe('the invoice as a person reads it', () => {
  const text = formatInvoiceTable(invoice);
  const rows = text.split('\n');
  const row = (pattern: RegExp): number => rows.findIndex((line) => pattern.test(line));

  it('puts charges, the subtotal, credits, adjustments and the total in the order the total is built', () => {
    const order = [
      /^usage\s+tokens-us/,
      /^fee\s+fee:platform/,
      /^discount\s/,
      /^SUBTOTAL\s+1043\.00$/,
      /^credit\s/,
      /^adjustment\s+tokens-us/,
      /^adjustment\s+review adjustment/,
      /^TOTAL USD\s+1000\.40$/,
    ];
    const positions = order.map(row);
    expect(positions.every((position) => position >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('says which line, period and invoice each adjustment corrects', () => {
    const late = row(/^adjustment\s+tokens-us/);
    expect(rows[late]).toMatch(/adjusts usage:tokens-us of 2026-09\s+12\.40$/);
    expect(rows[late + 1]).toBe('      corrects invoice inv-acme-2026-09: late usage');
    const review = row(/^adjustment\s+review adjustment\s+-5\.00$/);
    expect(rows[review + 1]).toBe('      goodwill (review exc-1 by ana)');
  });

  it('names both rate-card versions of a line they split, and every quantity with its unit', () => {
    expect(text).toContain('priced by rate-card versions 2026-10-01 and 2026-10-15T12:00:00Z');
    expect(rows[row(/^usage\s+tokens-us/)]).toMatch(/15000 tokens \(1 event\)\s+15 packages\s+600\.00$/);
    expect(rows[row(/^usage\s+jobs/)]).toMatch(/6 jobs \(1 event\)\s+6 jobs\s+3\.00$/);
  });

  it('names the currency of every amount: the amount column in its heading, a tier’s price and amount on the figure', () => {
    expect(rows[row(/^LINE\s/)]).toMatch(/\sAMOUNT USD$/);
    // The tier's exact figures, at least in cents and never rounded (a sub-cent unit price keeps its digits).
    expect(text).toContain('tier 1: 10 packages × 40.00 USD = 400.00 USD   [version 2026-10-01]');
  });
});
