import type { Invoice, InvoiceLine } from '../contracts/invoice.ts';
import { assertNever } from '../domain/assert-never.ts';

/** The invoice as a person reads it: one row per line, the tier breakdown under each usage line. */
export function formatInvoiceTable(invoice: Invoice, extra: { otherCustomers?: number } = {}): string {
  const out: string[] = [];
  out.push(
    `Invoice for ${invoice.customer_id}, period ${invoice.period} (${day(invoice.period_start)} to ${day(invoice.period_end)}, UTC), ${invoice.currency}`,
  );
  if (invoice.ratecard_versions.length > 0) {
    const first = invoice.ratecard_versions[0];
    out.push(
      `Rate card ${first?.ratecard ?? ''}: ${invoice.ratecard_versions.map((version) => `version ${instant(version.effective_from)} (sha256 ${version.content_hash.slice(0, 12)})`).join(', ')}`,
    );
  }
  out.push('');
  const rows: string[][] = [['LINE', 'ID', 'QUANTITY', 'BILLABLE', 'AMOUNT']];
  const details = new Map<number, string[]>();
  for (const line of invoice.lines) {
    rows.push(lineRow(line));
    if (line.kind === 'usage' && line.tiers.length > 0) {
      details.set(
        rows.length - 1,
        line.tiers.map((tier) => {
          const flat = tier.flat_fee !== undefined ? ` + flat fee ${tier.flat_fee}` : '';
          const version = tier.effective_from !== undefined ? `   [version ${instant(tier.effective_from)}]` : '';
          return `      tier ${tier.tier}: ${tier.quantity} × ${tier.unit_price}${flat} = ${tier.amount}${version}`;
        }),
      );
    }
  }
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  rows.forEach((row, index) => {
    out.push(
      row
        .map((cell, column) =>
          column === row.length - 1 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
        )
        .join('  ')
        .trimEnd(),
    );
    out.push(...(details.get(index) ?? []));
  });
  const tableWidth = widths.reduce((total, width) => total + width + 2, -2);
  out.push('-'.repeat(tableWidth));
  out.push(`${'SUBTOTAL'.padEnd(tableWidth - invoice.subtotal.length)}${invoice.subtotal}`);
  out.push(`${`TOTAL ${invoice.currency}`.padEnd(tableWidth - invoice.total.length)}${invoice.total}`);
  if (invoice.unpriced.length > 0) {
    out.push('', 'UNPRICED USAGE (reported, not billed; add a price or fix the events):');
    for (const entry of invoice.unpriced) {
      out.push(
        `  ${entry.sku} (${entry.unit}): ${entry.event_count} event${entry.event_count === 1 ? '' : 's'}${entry.quantity !== undefined ? `, quantity ${entry.quantity}` : ''}${entry.reason !== undefined ? ` — ${describeReason(entry.reason)}` : ''}`,
      );
    }
  }
  out.push(
    '',
    `Events: ${invoice.events.read} read, ${invoice.events.duplicates} duplicate${invoice.events.duplicates === 1 ? '' : 's'}, ${invoice.events.outside_period} outside the period${
      extra.otherCustomers ? `; ${extra.otherCustomers} of other customers skipped` : ''
    }`,
  );
  out.push(`Calculation version ${invoice.calculation_version}`);
  return `${out.join('\n')}\n`;
}

function lineRow(line: InvoiceLine): string[] {
  switch (line.kind) {
    case 'usage':
      return [
        'usage',
        line.price_id,
        `${line.quantity} ${line.unit} (${line.event_count} event${line.event_count === 1 ? '' : 's'})`,
        line.billable_quantity,
        line.amount,
      ];
    case 'fee':
      return [
        'fee',
        line.price_id,
        line.description + (line.proration !== undefined ? ` (prorated ${line.proration})` : ''),
        '',
        line.amount,
      ];
    case 'discount':
      return ['discount', line.price_id, line.description ?? '', '', line.amount];
    case 'commit_true_up':
      return [
        'commit true-up',
        '',
        line.commit !== undefined
          ? `commit ${line.commit}${line.proration !== undefined ? ` (prorated ${line.proration})` : ''}`
          : '',
        '',
        line.amount,
      ];
    case 'credit':
      return ['credit', line.credit_id, line.credit_kind, '', line.amount];
    case 'adjustment':
      return ['adjustment', line.price_id ?? '', `corrects ${line.corrects_period}: ${line.reason}`, '', line.amount];
    default:
      return assertNever(line, 'invoice line');
  }
}

function describeReason(reason: string): string {
  switch (reason) {
    case 'no_matching_price':
      return 'no price matches this sku, unit and metadata';
    case 'unit_mismatch':
      return 'the sku is priced in another unit';
    case 'no_ratecard_version':
      return 'no rate-card version was in force yet';
    default:
      return reason;
  }
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

function instant(iso: string): string {
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
}
