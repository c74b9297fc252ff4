import type { AdjustmentLine, Invoice, InvoiceLine, IssuedInvoice } from '../contracts/invoice.ts';
import { Decimal, formatMoney } from './money.ts';

/** The line kinds whose amounts usage can change; fees and credits are settled on the issued invoice. */
const USAGE_DRIVEN_KINDS: ReadonlySet<InvoiceLine['kind']> = new Set(['usage', 'discount', 'commit_true_up']);

export interface LateAdjustmentInput {
  /** The closed period's final invoice (issued, or skipped as all zero), never changed. */
  readonly corrected: Pick<IssuedInvoice, 'invoice_id' | 'period' | 'currency'>;
  /** The period re-rated as it stood before this adjustment: the invoice's events and the late ones adjusted earlier. */
  readonly before: Invoice;
  /** The same, with the late events this adjustment bills added: same terms, same calculation. */
  readonly after: Invoice;
  /** Why, in words (e.g. "late usage: 3 events of 2026-10 received after its invoice closed"). */
  readonly reason: string;
}

/**
 * The adjustment lines that bill late usage of a closed period (SPEC §5): per usage-driven line,
 * what the period comes to with the late events minus what it came to without them, both rated
 * under the terms and calculation the corrected invoice recorded. So the adjustment is the late
 * usage's effect and nothing else: a reviewer's decision on the invoice, a rate card published
 * since, or the rounding of earlier adjustments never move it. Each line points at the period and
 * invoice it corrects; its key names both, so an invoice holds at most one per line.
 *
 * Example: before usage:tokens-us 600.00, after 612.40 → one line
 * `adjustment:2026-10:usage:tokens-us` of 12.40 correcting 2026-10. Credits are not re-drawn for
 * a correction: the adjustment is billed on its own.
 */
export function lateAdjustmentLines(input: LateAdjustmentInput): AdjustmentLine[] {
  const { corrected } = input;
  const amounts = (invoice: Invoice): Map<string, { amount: Decimal; priceId: string | undefined }> => {
    const byKey = new Map<string, { amount: Decimal; priceId: string | undefined }>();
    for (const line of invoice.lines) {
      if (!USAGE_DRIVEN_KINDS.has(line.kind)) continue;
      const current = byKey.get(line.line_key);
      byKey.set(line.line_key, {
        amount: (current?.amount ?? new Decimal(0)).plus(line.amount),
        priceId: current?.priceId ?? linePriceId(line),
      });
    }
    return byKey;
  };
  const before = amounts(input.before);
  const after = amounts(input.after);
  const lines: AdjustmentLine[] = [];
  for (const key of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const difference = (after.get(key)?.amount ?? new Decimal(0)).minus(before.get(key)?.amount ?? new Decimal(0));
    if (difference.isZero()) continue;
    const priceId = after.get(key)?.priceId ?? before.get(key)?.priceId;
    lines.push({
      kind: 'adjustment',
      line_key: adjustmentLineKey(corrected.period, key),
      corrects_period: corrected.period,
      corrects_invoice_id: corrected.invoice_id,
      ...(priceId === undefined ? {} : { price_id: priceId }),
      reason: input.reason,
      amount: formatMoney(difference, corrected.currency),
    });
  }
  return lines;
}

function adjustmentLineKey(correctedPeriod: string, originalKey: string): string {
  return `adjustment:${correctedPeriod}:${originalKey}`;
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
