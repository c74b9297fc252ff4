import type { AdjustmentLine, Invoice, InvoiceLine, IssuedInvoice } from '../contracts/invoice.ts';
import { Decimal, formatMoney } from './money.ts';

/** The line kinds whose amounts usage can change; fees and credits are settled on the issued invoice. */
const USAGE_DRIVEN_KINDS: ReadonlySet<InvoiceLine['kind']> = new Set(['usage', 'discount', 'commit_true_up']);

export interface LateAdjustmentInput {
  /** The closed period's issued invoice, never changed. */
  readonly corrected: IssuedInvoice;
  /** The same period re-rated with the late events included. */
  readonly rerated: Invoice;
  /** Adjustment lines for the same corrected invoice already issued on earlier invoices. */
  readonly earlierAdjustments: readonly AdjustmentLine[];
  /** Why, in words (e.g. "3 late events received after 2026-11-01T01:00:00.000Z"). */
  readonly reason: string;
}

/**
 * The adjustment lines that bring a closed period to its re-rated amounts (SPEC §5): per usage-driven
 * line, re-rated − (issued + earlier adjustments), where that is not zero. Each line points at the
 * period and invoice it corrects; its key names both, so an invoice holds at most one per line.
 *
 * Example: issued usage:tokens-us 600.00, re-rated 612.40, no earlier adjustment →
 * one line `adjustment:2026-10:usage:tokens-us` of 12.40 correcting 2026-10.
 * Credits are not re-drawn for a correction: the adjustment is billed on its own.
 */
export function lateAdjustmentLines(input: LateAdjustmentInput): AdjustmentLine[] {
  const { corrected, rerated } = input;
  const currency = corrected.currency;
  const billed = new Map<string, { amount: Decimal; priceId: string | undefined }>();
  const add = (key: string, amount: Decimal, priceId: string | undefined) => {
    const current = billed.get(key);
    billed.set(key, { amount: (current?.amount ?? new Decimal(0)).plus(amount), priceId: current?.priceId ?? priceId });
  };
  for (const line of corrected.lines) {
    if (USAGE_DRIVEN_KINDS.has(line.kind)) add(line.line_key, new Decimal(line.amount), linePriceId(line));
  }
  for (const adjustment of input.earlierAdjustments) {
    add(originalLineKey(adjustment.line_key, corrected.period), new Decimal(adjustment.amount), adjustment.price_id);
  }
  const target = new Map<string, { amount: Decimal; priceId: string | undefined }>();
  for (const line of rerated.lines) {
    if (USAGE_DRIVEN_KINDS.has(line.kind))
      target.set(line.line_key, { amount: new Decimal(line.amount), priceId: linePriceId(line) });
  }
  const keys = [...new Set([...billed.keys(), ...target.keys()])].sort();
  const lines: AdjustmentLine[] = [];
  for (const key of keys) {
    const difference = (target.get(key)?.amount ?? new Decimal(0)).minus(billed.get(key)?.amount ?? new Decimal(0));
    if (difference.isZero()) continue;
    const priceId = target.get(key)?.priceId ?? billed.get(key)?.priceId;
    lines.push({
      kind: 'adjustment',
      line_key: adjustmentLineKey(corrected.period, key),
      corrects_period: corrected.period,
      corrects_invoice_id: corrected.invoice_id,
      ...(priceId === undefined ? {} : { price_id: priceId }),
      reason: input.reason,
      amount: formatMoney(difference, currency),
    });
  }
  return lines;
}

export function adjustmentLineKey(correctedPeriod: string, originalKey: string): string {
  return `adjustment:${correctedPeriod}:${originalKey}`;
}

function originalLineKey(adjustmentKey: string, correctedPeriod: string): string {
  const prefix = `adjustment:${correctedPeriod}:`;
  return adjustmentKey.startsWith(prefix) ? adjustmentKey.slice(prefix.length) : adjustmentKey;
}

function linePriceId(line: InvoiceLine): string | undefined {
  return 'price_id' in line ? line.price_id : undefined;
}

/**
 * Adds lines that sit after credits (adjustments, review adjustments) to an invoice: they change the
 * total, not the subtotal credits were drawn against, so a correction is never absorbed silently.
 */
export function appendLinesAfterCredits(invoice: Invoice, lines: readonly AdjustmentLine[]): Invoice {
  if (lines.length === 0) return invoice;
  const total = lines.reduce((sum, line) => sum.plus(line.amount), new Decimal(invoice.total));
  return { ...invoice, lines: [...invoice.lines, ...lines], total: formatMoney(total, invoice.currency) };
}
