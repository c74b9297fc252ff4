import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { Decimal, formatMoney } from '../money.ts';

/** One customer's recognized day, with its entry (null: recognized, nothing new). */
export interface RecognizedDay {
  readonly customer_id: string;
  readonly day: string;
  readonly currency: string;
  readonly entry: JournalEntry | null;
}

/** A customer-period settled by its invoice. */
export interface RecognitionSettlement {
  readonly customer_id: string;
  readonly invoice_id: string;
  readonly settled_at: string;
  readonly entry: JournalEntry | null;
}

export interface RevenueScheduleRow {
  readonly customer_id: string;
  /** `YYYY-MM-DD`, or `settled` for the reversal at invoice. */
  readonly day: string;
  readonly currency: string;
  /** Revenue the day recognized, per obligation (credit-positive). */
  readonly usage_revenue: string;
  readonly subscription_revenue: string;
  readonly commitment_revenue: string;
  readonly breakage_revenue: string;
  /** Contra-revenue the day recognized (discounts, promotional credits, prepaid bonus), debit-positive. */
  readonly contra_revenue: string;
  /** Prepaid-credit liability released (debit-positive). */
  readonly credits_relieved: string;
  /** Unbilled AR the period's recognition holds after the day: the accrual until the invoice settles it. */
  readonly accrual_position: string;
  readonly entry_key: string | null;
}

const CONTRA = new Set([
  'contra_revenue_discounts',
  'contra_revenue_promotional_credits',
  'contra_revenue_prepaid_bonus',
]);

/**
 * The revenue schedule of a period (SPEC §11): per customer and day, what daily recognition
 * recognized by obligation, the credits it relieved, and the accrual (Unbilled AR) it carries; then
 * the settlement by the invoice, which brings the accrual back to zero.
 */
export function revenueSchedule(
  days: readonly RecognizedDay[],
  settlements: readonly RecognitionSettlement[],
): RevenueScheduleRow[] {
  const rows: RevenueScheduleRow[] = [];
  const customers = [...new Set(days.map((day) => day.customer_id))].sort();
  for (const customerId of customers) {
    let accrual = new Decimal(0);
    const own = days.filter((day) => day.customer_id === customerId).sort((a, b) => (a.day < b.day ? -1 : 1));
    const currency = own[0]?.currency ?? 'USD';
    const row = (day: string, entry: JournalEntry | null): RevenueScheduleRow => {
      const sums = new Map<string, Decimal>();
      for (const line of entry?.lines ?? []) {
        sums.set(line.account, (sums.get(line.account) ?? new Decimal(0)).plus(line.debit).minus(line.credit));
      }
      const net = (account: string): Decimal => sums.get(account) ?? new Decimal(0);
      let contra = new Decimal(0);
      for (const [account, amount] of sums) if (CONTRA.has(account)) contra = contra.plus(amount);
      accrual = accrual.plus(net('unbilled_receivables'));
      const money = (amount: Decimal): string => formatMoney(amount, currency);
      return {
        customer_id: customerId,
        day,
        currency,
        usage_revenue: money(net('usage_revenue').negated()),
        subscription_revenue: money(net('subscription_revenue').negated()),
        commitment_revenue: money(net('commitment_revenue').negated()),
        breakage_revenue: money(net('breakage_revenue').negated()),
        contra_revenue: money(contra),
        credits_relieved: money(net('contract_liability_prepaid_credits')),
        accrual_position: money(accrual),
        entry_key: entry?.entry_key ?? null,
      };
    };
    for (const day of own) rows.push(row(day.day, day.entry));
    const settlement = settlements.find((candidate) => candidate.customer_id === customerId);
    if (settlement !== undefined) rows.push(row('settled', settlement.entry));
  }
  return rows;
}
