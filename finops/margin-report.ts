import type pg from 'pg';
import { loadCostVersions } from '../config/cost-files.ts';
import { loadRateCard } from '../config/config-files.ts';
import type { Invoice } from '../contracts/invoice.ts';
import { issuedInvoicesOfPeriod } from '../db/queries/finops.ts';
import { computeMargins, type MarginInvoice, type MarginRow } from '../domain/costs/margin.ts';

export interface MarginReportOptions {
  readonly period: string;
  readonly costsDir: string;
  /** Rate cards, to find the dimensions of the price that rated each usage line. */
  readonly ratecardsDir: string;
}

export interface MarginReport {
  readonly period: string;
  readonly invoices: number;
  readonly rows: MarginRow[];
  /** Rate cards named by an invoice that are not under ratecardsDir: their lines match dimensionless costs only. */
  readonly missingRatecards: string[];
}

/**
 * `tally margin`: the issued invoices of a period and the unit costs in force at its start. A usage
 * line's dimensions are its price's (the invoice names the rate card versions it was rated under).
 */
export async function marginReport(pool: pg.Pool, options: MarginReportOptions): Promise<MarginReport> {
  const costVersions = await loadCostVersions(options.costsDir);
  const invoices = await issuedInvoicesOfPeriod(pool, options.period);
  const priceDimensions = new Map<string, Map<string, Readonly<Record<string, string>>>>();
  const missingRatecards = new Set<string>();
  for (const name of new Set(invoices.flatMap((invoice) => invoice.ratecard_versions.map((ref) => ref.ratecard)))) {
    try {
      const versions = await loadRateCard(options.ratecardsDir, name);
      const prices = new Map<string, Readonly<Record<string, string>>>();
      for (const version of versions) for (const price of version.prices) prices.set(price.id, price.dimensions);
      priceDimensions.set(name, prices);
    } catch {
      missingRatecards.add(name);
    }
  }
  const marginInvoices = invoices.map((invoice) => toMarginInvoice(invoice, priceDimensions));
  return {
    period: options.period,
    invoices: invoices.length,
    rows: computeMargins(marginInvoices, costVersions),
    missingRatecards: [...missingRatecards].sort(),
  };
}

/** An invoice (issued, or a draft a simulation rated) as the margin reads it. */
export function toMarginInvoice(
  invoice: Invoice,
  priceDimensions: ReadonlyMap<string, ReadonlyMap<string, Readonly<Record<string, string>>>>,
): MarginInvoice {
  const cards = invoice.ratecard_versions.map((ref) => priceDimensions.get(ref.ratecard));
  const dimensionsOf = (priceId: string): Readonly<Record<string, string>> => {
    for (const card of cards) {
      const found = card?.get(priceId);
      if (found !== undefined) return found;
    }
    return {};
  };
  const usage: MarginInvoice['usage'][number][] = [];
  const otherRevenue: string[] = [];
  for (const line of invoice.lines) {
    switch (line.kind) {
      case 'usage':
        usage.push({
          sku: line.sku,
          unit: line.unit,
          quantity: line.quantity,
          amount: line.amount,
          dimensions: dimensionsOf(line.price_id),
        });
        break;
      case 'fee':
      case 'discount':
      case 'commit_true_up':
      case 'adjustment':
        otherRevenue.push(line.amount);
        break;
      case 'credit':
        // A means of payment, not a price: not revenue here.
        break;
    }
  }
  return {
    customer_id: invoice.customer_id,
    period: invoice.period,
    period_start: invoice.period_start,
    currency: invoice.currency,
    usage,
    other_revenue: otherRevenue,
  };
}
