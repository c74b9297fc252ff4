import { describe, expect, it } from 'vitest';
import type { CostVersion } from '../../contracts/costs.ts';
import type { MarginInvoice } from '../costs/margin.ts';
import { computeSimulationImpact } from './simulation-impact.ts';

const COSTS: CostVersion = {
  effective_from: '2026-10-01T00:00:00.000Z',
  costs: [{ sku: 'llm.tokens', dimensions: {}, unit: 'tokens', unit_cost: '0.0000021', currency: 'USD' }],
  content_hash: 'a',
  file: 'costs/2026-10-01.yaml',
};

function invoice(customer: string, tokensAmount: string, jobsAmount: string, fee = '0.00'): MarginInvoice {
  return {
    customer_id: customer,
    period: '2026-10',
    period_start: '2026-10-01T00:00:00.000Z',
    currency: 'USD',
    usage: [
      { sku: 'llm.tokens', unit: 'tokens', quantity: '800000', amount: tokensAmount, dimensions: {} },
      { sku: 'batch.jobs', unit: 'jobs', quantity: '4', amount: jobsAmount, dimensions: {} },
    ],
    other_revenue: fee === '0.00' ? [] : [fee],
  };
}

describe('computeSimulationImpact', () => {
  it('shows billed vs candidate revenue and margin by customer, SKU, cohort and total (worked example)', () => {
    const rows = computeSimulationImpact(
      [
        // a: tokens 8.00 → 7.20, jobs (uncosted) 2.00 → 1.80, fee 100.00 unchanged
        {
          customerId: 'a',
          cohort: '2026-01',
          billed: invoice('a', '8.00', '2.00', '100.00'),
          candidate: invoice('a', '7.20', '1.80', '100.00'),
        },
        // b: tokens 10.00 → 9.00
        {
          customerId: 'b',
          cohort: '2026-01',
          billed: invoice('b', '10.00', '0.00'),
          candidate: invoice('b', '9.00', '0.00'),
        },
      ],
      [COSTS],
    );
    const table = rows.map((row) => [
      row.by,
      row.key,
      row.billedRevenue,
      row.candidateRevenue,
      row.revenueChange,
      row.revenueChangePct,
      row.billedMargin,
      row.candidateMargin,
      row.marginChange,
    ]);
    // COGS of 800,000 tokens at 0.0000021 = 1.68 per customer. Jobs have no cost: uncosted, not in margin.
    expect(table).toEqual([
      ['customer', 'a', '110.00', '109.00', '-1.00', '-0.9', '106.32', '105.52', '-0.80'],
      ['customer', 'b', '10.00', '9.00', '-1.00', '-10.0', '8.32', '7.32', '-1.00'],
      ['sku', 'batch.jobs', '2.00', '1.80', '-0.20', '-10.0', '0.00', '0.00', '0.00'],
      ['sku', 'llm.tokens', '18.00', '16.20', '-1.80', '-10.0', '14.64', '12.84', '-1.80'],
      ['cohort', '2026-01', '120.00', '118.00', '-2.00', '-1.7', '114.64', '112.84', '-1.80'],
      ['total', 'all', '120.00', '118.00', '-2.00', '-1.7', '114.64', '112.84', '-1.80'],
    ]);
  });

  it('is all zeros when the candidate bills what was billed', () => {
    const same = invoice('a', '8.00', '2.00', '100.00');
    const rows = computeSimulationImpact([{ customerId: 'a', cohort: 'c', billed: same, candidate: same }], [COSTS]);
    for (const row of rows) expect([row.revenueChange, row.marginChange]).toEqual(['0.00', '0.00']);
  });
});
