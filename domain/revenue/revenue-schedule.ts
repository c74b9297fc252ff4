import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { Decimal, formatMoney } from '../money.ts';
import { billingPeriod } from '../period.ts';

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
  /**
   * `YYYY-MM-DD`, the date the row's entry is dated (a day recognized; the accrual and its true-ups
   * on the period's last day, their reversals on the next period's first), or `settled` for the
   * reversal at invoice.
   */
  readonly day: string;
  /** What the row is: a day's recognition, the month-end accrual, a true-up of it, a reversal, the settlement. */
  readonly kind: 'day' | 'accrual' | 'true_up' | 'reversal' | 'settlement';
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
 * the month-end accrual, its true-ups and their reversals (a period not invoiced at month end), and
 * the settlement by the invoice; after a reversal or the settlement the position is back to zero.
 */
export function revenueSchedule(
  days: readonly RecognizedDay[],
  settlements: readonly RecognitionSettlement[],
  accruals: readonly JournalEntry[] = [],
): RevenueScheduleRow[] {
  const rows: RevenueScheduleRow[] = [];
  const customers = [...new Set(days.map((day) => day.customer_id))].sort();
  for (const customerId of customers) {
    let accrual = new Decimal(0);
    const own = days.filter((day) => day.customer_id === customerId).sort((a, b) => (a.day < b.day ? -1 : 1));
    const currency = own[0]?.currency ?? accruals.find((entry) => entry.customer_id === customerId)?.currency ?? 'USD';
    const row = (day: string, kind: RevenueScheduleRow['kind'], entry: JournalEntry | null): RevenueScheduleRow => {
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
        kind,
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
    for (const day of own) rows.push(row(day.day, 'day', day.entry));
    // The accrual and its reversal, then each true-up with its reversal.
    const order = (entry: JournalEntry): number =>
      Number.parseInt(/\/true-up-(\d+):/.exec(entry.entry_key)?.[1] ?? '0', 10) * 2 +
      (entry.entry_type === 'accrual_reversed' ? 1 : 0);
    const ownAccruals = accruals
      .filter((candidate) => candidate.customer_id === customerId)
      .sort((a, b) => order(a) - order(b));
    for (const entry of ownAccruals) {
      const period = billingPeriod(entry.service_period);
      const lastDay = new Date(Date.parse(period.end) - 86_400_000).toISOString().slice(0, 10);
      if (entry.entry_type === 'accrual_reversed') rows.push(row(period.end.slice(0, 10), 'reversal', entry));
      else rows.push(row(lastDay, entry.entry_type === 'accrual_trued_up' ? 'true_up' : 'accrual', entry));
    }
    const settlement = settlements.find((candidate) => candidate.customer_id === customerId);
    if (settlement !== undefined) rows.push(row('settled', 'settlement', settlement.entry));
  }
  return rows;
}
