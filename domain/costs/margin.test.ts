import { describe, expect, it } from 'vitest';
import type { CostVersion } from '../../contracts/costs.ts';
import { computeMargins, productOfSku, type MarginInvoice } from './margin.ts';
import { costVersionAt } from './unit-costs.ts';

const OCTOBER: CostVersion = {
  effective_from: '2026-10-01T00:00:00.000Z',
  costs: [
    { sku: 'llm.tokens', dimensions: {}, unit: 'tokens', unit_cost: '0.000002', currency: 'USD' },
    { sku: 'llm.tokens', dimensions: { region: 'eu-west-1' }, unit: 'tokens', unit_cost: '0.000003', currency: 'USD' },
    { sku: 'batch.jobs', dimensions: {}, unit: 'jobs', unit_cost: '0.125', currency: 'USD' },
  ],
  content_hash: 'a',
  file: 'costs/2026-10-01.yaml',
};
const NOVEMBER: CostVersion = {
  ...OCTOBER,
  effective_from: '2026-11-01T00:00:00.000Z',
  costs: [{ sku: 'llm.tokens', dimensions: {}, unit: 'tokens', unit_cost: '0.000001', currency: 'USD' }],
  file: 'costs/2026-11-01.yaml',
};

function invoice(overrides: Partial<MarginInvoice> = {}): MarginInvoice {
  return {
    customer_id: 'acme',
    period: '2026-10',
    period_start: '2026-10-01T00:00:00.000Z',
    currency: 'USD',
    usage: [
      // 2,000,000 tokens in us-east-1 at 0.000002 = 4.00; 1,000,000 in eu-west-1 at 0.000003 = 3.00
      { sku: 'llm.tokens', unit: 'tokens', quantity: '2000000', amount: '16.00', dimensions: { region: 'us-east-1' } },
      { sku: 'llm.tokens', unit: 'tokens', quantity: '1000000', amount: '12.00', dimensions: { region: 'eu-west-1' } },
      // 10 jobs at 0.125 = 1.25
      { sku: 'batch.jobs', unit: 'jobs', quantity: '10', amount: '5.00', dimensions: {} },
      // no cost entry: uncosted
      { sku: 'db.queries', unit: 'queries', quantity: '100', amount: '5.00', dimensions: {} },
    ],
    other_revenue: ['100.00', '-1.50'],
    ...overrides,
  };
}

describe('computeMargins', () => {
  it('gives revenue, COGS and margin by SKU, product, customer and in total (worked example)', () => {
    const rows = computeMargins([invoice()], [OCTOBER, NOVEMBER]);
    const table = rows.map((row) => [
      row.by,
      row.key,
      row.revenue,
      row.cogs,
      row.margin,
      row.margin_pct,
      row.uncosted_revenue,
    ]);
    expect(table).toEqual([
      ['sku', 'batch.jobs', '5.00', '1.25', '3.75', '75.0', '0.00'],
      ['sku', 'db.queries', '5.00', '0.00', '0.00', null, '5.00'],
      ['sku', 'llm.tokens', '28.00', '7.00', '21.00', '75.0', '0.00'],
      ['product', 'batch', '5.00', '1.25', '3.75', '75.0', '0.00'],
      ['product', 'db', '5.00', '0.00', '0.00', null, '5.00'],
      ['product', 'llm', '28.00', '7.00', '21.00', '75.0', '0.00'],
      // revenue 38.00 usage + 98.50 fees and discounts; costed revenue 131.50; margin 131.50 − 8.25
      ['customer', 'acme', '136.50', '8.25', '123.25', '93.7', '5.00'],
      ['total', 'all', '136.50', '8.25', '123.25', '93.7', '5.00'],
    ]);
  });

  it('prices a period with the cost version in force at its start', () => {
    const rows = computeMargins(
      [invoice({ period: '2026-11', period_start: '2026-11-01T00:00:00.000Z', other_revenue: [] })],
      [OCTOBER, NOVEMBER],
    );
    // November: tokens at 0.000001 everywhere (3.00), batch.jobs has no November cost.
    expect(rows.find((row) => row.by === 'sku' && row.key === 'llm.tokens')?.cogs).toBe('3.00');
    expect(rows.find((row) => row.by === 'sku' && row.key === 'batch.jobs')?.uncosted_revenue).toBe('5.00');
  });

  it('keeps currencies apart: no cost in the invoice currency means uncosted, never converted', () => {
    const rows = computeMargins([invoice({ currency: 'EUR', other_revenue: [] })], [OCTOBER]);
    const total = rows.find((row) => row.by === 'total');
    expect(total).toMatchObject({
      currency: 'EUR',
      revenue: '38.00',
      cogs: '0.00',
      uncosted_revenue: '38.00',
      margin_pct: null,
    });
  });

  it('rounds COGS half-up once per row', () => {
    const rows = computeMargins(
      [
        invoice({
          usage: [{ sku: 'batch.jobs', unit: 'jobs', quantity: '1', amount: '1.00', dimensions: {} }],
          other_revenue: [],
        }),
        invoice({
          customer_id: 'globex',
          usage: [{ sku: 'batch.jobs', unit: 'jobs', quantity: '1', amount: '1.00', dimensions: {} }],
          other_revenue: [],
        }),
      ],
      [OCTOBER],
    );
    expect(rows.find((row) => row.by === 'customer' && row.key === 'acme')?.cogs).toBe('0.13');
    expect(rows.find((row) => row.by === 'sku')?.cogs).toBe('0.25');
  });
});

describe('productOfSku and costVersionAt', () => {
  it('a product is the part before the first dot', () => {
    expect([productOfSku('llm.tokens'), productOfSku('storage'), productOfSku('.odd')]).toEqual([
      'llm',
      'storage',
      '.odd',
    ]);
  });
  it('no version before the first', () => {
    expect(costVersionAt([OCTOBER], '2026-09-30T23:59:59.999Z')).toBeUndefined();
    expect(costVersionAt([OCTOBER, NOVEMBER], '2026-11-01T00:00:00.000Z')).toBe(NOVEMBER);
  });
});
