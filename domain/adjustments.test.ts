import { describe, expect, it } from 'vitest';
import type { Invoice, InvoiceLine } from '../contracts/invoice.ts';
import { appendLinesAfterCredits, lateAdjustmentLines } from './adjustments.ts';

function invoice(lines: InvoiceLine[], total = '0.00'): Invoice {
  return {
    customer_id: 'acme',
    period: '2026-10',
    currency: 'USD',
    period_start: '2026-10-01T00:00:00.000Z',
    period_end: '2026-11-01T00:00:00.000Z',
    lines,
    subtotal: total,
    total,
    unpriced: [],
    events: { read: 0, duplicates: 0, outside_period: 0 },
    ratecard_versions: [],
    calculation_version: 'test',
  };
}

const usage = (priceId: string, amount: string): InvoiceLine => ({
  kind: 'usage',
  line_key: `usage:${priceId}`,
  price_id: priceId,
  sku: 'llm.tokens',
  unit: 'tokens',
  quantity: '0',
  billable_quantity: '0',
  amount,
  event_count: 1,
  tiers: [],
});
const fee = (amount: string): InvoiceLine => ({
  kind: 'fee',
  line_key: 'fee:platform',
  price_id: 'platform',
  description: 'Platform fee',
  amount,
});
const trueUp = (amount: string): InvoiceLine => ({ kind: 'commit_true_up', line_key: 'commit_true_up', amount });
const corrected = { invoice_id: 'inv:acme:2026-10', period: '2026-10', currency: 'USD' };

describe('late usage adjustments: the late events effect, usage-driven line by line', () => {
  it.each([
    {
      name: 'a usage line grows',
      before: [usage('tokens', '600.00'), fee('300.00')],
      after: [usage('tokens', '612.40'), fee('300.00')],
      expected: [['adjustment:2026-10:usage:tokens', '12.40']],
    },
    {
      name: 'late usage fills part of a commit shortfall: the true-up shrinks, the net is zero',
      before: [usage('tokens', '600.00'), trueUp('400.00')],
      after: [usage('tokens', '650.00'), trueUp('350.00')],
      expected: [
        ['adjustment:2026-10:commit_true_up', '-50.00'],
        ['adjustment:2026-10:usage:tokens', '50.00'],
      ],
    },
    {
      name: 'a price no event reached before appears',
      before: [usage('tokens', '600.00')],
      after: [usage('tokens', '600.00'), usage('storage', '2.30')],
      expected: [['adjustment:2026-10:usage:storage', '2.30']],
    },
    {
      name: 'nothing changes: no line',
      before: [usage('tokens', '1.00')],
      after: [usage('tokens', '1.00')],
      expected: [],
    },
  ])('$name', ({ before, after, expected }) => {
    const lines = lateAdjustmentLines({
      corrected,
      before: invoice(before),
      after: invoice(after),
      reason: 'late usage',
    });
    expect(lines.map((line) => [line.line_key, line.amount])).toEqual(expected);
    expect(lines.every((line) => line.corrects_invoice_id === corrected.invoice_id)).toBe(true);
  });

  it('never looks at lines after credits (a reviewer adjustment on the corrected invoice is not usage)', () => {
    const review: InvoiceLine = {
      kind: 'adjustment',
      line_key: 'review_adjustment:exc:1',
      corrects_period: '2026-10',
      corrects_invoice_id: corrected.invoice_id,
      reason: 'goodwill',
      amount: '-25.00',
    };
    const lines = lateAdjustmentLines({
      corrected,
      before: invoice([usage('tokens', '100.00'), review]),
      after: invoice([usage('tokens', '110.00'), review]),
      reason: 'late usage',
    });
    expect(lines.map((line) => [line.line_key, line.amount])).toEqual([['adjustment:2026-10:usage:tokens', '10.00']]);
  });

  it('appends lines after credits: the total moves, the subtotal does not', () => {
    const base = invoice([usage('tokens', '100.00')], '100.00');
    const adjusted = appendLinesAfterCredits(base, [
      {
        kind: 'adjustment',
        line_key: 'x',
        corrects_period: '2026-09',
        corrects_invoice_id: 'inv:acme:2026-09',
        reason: 'late',
        amount: '5.50',
      },
    ]);
    expect([adjusted.subtotal, adjusted.total]).toEqual(['100.00', '105.50']);
  });
});
