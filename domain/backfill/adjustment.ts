import type { AdjustmentLine, InvoiceLine } from '../../contracts/invoice.ts';
import { Decimal, formatMoney, sumDecimals } from '../money.ts';

/** The line kinds whose amounts usage can change; fees and credits are settled on the issued invoice. */
const USAGE_DRIVEN_KINDS: ReadonlySet<InvoiceLine['kind']> = new Set(['usage', 'discount', 'commit_true_up']);

/** Amounts per original line key (a usage-driven line of the corrected invoice), as decimal strings. */
export type LineAmounts = Readonly<Record<string, string>>;

/**
 * The key of a backfill's adjustment line: the late-usage key (`adjustment:<period>:<line key>`)
 * with the backfill named, so a backfill line and a late-usage line for the same line of the same
 * period can sit on one invoice, and an invoice holds at most one line per backfill and line.
 */
export function backfillLineKey(correctedPeriod: string, originalKey: string, backfillId: string): string {
  return `adjustment:${correctedPeriod}:${originalKey}:backfill:${backfillId}`;
}

/**
 * The usage-driven line an adjustment line corrects, or undefined for a line that is not usage
 * (a reviewer's `review_adjustment:` decision is never re-rated away, SPEC §5).
 */
export function originalLineKey(adjustmentKey: string, correctedPeriod: string): string | undefined {
  const prefix = `adjustment:${correctedPeriod}:`;
  if (!adjustmentKey.startsWith(prefix)) return undefined;
  return adjustmentKey.slice(prefix.length).replace(/:backfill:[^:]+$/, '');
}

/** Sums usage-driven lines per line key. */
export function usageDrivenAmounts(lines: readonly InvoiceLine[]): Map<string, Decimal> {
  const amounts = new Map<string, Decimal>();
  for (const line of lines) {
    if (!USAGE_DRIVEN_KINDS.has(line.kind)) continue;
    amounts.set(line.line_key, (amounts.get(line.line_key) ?? new Decimal(0)).plus(line.amount));
  }
  return amounts;
}

/**
 * What a closed period's usage-driven lines have come to so far: the corrected invoice's own lines
 * plus every adjustment of them since (late usage, earlier backfills), per original line key. A
 * reviewer's adjustment is a decision, not usage: it is not counted, so no backfill reverses it.
 *
 * Example: issued `usage:tokens` 600.00, a late-usage line `adjustment:2026-10:usage:tokens` 12.40
 * and a backfill line `adjustment:2026-10:usage:tokens:backfill:bf_1` −30.00 → `usage:tokens` 582.40.
 */
export function billedSoFar(input: {
  readonly correctedPeriod: string;
  readonly correctedLines: readonly InvoiceLine[];
  readonly adjustments: readonly Pick<AdjustmentLine, 'line_key' | 'amount'>[];
}): LineAmounts {
  const amounts = usageDrivenAmounts(input.correctedLines);
  for (const line of input.adjustments) {
    const key = originalLineKey(line.line_key, input.correctedPeriod);
    if (key === undefined) continue;
    amounts.set(key, (amounts.get(key) ?? new Decimal(0)).plus(line.amount));
  }
  return toLineAmounts(amounts);
}

export function toLineAmounts(amounts: ReadonlyMap<string, Decimal>): LineAmounts {
  const result: Record<string, string> = {};
  for (const key of [...amounts.keys()].sort()) result[key] = (amounts.get(key) as Decimal).toString();
  return result;
}

export interface BackfillDifference {
  readonly originalKey: string;
  /** Money, rounded to the currency (half up). */
  readonly amount: string;
}

/**
 * The adjustment a backfill makes to one customer-period: per original line key, the re-rated
 * amount minus what was billed so far (issued + every earlier adjustment), zero differences left
 * out. Both sides are sums of money lines, so the difference is exact; it is formatted to the
 * currency's minor units.
 *
 * Example: billed {usage:tokens 1300.00}, re-rated {usage:tokens 1250.00, usage:images 4.00} →
 * usage:images +4.00, usage:tokens −50.00.
 */
export function backfillDifferences(billed: LineAmounts, rerated: LineAmounts, currency: string): BackfillDifference[] {
  const differences: BackfillDifference[] = [];
  for (const key of [...new Set([...Object.keys(billed), ...Object.keys(rerated)])].sort()) {
    const difference = new Decimal(rerated[key] ?? '0').minus(billed[key] ?? '0');
    if (difference.isZero()) continue;
    differences.push({ originalKey: key, amount: formatMoney(difference, currency) });
  }
  return differences;
}

export function totalOf(amounts: LineAmounts | readonly BackfillDifference[], currency: string): string {
  const values = Array.isArray(amounts)
    ? (amounts as readonly BackfillDifference[]).map((difference) => new Decimal(difference.amount))
    : Object.values(amounts as LineAmounts).map((amount) => new Decimal(amount));
  return formatMoney(sumDecimals(values), currency);
}

/** The invoice line for one difference, pointing at the period and invoice it corrects. */
export function backfillAdjustmentLine(input: {
  readonly backfillId: string;
  readonly correctedPeriod: string;
  readonly correctedInvoiceId: string;
  readonly difference: BackfillDifference;
  readonly reason: string;
}): AdjustmentLine {
  return {
    kind: 'adjustment',
    line_key: backfillLineKey(input.correctedPeriod, input.difference.originalKey, input.backfillId),
    corrects_period: input.correctedPeriod,
    corrects_invoice_id: input.correctedInvoiceId,
    reason: input.reason,
    amount: input.difference.amount,
  };
}
