import type { LegacyLine } from '../../domain/shadow/index.ts';

/** A legacy biller's export as `tally shadow import` reads it: a header, then one row a line. */
export function legacyLinesToCsv(lines: readonly LegacyLine[]): string {
  const rows = lines.map((line) =>
    [line.customer_id, line.period, line.price_id, line.quantity ?? '', line.amount, line.currency].join(','),
  );
  return ['customer_id,period,price_id,quantity,amount,currency', ...rows].join('\n') + '\n';
}
