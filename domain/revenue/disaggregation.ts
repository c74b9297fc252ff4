import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { isAccountCode, isIncomeStatementAccount, type AccountCode } from '../journal/index.ts';
import { Decimal, formatMoney } from '../money.ts';

/** The obligation an income-statement account belongs to. */
type RevenueCategory = 'usage' | 'subscription' | 'commitment' | 'breakage' | 'contra_revenue';

const CATEGORY: Partial<Record<AccountCode, RevenueCategory>> = {
  usage_revenue: 'usage',
  subscription_revenue: 'subscription',
  commitment_revenue: 'commitment',
  breakage_revenue: 'breakage',
  contra_revenue_discounts: 'contra_revenue',
  contra_revenue_promotional_credits: 'contra_revenue',
  contra_revenue_prepaid_bonus: 'contra_revenue',
};

export interface DisaggregationRow {
  readonly service_period: string;
  readonly customer_id: string;
  readonly currency: string;
  readonly category: RevenueCategory;
  readonly account: AccountCode;
  /** The invoice line the revenue comes from: `usage:<price>`, `fee:<fee>`, … (`(period)` when none). */
  readonly product: string;
  /** Net revenue (credit − debit): contra-revenue is negative. */
  readonly amount: string;
}

/**
 * Revenue of a period disaggregated (ASC 606-10-50-5) by obligation (usage vs subscription vs
 * commitment vs breakage, contra-revenue apart), by product (the invoice line) and by customer,
 * per currency: the net of every entry serving the period (daily recognition, its settlement, the
 * invoice's entries and later adjustments), so a settled period shows its invoice.
 */
export function disaggregateRevenue(entries: readonly JournalEntry[]): DisaggregationRow[] {
  const sums = new Map<string, { row: Omit<DisaggregationRow, 'amount'>; amount: Decimal }>();
  for (const entry of entries) {
    for (const line of entry.lines) {
      if (!isAccountCode(line.account) || !isIncomeStatementAccount(line.account)) continue;
      const category = CATEGORY[line.account];
      if (category === undefined) continue;
      const row = {
        service_period: entry.service_period,
        customer_id: entry.customer_id,
        currency: entry.currency,
        category,
        account: line.account,
        product: line.source_line_key ?? '(period)',
      };
      const key = [row.service_period, row.customer_id, row.currency, row.account, row.product].join('\u0000');
      const existing = sums.get(key) ?? { row, amount: new Decimal(0) };
      sums.set(key, { row, amount: existing.amount.plus(line.credit).minus(line.debit) });
    }
  }
  return [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .filter(([, { amount }]) => !amount.isZero())
    .map(([, { row, amount }]) => ({ ...row, amount: formatMoney(amount, row.currency) }));
}
