import type pg from 'pg';
import { parseContractText, type Contract } from '../contracts/contract.ts';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import { dailyUsageTotals, type DailyUsageRow } from '../db/queries/anomalies.ts';
import { currentContractTexts } from '../db/queries/contract-publications.ts';
import { latestIssuedInvoices } from '../db/queries/finops.ts';
import { dayNumber, dayText } from '../domain/anomalies/utc-days.ts';
import { twoStreamForecast, type CustomerTerms, type TwoStreamForecast } from '../domain/forecast/two-stream.ts';
import { Decimal, formatDecimal } from '../domain/money.ts';
import type { AccountOutlook } from '../domain/signals/early-warning.ts';
import type { ProductSignals } from '../contracts/product-signals.ts';
import { signalReport } from './signal-report.ts';

/** Days of history the variable stream learns from (16 weeks: 8 to fit, the rest for its error band and backtest). */
const HISTORY_DAYS = 112;

/**
 * `tally forecast`: one two-stream forecast per currency. The variable stream's history is each
 * customer's stored daily usage valued at the effective rates of its latest issued invoice (amount /
 * quantity per SKU and unit: tiers, packages and discounts as they came out last period); fixed: that
 * invoice's fees and the contract's commit. Cohort: the month the contract starts (else its first
 * invoice's period). With product signals designated, each account's early-warning outlook as of
 * today widens its share of the band (domain/forecast/two-stream.ts, `SIGNAL_SWING`).
 */
export async function forecastReport(
  pool: pg.Pool,
  options: {
    today: string;
    horizonDays: number;
    signals?: ProductSignals;
    /** Only these customers (the demo's run); default: every invoiced customer. */
    customerIds?: readonly string[];
  },
): Promise<TwoStreamForecast[]> {
  const todayNumber = dayNumber(options.today);
  if (todayNumber === undefined) throw new Error(`not a day: ${options.today}`);
  const lastDay = todayNumber - 1;
  const firstDay = lastDay - HISTORY_DAYS + 1;
  const [invoices, contractOf, usage, accountSignals] = await Promise.all([
    latestIssuedInvoices(pool),
    contractsInForce(pool),
    dailyUsageTotals(pool, { fromDay: dayText(firstDay), toDay: dayText(lastDay) }, []),
    signalReport(pool, { asOf: `${options.today}T00:00:00.000Z`, signals: options.signals ?? { signals: [] } }),
  ]);
  const outlookOf = new Map<string, AccountOutlook>(
    accountSignals.map((account) => [account.customer_id, account.outlook]),
  );
  const byCurrency = new Map<string, { customers: CustomerTerms[]; history: Map<string, string[]> }>();
  const only = options.customerIds === undefined ? undefined : new Set(options.customerIds);
  const chosen = only === undefined ? invoices : invoices.filter((invoice) => only.has(invoice.customer_id));
  for (const account of dailyUsageRevenue(chosen, usage, contractOf, firstDay, HISTORY_DAYS)) {
    const entry = byCurrency.get(account.currency) ?? { customers: [], history: new Map<string, string[]>() };
    const outlook = outlookOf.get(account.terms.customer_id);
    entry.customers.push(outlook === undefined ? account.terms : { ...account.terms, outlook });
    entry.history.set(account.terms.customer_id, account.daily);
    byCurrency.set(account.currency, entry);
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

export interface AccountRevenue {
  readonly currency: string;
  readonly terms: CustomerTerms;
  /** Usage revenue per day from `firstDay`, decimal strings. */
  readonly daily: string[];
}

/**
 * Each invoiced customer's daily usage revenue over `days` days from `firstDay`: stored daily
 * quantities × the effective rates of its latest issued invoice; with its cohort, fees and commit.
 */
export function dailyUsageRevenue(
  invoices: readonly IssuedInvoice[],
  usage: readonly DailyUsageRow[],
  contractOf: ReadonlyMap<string, Contract>,
  firstDay: number,
  days: number,
): AccountRevenue[] {
  return invoices.map((invoice) => {
    const totals = new Map<string, { amount: Decimal; quantity: Decimal }>();
    let fees = new Decimal(0);
    for (const line of invoice.lines) {
      if (line.kind === 'fee') fees = fees.plus(line.amount);
      if (line.kind !== 'usage') continue;
      const key = `${line.sku}\u0000${line.unit}`;
      const total = totals.get(key) ?? { amount: new Decimal(0), quantity: new Decimal(0) };
      totals.set(key, { amount: total.amount.plus(line.amount), quantity: total.quantity.plus(line.quantity) });
    }
    const rates = new Map<string, Decimal>();
    for (const [key, total] of totals)
      if (!total.quantity.isZero()) rates.set(key, total.amount.dividedBy(total.quantity));
    const daily = Array.from({ length: days }, () => new Decimal(0));
    for (const row of usage) {
      if (row.customerId !== invoice.customer_id) continue;
      const rate = rates.get(`${row.sku}\u0000${row.unit}`);
      const index = (dayNumber(row.day) ?? firstDay) - firstDay;
      const current = daily[index];
      if (rate === undefined || current === undefined) continue;
      daily[index] = current.plus(rate.times(row.quantity));
    }
    const contract = contractOf.get(invoice.customer_id);
    return {
      currency: invoice.currency,
      terms: {
        customer_id: invoice.customer_id,
        cohort: (contract?.starts_at ?? invoice.period_start).slice(0, 7),
        monthly_fees: formatDecimal(fees),
        ...(contract?.commit === undefined ? {} : { commit: contract.commit.amount }),
        ...(contract?.ends_at === undefined ? {} : { ends_at: contract.ends_at }),
      },
      daily: daily.map(formatDecimal),
    };
  });
}

/** Every customer's contract in force, parsed (a text that no longer parses is left out). */
export async function contractsInForce(pool: pg.Pool): Promise<Map<string, Contract>> {
  const contracts = await currentContractTexts(pool);
  return new Map(
    contracts.flatMap((published) => {
      const parsed = parseContractText(published.content, published.fileName);
      return parsed.ok ? [[published.customerId, parsed.contract] as const] : [];
    }),
  );
}
