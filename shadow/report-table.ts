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
      table(
        customer.lines.map((line) => ({
          key: line.key,
          status: line.status,
          'legacy qty': line.legacy_quantity ?? '',
          'tally qty': line.new_quantity ?? '',
          legacy: line.legacy_amount ?? '',
          tally: line.new_amount ?? '',
          delta: line.delta ?? '',
          'qty effect': line.quantity_effect ?? '',
          'price effect': line.price_effect ?? '',
          cause:
            line.cause === undefined
              ? ''
              : `${line.cause}${line.cause_detail === undefined ? '' : `: ${line.cause_detail}`}`,
        })),
        ['key', 'status', 'legacy qty', 'tally qty', 'legacy', 'tally', 'delta', 'qty effect', 'price effect', 'cause'],
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
