import { randomUUID } from 'node:crypto';
import type { InvoiceLine, IssuedInvoice } from '../../contracts/invoice.ts';

/** A fixed issue time, so builders never read the clock. */
const ISSUED_AT = '2026-11-01T02:00:00.000Z';

/** A fresh invoice id per call: tests share one database per run. */
export function newInvoiceId(prefix = 'inv_test'): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

/** The lines of SPEC §4's example, with line keys: usage, fee, discount, commit true-up, credit. */
function exampleUsdLines(): InvoiceLine[] {
  return [
    {
      kind: 'usage',
      line_key: 'usage:tokens-us',
      price_id: 'tokens-us',
      sku: 'llm.tokens',
      unit: 'tokens',
      quantity: '15000',
      billable_quantity: '15000',
      amount: '600.00',
      event_count: 412,
      tiers: [
        { tier: 1, quantity: '1000', unit_price: '0.10', amount: '100' },
        { tier: 2, quantity: '14000', unit_price: '0.0357142857', amount: '500' },
      ],
    },
    { kind: 'fee', line_key: 'fee:platform', price_id: 'platform', description: 'Platform fee', amount: '500.00' },
    {
      kind: 'discount',
      line_key: 'discount:launch-10',
      price_id: 'launch-10',
      description: 'Launch discount 10%',
      amount: '-60.00',
    },
    { kind: 'commit_true_up', line_key: 'commit_true_up', amount: '0.00' },
    {
      kind: 'credit',
      line_key: 'credit:promo-q4',
      credit_id: 'promo-q4',
      credit_kind: 'promotional',
      amount: '-50.00',
    },
  ];
}

/** An issued invoice (SPEC §4) for October 2026 with the example's lines; override anything. */
export function buildIssuedInvoice(overrides: Partial<IssuedInvoice> = {}): IssuedInvoice {
  const invoiceId = overrides.invoice_id ?? newInvoiceId();
  return {
    customer_id: 'acme',
    period: '2026-10',
    currency: 'USD',
    period_start: '2026-10-01T00:00:00Z',
    period_end: '2026-11-01T00:00:00Z',
    lines: exampleUsdLines(),
    subtotal: '1040.00',
    total: '990.00',
    unpriced: [],
    events: { read: 430, duplicates: 12, outside_period: 6 },
    ratecard_versions: [{ ratecard: 'standard', effective_from: '2026-10-01T00:00:00Z', content_hash: 'sha256:0000' }],
    calculation_version: 'test-1',
    invoice_id: invoiceId,
    invoice_number: `TALLY-${invoiceId.slice(-6).toUpperCase()}`,
    issued_at: ISSUED_AT,
    event_cutoff: '2026-11-01T01:00:00.000Z',
    event_fingerprint: 'sha256:1111',
    ...overrides,
  };
}

/** A JPY invoice (no minor digits): amounts are whole yen. */
export function buildJpyInvoice(overrides: Partial<IssuedInvoice> = {}): IssuedInvoice {
  return buildIssuedInvoice({
    currency: 'JPY',
    lines: [
      {
        kind: 'usage',
        line_key: 'usage:tokens-jp',
        price_id: 'tokens-jp',
        sku: 'llm.tokens',
        unit: 'tokens',
        quantity: '12000',
        billable_quantity: '12000',
        amount: '1200',
        event_count: 40,
        tiers: [],
      },
      { kind: 'fee', line_key: 'fee:platform', price_id: 'platform', description: 'Platform fee', amount: '50000' },
      { kind: 'discount', line_key: 'discount:launch-10', price_id: 'launch-10', amount: '-120' },
      { kind: 'credit', line_key: 'credit:prepaid-1', credit_id: 'prepaid-1', credit_kind: 'prepaid', amount: '-1080' },
    ],
    subtotal: '51080',
    total: '50000',
    ...overrides,
  });
}
