import { displayMoney } from '../domain/money.ts';
import { recordTable } from '../views/text-table.ts';
import type { CustomerComparison, ShadowReport } from '../domain/shadow/index.ts';

/** Per customer: status, totals, variance and exception; with `lines`, each customer's line diff below it. */
export function formatShadowReport(
  report: Pick<ShadowReport, 'summary'> & { customers: readonly (CustomerComparison & { exception_state?: string })[] },
  lines: boolean,
): string {
  const out: string[] = [];
  const table = (rows: Record<string, string>[], columns: string[]) => {
    out.push(recordTable(rows, columns).trimEnd());
  };
  table(
    report.customers.map((customer) => ({
      customer: customer.customer_id,
      status: customer.status,
      currency:
        customer.legacy_currency === undefined ? customer.currency : `${customer.legacy_currency}→${customer.currency}`,
      legacy: customer.legacy_total,
      tally: customer.new_total,
      variance: customer.variance ?? '—',
      'variance %': customer.variance_pct ?? '—',
      exception: customer.exception ? (customer.exception_state ?? 'yes') : '',
    })),
    ['customer', 'status', 'currency', 'legacy', 'tally', 'variance', 'variance %', 'exception'],
  );
  if (lines) {
    for (const customer of report.customers) {
      out.push('', `${customer.customer_id}: ${customer.exception_reasons.join('; ') || 'within tolerance'}`);
      // One customer's lines: the legacy side in the legacy biller's currency, the rest in Tally's,
      // each named in its column's heading (the legacy one differs only when the biller's does).
      const legacyCurrency = customer.legacy_currency ?? customer.currency;
      const [legacy, tally, delta, quantityEffect, priceEffect] = [
        `legacy ${legacyCurrency}`,
        `tally ${customer.currency}`,
        `delta ${customer.currency}`,
        `qty effect ${customer.currency}`,
        `price effect ${customer.currency}`,
      ] as const;
      const money = (amount: string | undefined, currency: string): string =>
        amount === undefined ? '' : displayMoney(amount, currency);
      table(
        customer.lines.map((line) => ({
          key: line.key,
          status: line.status,
          'legacy qty': line.legacy_quantity ?? '',
          'tally qty': line.new_quantity ?? '',
          [legacy]: money(line.legacy_amount, legacyCurrency),
          [tally]: money(line.new_amount, customer.currency),
          [delta]: money(line.delta, customer.currency),
          [quantityEffect]: money(line.quantity_effect, customer.currency),
          [priceEffect]: money(line.price_effect, customer.currency),
          cause:
            line.cause === undefined
              ? ''
              : `${line.cause}${line.cause_detail === undefined ? '' : `: ${line.cause_detail}`}`,
        })),
        ['key', 'status', 'legacy qty', 'tally qty', legacy, tally, delta, quantityEffect, priceEffect, 'cause'],
      );
    }
  }
  const { summary } = report;
  out.push(
    '',
    `match ${summary.match}, diff ${summary.diff}, only_legacy ${summary.only_legacy}, only_new ${summary.only_new}; exceptions ${summary.exceptions}`,
  );
  return `${out.join('\n')}\n`;
}
