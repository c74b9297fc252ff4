import type { CostVersion } from '../../contracts/costs.ts';
import { Decimal, formatMoney, roundMoneyHalfUp } from '../money.ts';
import { costVersionAt, unitCostFor } from './unit-costs.ts';

/**
 * Gross margin (SPEC §10) = usage and fee revenue − quantity × unit cost, by SKU, product, customer
 * and period, from issued invoices. Revenue per SKU is its usage lines; fees, discounts, commit
 * true-ups and adjustments count in the customer's and the total's revenue (they have no SKU and no
 * cost); credits are a means of payment, not a price, and are left out. COGS of a row is rounded
 * half-up to the currency's minor unit once, at the row (the named rounding point). A usage line whose
 * SKU has no cost in the invoice's currency is counted as uncosted: its revenue is shown, its margin
 * is not claimed (`uncosted_revenue`).
 */

interface MarginUsageLine {
  readonly sku: string;
  readonly unit: string;
  /** Raw quantity in the price's unit (the line's `quantity`, before packaging). */
  readonly quantity: string;
  readonly amount: string;
  /** The dimensions of the price that rated the line (matched against cost entries' dimensions). */
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface MarginInvoice {
  readonly customer_id: string;
  readonly period: string;
  /** The instant the period starts (UTC ISO): the cost version in force then prices the period. */
  readonly period_start: string;
  readonly currency: string;
  readonly usage: readonly MarginUsageLine[];
  /** Fee, discount, commit true-up and adjustment amounts (signed decimal strings). */
  readonly other_revenue: readonly string[];
}

export type MarginDimension = 'sku' | 'product' | 'customer' | 'total';

export interface MarginRow {
  readonly by: MarginDimension;
  /** The SKU, product, customer id, or `all`. */
  readonly key: string;
  readonly period: string;
  readonly currency: string;
  readonly revenue: string;
  readonly cogs: string;
  readonly margin: string;
  /** margin / costed revenue × 100, one decimal, half-up; null when there is no costed revenue. */
  readonly margin_pct: string | null;
  /** Revenue of usage lines with no unit cost in this currency (not in margin_pct). */
  readonly uncosted_revenue: string;
}

/** A SKU's product: the part of its name before the first dot (`llm.tokens` → `llm`). */
export function productOfSku(sku: string): string {
  const dot = sku.indexOf('.');
  return dot > 0 ? sku.slice(0, dot) : sku;
}

interface Totals {
  revenue: Decimal;
  cogs: Decimal;
  uncosted: Decimal;
}

export function computeMargins(invoices: readonly MarginInvoice[], costVersions: readonly CostVersion[]): MarginRow[] {
  const groups = new Map<
    string,
    { by: MarginDimension; key: string; period: string; currency: string; totals: Totals }
  >();
  const add = (
    by: MarginDimension,
    key: string,
    invoice: MarginInvoice,
    revenue: Decimal,
    cogs: Decimal,
    uncosted: Decimal,
  ): void => {
    const id = JSON.stringify([by, key, invoice.period, invoice.currency]);
    let group = groups.get(id);
    if (group === undefined) {
      group = {
        by,
        key,
        period: invoice.period,
        currency: invoice.currency,
        totals: { revenue: new Decimal(0), cogs: new Decimal(0), uncosted: new Decimal(0) },
      };
      groups.set(id, group);
    }
    group.totals.revenue = group.totals.revenue.plus(revenue);
    group.totals.cogs = group.totals.cogs.plus(cogs);
    group.totals.uncosted = group.totals.uncosted.plus(uncosted);
  };
  const zero = new Decimal(0);
  for (const invoice of invoices) {
    const version = costVersionAt(costVersions, invoice.period_start);
    for (const line of invoice.usage) {
      const revenue = new Decimal(line.amount);
      const entry =
        version === undefined
          ? undefined
          : unitCostFor(version, {
              sku: line.sku,
              unit: line.unit,
              currency: invoice.currency,
              dimensions: line.dimensions,
            });
      const cogs = entry === undefined ? zero : new Decimal(line.quantity).times(entry.unit_cost);
      const uncosted = entry === undefined ? revenue : zero;
      add('sku', line.sku, invoice, revenue, cogs, uncosted);
      add('product', productOfSku(line.sku), invoice, revenue, cogs, uncosted);
      add('customer', invoice.customer_id, invoice, revenue, cogs, uncosted);
      add('total', 'all', invoice, revenue, cogs, uncosted);
    }
    for (const amount of invoice.other_revenue) {
      add('customer', invoice.customer_id, invoice, new Decimal(amount), zero, zero);
      add('total', 'all', invoice, new Decimal(amount), zero, zero);
    }
  }
  const order: Record<MarginDimension, number> = { sku: 0, product: 1, customer: 2, total: 3 };
  return [...groups.values()]
    .sort(
      (a, b) =>
        order[a.by] - order[b.by] ||
        compareText(a.period, b.period) ||
        compareText(a.currency, b.currency) ||
        compareText(a.key, b.key),
    )
    .map((group) => {
      const cogs = roundMoneyHalfUp(group.totals.cogs, group.currency);
      const costedRevenue = group.totals.revenue.minus(group.totals.uncosted);
      const margin = costedRevenue.minus(cogs);
      return {
        by: group.by,
        key: group.key,
        period: group.period,
        currency: group.currency,
        revenue: formatMoney(group.totals.revenue, group.currency),
        cogs: formatMoney(cogs, group.currency),
        margin: formatMoney(margin, group.currency),
        margin_pct: costedRevenue.isZero() ? null : formatPercent(margin.dividedBy(costedRevenue).times(100)),
        uncosted_revenue: formatMoney(group.totals.uncosted, group.currency),
      };
    });
}

function formatPercent(value: Decimal): string {
  const rounded = value.toDecimalPlaces(1, Decimal.ROUND_HALF_UP);
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed of an already-rounded decimal; no float involved
  return (rounded.isZero() ? new Decimal(0) : rounded).toFixed(1);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
