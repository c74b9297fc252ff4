import type {
  AdjustmentLine,
  CommitTrueUpLine,
  CreditLine,
  DiscountLine,
  FeeLine,
  InvoiceLine,
  IssuedInvoice,
  UsageLine,
} from '../../contracts/invoice.ts';
import { Decimal, formatMoney, sumDecimals } from '../../domain/money.ts';
import { billingPeriod } from '../../domain/period.ts';

/** A fixed clock for builders: the instant invoices of 2026-10 are issued at. */
const NOW = '2026-11-01T02:00:00.000Z';

export function usageLine(lineKey: string, amount: string, overrides: Partial<UsageLine> = {}): UsageLine {
  return {
    kind: 'usage',
    line_key: lineKey,
    price_id: lineKey,
    sku: 'llm.tokens',
    unit: 'tokens',
    quantity: '1000',
    billable_quantity: '1000',
    amount,
    event_count: 1,
    tiers: [],
    ...overrides,
  };
}

export function feeLine(lineKey: string, amount: string): FeeLine {
  return { kind: 'fee', line_key: lineKey, price_id: lineKey, description: 'Platform fee', amount };
}

export function discountLine(lineKey: string, amount: string): DiscountLine {
  return { kind: 'discount', line_key: lineKey, price_id: lineKey, amount };
}

export function trueUpLine(amount: string, lineKey = 'commit'): CommitTrueUpLine {
  return { kind: 'commit_true_up', line_key: lineKey, amount };
}

export function creditLine(creditId: string, creditKind: CreditLine['credit_kind'], amount: string): CreditLine {
  return { kind: 'credit', line_key: `credit:${creditId}`, credit_id: creditId, credit_kind: creditKind, amount };
}

export function adjustmentLine(
  lineKey: string,
  correctsPeriod: string,
  amount: string,
  overrides: Partial<AdjustmentLine> = {},
): AdjustmentLine {
  return {
    kind: 'adjustment',
    line_key: lineKey,
    corrects_period: correctsPeriod,
    corrects_invoice_id: `inv-acme-${correctsPeriod}`,
    reason: 'late usage',
    amount,
    ...overrides,
  };
}

/**
 * An issued invoice for `acme`, 2026-10, USD, whose subtotal (lines before credits) and total
 * (all lines) are computed from the lines, so a test states only what it is about.
 */
export function issuedInvoice(lines: readonly InvoiceLine[], overrides: Partial<IssuedInvoice> = {}): IssuedInvoice {
  const periodName = overrides.period ?? '2026-10';
  const period = billingPeriod(periodName);
  const currency = overrides.currency ?? 'USD';
  const sum = (selected: readonly InvoiceLine[]): string =>
    formatMoney(sumDecimals(selected.map((line) => new Decimal(line.amount))), currency);
  const customerId = overrides.customer_id ?? 'acme';
  return {
    customer_id: customerId,
    period: periodName,
    currency,
    period_start: period.start,
    period_end: period.end,
    lines: [...lines],
    subtotal: sum(lines.filter((line) => line.kind !== 'credit')),
    total: sum(lines),
    unpriced: [],
    events: { read: 0, duplicates: 0, outside_period: 0 },
    ratecard_versions: [{ ratecard: 'standard', effective_from: '2026-10-01T00:00:00Z', content_hash: 'sha256:test' }],
    calculation_version: 'calc-v1',
    invoice_id: `inv-${customerId}-${periodName}`,
    invoice_number: `INV-${periodName}`,
    issued_at: NOW,
    event_cutoff: NOW,
    event_fingerprint: 'sha256:events',
    ...overrides,
  };
}
