import type pg from 'pg';
import { parseContractText } from '../contracts/contract.ts';
import { dailyUsageTotals } from '../db/queries/anomalies.ts';
import { currentContractTexts } from '../db/queries/contract-publications.ts';
import { latestIssuedInvoices } from '../db/queries/finops.ts';
import { dayNumber, dayText } from '../domain/anomalies/utc-days.ts';
import { twoStreamForecast, type CustomerTerms, type TwoStreamForecast } from '../domain/forecast/two-stream.ts';
import { Decimal, formatDecimal } from '../domain/money.ts';

/** Days of history the variable stream learns from (16 weeks: 8 to fit, the rest for its error band and backtest). */
const HISTORY_DAYS = 112;

/**
 * `tally forecast`: one two-stream forecast per currency. The variable stream's history is each
 * customer's stored daily usage valued at the effective rates of its latest issued invoice (amount /
 * quantity per SKU and unit: tiers, packages and discounts as they came out last period); fixed: that
 * invoice's fees and the contract's commit. Cohort: the month the contract starts (else its first
 * invoice's period).
 */
export async function forecastReport(
  pool: pg.Pool,
  options: { today: string; horizonDays: number },
): Promise<TwoStreamForecast[]> {
  const todayNumber = dayNumber(options.today);
  if (todayNumber === undefined) throw new Error(`not a day: ${options.today}`);
  const lastDay = todayNumber - 1;
  const firstDay = lastDay - HISTORY_DAYS + 1;
  const [invoices, contracts, usage] = await Promise.all([
    latestIssuedInvoices(pool),
    currentContractTexts(pool),
    dailyUsageTotals(pool, { fromDay: dayText(firstDay), toDay: dayText(lastDay) }, []),
  ]);
  const contractOf = new Map(
    contracts.flatMap((published) => {
      const parsed = parseContractText(published.content, published.fileName);
      return parsed.ok ? [[published.customerId, parsed.contract] as const] : [];
    }),
  );
  const byCurrency = new Map<string, { customers: CustomerTerms[]; history: Map<string, string[]> }>();
  for (const invoice of invoices) {
    const rates = new Map<string, Decimal>();
    const totals = new Map<string, { amount: Decimal; quantity: Decimal }>();
    let fees = new Decimal(0);
    for (const line of invoice.lines) {
      if (line.kind === 'fee') fees = fees.plus(line.amount);
      if (line.kind !== 'usage') continue;
      const key = `${line.sku}\u0000${line.unit}`;
      const total = totals.get(key) ?? { amount: new Decimal(0), quantity: new Decimal(0) };
      totals.set(key, { amount: total.amount.plus(line.amount), quantity: total.quantity.plus(line.quantity) });
    }
    for (const [key, total] of totals)
      if (!total.quantity.isZero()) rates.set(key, total.amount.dividedBy(total.quantity));
    const daily = Array.from({ length: HISTORY_DAYS }, () => new Decimal(0));
    for (const row of usage) {
      if (row.customerId !== invoice.customer_id) continue;
      const rate = rates.get(`${row.sku}\u0000${row.unit}`);
      const index = (dayNumber(row.day) ?? firstDay) - firstDay;
      if (rate === undefined || daily[index] === undefined) continue;
      daily[index] = (daily[index] as Decimal).plus(rate.times(row.quantity));
    }
    const contract = contractOf.get(invoice.customer_id);
    const entry = byCurrency.get(invoice.currency) ?? { customers: [], history: new Map<string, string[]>() };
    entry.customers.push({
      customer_id: invoice.customer_id,
      cohort: (contract?.starts_at ?? invoice.period_start).slice(0, 7),
      monthly_fees: formatDecimal(fees),
      ...(contract?.commit === undefined ? {} : { commit: contract.commit.amount }),
      ...(contract?.ends_at === undefined ? {} : { ends_at: contract.ends_at }),
    });
    entry.history.set(invoice.customer_id, daily.map(formatDecimal));
    byCurrency.set(invoice.currency, entry);
  }
  return [...byCurrency.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([currency, entry]) =>
      twoStreamForecast({
        currency,
        first_day: options.today,
        horizon_days: options.horizonDays,
        customers: entry.customers,
        usage_history: entry.history,
      }),
    );
}
