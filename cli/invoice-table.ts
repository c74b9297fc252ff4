import type { AdjustmentLine, Invoice, InvoiceLine, UsageLine } from '../contracts/invoice.ts';
import { assertNever } from '../domain/assert-never.ts';
import { originalLineKey } from '../domain/backfill/adjustment.ts';
import { describeMoney } from '../domain/money.ts';
import { textTable } from '../views/text-table.ts';

/**
 * The invoice as a person reads it, in the order its total is built (SPEC §2 rule 10): the charges
 * (usage with its tiers, fees, discounts, the commit true-up), the SUBTOTAL, the credits drawn
 * against it, the adjustments (each naming the line and period it corrects), then the TOTAL.
 * Quantities carry their unit; a usage line priced by two rate-card versions names them. Every
 * amount names the invoice's currency: the AMOUNT column in its heading (`AMOUNT USD`), a tier's
 * unit price, flat fee and amount and a commit on the figure (`0.0015 USD`: padded, never rounded).
 * `heading` replaces the first line (an issued invoice's number and dates).
 */
export function formatInvoiceTable(
  invoice: Invoice,
  extra: { otherCustomers?: number; heading?: readonly string[] } = {},
): string {
  const out: string[] = [
    ...(extra.heading ?? [`Invoice for ${invoice.customer_id}`]),
    `Customer ${invoice.customer_id}, period ${invoice.period} (${day(invoice.period_start)} to ${lastDay(invoice.period_end)}, UTC), ${invoice.currency}`,
  ];
  if (invoice.ratecard_versions.length > 0) {
    const first = invoice.ratecard_versions[0];
    out.push(
      `Rate card ${first?.ratecard ?? ''}: ${invoice.ratecard_versions.map((version) => `version ${instant(version.effective_from)} (sha256 ${version.content_hash.slice(0, 12)})`).join(', ')}`,
    );
  }
  out.push('');
  const charges = invoice.lines.filter((line) => line.kind !== 'credit' && line.kind !== 'adjustment');
  const credits = invoice.lines.filter((line) => line.kind === 'credit');
  const adjustments = invoice.lines.filter((line) => line.kind === 'adjustment');
  const rows: string[][] = [];
  /** Lines printed under a row (its tiers, its versions), kept out of the columns so they stay narrow. */
  const details = new Map<number, string[]>();
  for (const line of charges) {
    rows.push(lineRow(line, invoice));
    details.set(rows.length - 1, detailLines(line, invoice.currency));
  }
  rows.push(['', '', '', '', ''], ['SUBTOTAL', '', '', '', invoice.subtotal]);
  for (const line of [...credits, ...adjustments]) {
    rows.push(lineRow(line, invoice));
    if (line.kind === 'adjustment') details.set(rows.length - 1, [`      ${adjustmentDetail(line, invoice)}`]);
  }
  rows.push([`TOTAL ${invoice.currency}`, '', '', '', invoice.total]);
  const [header = '', ...rendered] = textTable(
    ['LINE', 'ID', 'QUANTITY', 'BILLABLE', `AMOUNT ${invoice.currency}`],
    rows,
    {
      rightAligned: [4],
    },
  )
    .trimEnd()
    .split('\n');
  out.push(header);
  rendered.forEach((text, index) => out.push(text, ...(details.get(index) ?? [])));
  if (invoice.unpriced.length > 0) {
    out.push('', 'UNPRICED USAGE (reported, not billed; add a price or fix the events):');
    for (const entry of invoice.unpriced) {
      out.push(
        `  ${entry.sku} (${entry.unit}): ${entry.event_count} event${entry.event_count === 1 ? '' : 's'}${entry.quantity !== undefined ? `, quantity ${entry.quantity} ${entry.unit}` : ''}${entry.reason !== undefined ? ` — ${describeReason(entry.reason)}` : ''}`,
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

function lineRow(line: InvoiceLine, invoice: Invoice): string[] {
  switch (line.kind) {
    case 'usage':
      return [
        'usage',
        line.price_id,
        `${line.quantity} ${line.unit} (${line.event_count} event${line.event_count === 1 ? '' : 's'})`,
        billable(line),
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
          ? `commit ${describeMoney(line.commit, invoice.currency)}${line.proration !== undefined ? ` (prorated ${line.proration})` : ''}`
          : '',
        '',
        line.amount,
      ];
    case 'credit':
      return ['credit', line.credit_id, `${line.credit_kind} credit`, '', line.amount];
    case 'adjustment':
      return ['adjustment', line.price_id ?? '', adjusts(line, invoice), '', line.amount];
    default:
      return assertNever(line, 'invoice line');
  }
}

/** The line an adjustment corrects and its period, short enough for the table's column. */
function adjusts(line: AdjustmentLine, invoice: Invoice): string {
  const original = originalLineKey(line.line_key, line.corrects_period);
  if (original === undefined && line.corrects_period === invoice.period) return 'review adjustment';
  return `adjusts ${original ?? 'the invoice'} of ${line.corrects_period}`;
}

/** Under an adjustment: the invoice it corrects (unless this one) and why. */
function adjustmentDetail(line: AdjustmentLine, invoice: Invoice): string {
  const own =
    line.corrects_period === invoice.period && originalLineKey(line.line_key, line.corrects_period) === undefined;
  return own ? line.reason : `corrects invoice ${line.corrects_invoice_id}: ${line.reason}`;
}

/** The billable quantity in its own unit: the event unit, or packages of it when the price packages. */
function billable(line: UsageLine): string {
  return line.billable_quantity === line.quantity
    ? `${line.billable_quantity} ${line.unit}`
    : `${line.billable_quantity} packages`;
}

/** Under a usage line: its tiers, and the rate-card versions that priced it when there are two or more. */
function detailLines(line: InvoiceLine, currency: string): string[] {
  if (line.kind !== 'usage') return [];
  const unit = line.billable_quantity === line.quantity ? line.unit : 'packages';
  const money = (amount: string): string => describeMoney(amount, currency);
  const lines = line.tiers.map((tier) => {
    const flat = tier.flat_fee !== undefined ? ` + flat fee ${money(tier.flat_fee)}` : '';
    const version = tier.effective_from !== undefined ? `   [version ${instant(tier.effective_from)}]` : '';
    return `      tier ${tier.tier}: ${tier.quantity} ${unit} × ${money(tier.unit_price)}${flat} = ${money(tier.amount)}${version}`;
  });
  const versions = [
    ...new Set(line.tiers.flatMap((tier) => (tier.effective_from === undefined ? [] : [tier.effective_from]))),
  ];
  if (versions.length > 1) lines.push(`      priced by rate-card versions ${versions.map(instant).join(' and ')}`);
  return lines;
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

/** The last day a period covers: its end is exclusive (midnight of the next period's first day). */
function lastDay(exclusiveEnd: string): string {
  return new Date(Date.parse(exclusiveEnd) - 1).toISOString().slice(0, 10);
}

/** An instant, as the day alone when it is midnight UTC. */
function instant(iso: string): string {
  return /T00:00:00(\.0+)?Z$/.test(iso) ? iso.slice(0, 10) : iso;
}
