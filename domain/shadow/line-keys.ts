import type { Invoice } from '../../contracts/invoice.ts';
import { Decimal, formatDecimal, formatMoney } from '../money.ts';
import type { TierCharge } from './boundary-causes.ts';
import type { LegacyLine } from './legacy-line.ts';

/**
 * One side's amount (and, for usage, quantity) under one line key of SPEC §6: `usage`, `fee` and
 * `discount` lines by `price_id` (lines of one price summed, e.g. across rate-card versions),
 * `commit_true_up` by that literal, `credit` lines by `credit:<credit_id>`; `adjustment` lines are
 * not compared.
 */
export interface KeyedLine {
  readonly key: string;
  readonly amount: Decimal;
  /** Set for usage lines (Tally) and for legacy lines with a quantity; undefined otherwise. */
  readonly quantity: Decimal | undefined;
  /** A fee line's share of the period (Tally's side, one fee line of the key only). */
  readonly proration?: Decimal | undefined;
  /** A usage line's tiers as billed (Tally's side, one usage line of the key only). */
  readonly tiers?: readonly TierCharge[] | undefined;
}

/** The literal key of the commit true-up line. */
const COMMIT_TRUE_UP_KEY = 'commit_true_up';

/** The line key of a credit line. */
function creditLineKey(creditId: string): string {
  return `credit:${creditId}`;
}

/** Tally's invoice lines summed by line key, in first-seen order (adjustments left out). */
export function keyedInvoiceLines(invoice: Pick<Invoice, 'lines'>): KeyedLine[] {
  const byKey = new Map<
    string,
    {
      amount: Decimal;
      quantity: Decimal | undefined;
      proration?: Decimal | undefined;
      tiers?: readonly TierCharge[] | undefined;
    }
  >();
  for (const line of invoice.lines) {
    let key: string;
    let quantity: Decimal | undefined;
    let proration: Decimal | undefined;
    let tiers: TierCharge[] | undefined;
    switch (line.kind) {
      case 'usage':
        key = line.price_id;
        quantity = new Decimal(line.quantity);
        // One ladder only: tiers of two rate-card versions (a change mid-period) prove no boundary.
        tiers =
          new Set(line.tiers.map((tier) => tier.effective_from)).size > 1
            ? undefined
            : line.tiers.map((tier) => ({
                quantity: new Decimal(tier.quantity),
                unitPrice: new Decimal(tier.unit_price),
              }));
        break;
      case 'fee':
        key = line.price_id;
        proration = line.proration === undefined ? undefined : new Decimal(line.proration);
        break;
      case 'discount':
        key = line.price_id;
        break;
      case 'commit_true_up':
        key = COMMIT_TRUE_UP_KEY;
        break;
      case 'credit':
        key = creditLineKey(line.credit_id);
        break;
      case 'adjustment':
        continue;
    }
    const seen = byKey.get(key);
    const amount = new Decimal(line.amount);
    if (seen === undefined) byKey.set(key, { amount, quantity, proration, tiers });
    else
      byKey.set(key, {
        amount: seen.amount.plus(amount),
        quantity: quantity === undefined ? seen.quantity : (seen.quantity ?? new Decimal(0)).plus(quantity),
        // Several lines of one price (a version change): no single share or tier ladder to explain a difference by.
        proration: undefined,
        tiers: undefined,
      });
  }
  return [...byKey].map(([key, value]) => ({ key, ...value }));
}

/**
 * The legacy lines that bill exactly what `invoice` bills, one per line key (the shape a legacy
 * biller that agrees with Tally would export; the demo starts its legacy file from it).
 */
export function legacyLinesFromInvoice(
  invoice: Pick<Invoice, 'customer_id' | 'period' | 'currency' | 'lines'>,
): LegacyLine[] {
  return keyedInvoiceLines(invoice).map((line) => ({
    customer_id: invoice.customer_id,
    period: invoice.period,
    price_id: line.key,
    quantity: line.quantity === undefined ? undefined : formatDecimal(line.quantity),
    amount: formatMoney(line.amount, invoice.currency),
    currency: invoice.currency,
  }));
}
