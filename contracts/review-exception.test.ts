import { describe, expect, it } from 'vitest';
import { checkExceptionContext, EXCEPTION_KINDS } from './review-exception.ts';

const closeContext = {
  previousInvoices: [{ invoiceId: 'i-1', period: '2026-09', total: '12.00' }],
  priorDecisions: [],
};
const comparison = {
  customer_id: 'c',
  status: 'diff',
  currency: 'USD',
  legacy_total: '10.00',
  new_total: '12.00',
  variance: '2.00',
  variance_pct: '20.00',
  exception: true,
  exception_reasons: ['variance 20.00 % above 1 %'],
  lines: [{ key: 'usage:tokens', status: 'diff', legacy_amount: '10.00', new_amount: '12.00', cause: 'price' }],
};

describe('checkExceptionContext', () => {
  it.each([
    ['threshold', closeContext],
    ['unknown_customer', { previousInvoices: [], priorDecisions: [] }],
    ['shadow_variance', { shadowRun: 'run-1', legacyImportId: null, comparison }],
    [
      'reconciliation',
      {
        reconciliation: {
          stage: 'revenue_to_gl',
          reason: 'ledger_unbalanced',
          customer_id: null,
          invoice_id: null,
          line_key: null,
          sku: null,
          currency: 'USD',
          expected: '0.00',
          actual: '1.00',
          detail: 'off by 1.00',
        },
      },
    ],
  ])('accepts a %s context', (kind, context) => {
    expect(checkExceptionContext(kind, context)).toEqual({ ok: true, value: { kind, context } });
  });

  it.each([
    ['threshold', { priorDecisions: [] }, 'context.previousInvoices'],
    ['threshold', { ...closeContext, previousInvoices: [{ invoiceId: 'i', period: 'p', total: 12 }] }, 'total'],
    [
      'shadow_variance',
      { shadowRun: 'r', legacyImportId: null, comparison: { ...comparison, variance: 2 } },
      'variance',
    ],
    ['reconciliation', { reconciliation: { stage: 'somewhere' } }, 'context.reconciliation.stage'],
    ['a_kind_nobody_raises', {}, 'kind: a_kind_nobody_raises'],
  ])('refuses a broken %s context, naming the field', (kind, context, field) => {
    const checked = checkExceptionContext(kind, context);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.problem).toContain(field);
  });

  it('has one schema per kind, the close kinds included', () => {
    expect(EXCEPTION_KINDS).toEqual(expect.arrayContaining(['threshold', 'ingest_lagging', 'marketplace_over_report']));
    expect(new Set(EXCEPTION_KINDS).size).toBe(EXCEPTION_KINDS.length);
  });
});
