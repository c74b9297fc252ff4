import type { IssuedInvoice, UsageLine } from '../../contracts/invoice.ts';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import type { ReconciliationDifference } from '../../contracts/review-exception.ts';
import { tieOutUsageRevenue } from '../journal/index.ts';
import { Decimal, describeMoney, formatMoney } from '../money.ts';

/** Where along usage → invoice → revenue → GL a difference is. */
export type { ReconciliationDifference } from '../../contracts/review-exception.ts';

export interface ReconciliationInvoice {
  readonly invoice: IssuedInvoice;
  /** The invoice's stored event set rated again under the terms it recorded: its usage lines. */
  readonly meteredUsage: readonly UsageLine[];
}

export interface ReconciliationInput {
  readonly period: string;
  /** The period's issued invoices. */
  readonly invoices: readonly ReconciliationInvoice[];
  /** Later issued invoices whose adjustment lines correct the period. */
  readonly adjustingInvoices: readonly IssuedInvoice[];
  /** Every journal entry of those invoices. */
  readonly entries: readonly JournalEntry[];
  /** The trial balance's totals through the period: Σ debit − Σ credit per currency. */
  readonly glDifferences: readonly { readonly currency: string; readonly difference: string }[];
}

/** One usage line along the chain: metered quantity × rate, the invoice line, the usage revenue posted for it. */
interface ReconciliationRow {
  readonly customer_id: string;
  readonly invoice_id: string;
  readonly price_id: string;
  readonly sku: string;
  readonly currency: string;
  readonly metered_quantity: string;
  readonly invoiced_quantity: string;
  readonly metered: string;
  readonly invoiced: string;
  readonly recognized: string;
}

export interface Reconciliation {
  readonly period: string;
  readonly rows: readonly ReconciliationRow[];
  readonly differences: readonly ReconciliationDifference[];
}

/**
 * The tie-out of a period (SPEC §11) per customer, SKU and currency: the invoice's event set rated
 * again (metered quantity × rate) against its usage lines; the invoice lines against the journal
 * (domain/journal's tie-out, per currency); the ledger's balance per currency. Every difference
 * carries both sides and a reason.
 */
export function reconcilePeriod(input: ReconciliationInput): Reconciliation {
  const rows: ReconciliationRow[] = [];
  const differences: ReconciliationDifference[] = [];
  const recognizedByLine = new Map<string, Decimal>();
  for (const entry of input.entries) {
    if (entry.invoice_id === null || (entry.entry_type !== 'usage_rated' && entry.entry_type !== 'adjustment_posted'))
      continue;
    for (const line of entry.lines) {
      if (line.account !== 'usage_revenue' || line.source_line_key === null) continue;
      const key = `${entry.invoice_id}\u0000${line.source_line_key}`;
      recognizedByLine.set(key, (recognizedByLine.get(key) ?? new Decimal(0)).plus(line.credit).minus(line.debit));
    }
  }

  for (const { invoice, meteredUsage } of input.invoices) {
    const money = (value: Decimal): string => formatMoney(value, invoice.currency);
    const invoiced = invoice.lines.filter((line): line is UsageLine => line.kind === 'usage');
    const keys = [...new Set([...invoiced, ...meteredUsage].map((line) => line.line_key))].sort();
    for (const lineKey of keys) {
      const billed = invoiced.find((line) => line.line_key === lineKey);
      const metered = meteredUsage.find((line) => line.line_key === lineKey);
      const reference = billed ?? metered;
      if (reference === undefined) continue;
      const row: ReconciliationRow = {
        customer_id: invoice.customer_id,
        invoice_id: invoice.invoice_id,
        price_id: reference.price_id,
        sku: reference.sku,
        currency: invoice.currency,
        metered_quantity: metered?.quantity ?? '0',
        invoiced_quantity: billed?.quantity ?? '0',
        metered: money(new Decimal(metered?.amount ?? 0)),
        invoiced: money(new Decimal(billed?.amount ?? 0)),
        recognized: money(recognizedByLine.get(`${invoice.invoice_id}\u0000${lineKey}`) ?? new Decimal(0)),
      };
      rows.push(row);
      if (row.metered !== row.invoiced || !new Decimal(row.metered_quantity).eq(row.invoiced_quantity)) {
        differences.push({
          stage: 'metered_to_invoice',
          reason:
            billed === undefined
              ? 'metered_not_invoiced'
              : metered === undefined
                ? 'invoiced_not_metered'
                : 'rated_amount_mismatch',
          customer_id: invoice.customer_id,
          invoice_id: invoice.invoice_id,
          line_key: lineKey,
          sku: row.sku,
          currency: row.currency,
          expected: `${row.metered_quantity} → ${row.metered}`,
          actual: `${row.invoiced_quantity} → ${row.invoiced}`,
          detail: `${invoice.customer_id} ${row.sku} (${lineKey}): the stored events rate to ${describeMoney(row.metered, invoice.currency)} for ${row.metered_quantity}, invoice ${invoice.invoice_id} bills ${describeMoney(row.invoiced, invoice.currency)} for ${row.invoiced_quantity}`,
        });
      }
    }
  }

  const currencies = [...new Set(input.invoices.map(({ invoice }) => invoice.currency))].sort();
  for (const currency of currencies) {
    const invoices = [...input.invoices.map(({ invoice }) => invoice), ...input.adjustingInvoices].filter(
      (invoice) => invoice.currency === currency,
    );
    const ids = new Set(invoices.map((invoice) => invoice.invoice_id));
    const tieOut = tieOutUsageRevenue({
      period: input.period,
      invoices,
      entries: input.entries.filter((entry) => entry.invoice_id !== null && ids.has(entry.invoice_id)),
    });
    for (const difference of tieOut.differences) {
      const invoice = invoices.find((candidate) => candidate.invoice_id === difference.invoice_id);
      differences.push({
        stage: 'invoice_to_revenue',
        reason: difference.reason,
        customer_id: invoice?.customer_id ?? null,
        invoice_id: difference.invoice_id,
        line_key: difference.line_key,
        sku: null,
        currency,
        expected: difference.expected,
        actual: difference.actual,
        detail: difference.detail,
      });
    }
  }

  for (const total of input.glDifferences) {
    if (new Decimal(total.difference).isZero()) continue;
    differences.push({
      stage: 'revenue_to_gl',
      reason: 'ledger_unbalanced',
      customer_id: null,
      invoice_id: null,
      line_key: null,
      sku: null,
      currency: total.currency,
      expected: formatMoney(new Decimal(0), total.currency),
      actual: total.difference,
      detail: `the ledger through ${input.period} does not balance in ${total.currency}: debits − credits = ${describeMoney(total.difference, total.currency)}`,
    });
  }
  return { period: input.period, rows, differences };
}
