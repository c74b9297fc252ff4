import type pg from 'pg';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import type { ProductSignals } from '../contracts/product-signals.ts';
import { dailyUsageTotals } from '../db/queries/anomalies.ts';
import { issuedInvoicesOfPeriod, latestIssuedInvoices } from '../db/queries/finops.ts';
import { dayNumber, dayText } from '../domain/anomalies/utc-days.ts';
import type { MarginRow } from '../domain/costs/margin.ts';
import { Decimal, formatMoney } from '../domain/money.ts';
import type { AccountOutlook } from '../domain/signals/early-warning.ts';
import { contractsInForce, dailyUsageRevenue, forecastReport, type AccountRevenue } from './forecast-report.ts';
import { marginReport } from './margin-report.ts';
import { signalReport } from './signal-report.ts';

/**
 * The console's executive view (SPEC §9–10), per currency: trailing 7- and 28-day revenue split usage
 * vs subscription, gross margin by product and by the top accounts (the latest period with issued
 * invoices), the top accounts of the trailing 28 days, and the quarter's revenue range (invoiced
 * months + this month to date + the forecast to the quarter's end). Definitions:
 * docs/decisions/console.md, "The executive and account views".
 */

export interface FinopsSources {
  readonly costsDir: string;
  readonly ratecardsDir: string;
  readonly signals: ProductSignals;
}

interface RevenueSplit {
  readonly days: number;
  readonly usage: string;
  readonly subscription: string;
  readonly total: string;
}

interface TopAccount {
  readonly customer_id: string;
  readonly usage: string;
  readonly subscription: string;
  readonly total: string;
  readonly share_pct: string;
  readonly outlook: AccountOutlook;
}

interface QuarterRange {
  readonly quarter: string;
  readonly first_day: string;
  readonly last_day: string;
  /** Issued invoices (before credits) of the quarter's months before this one, with their count. */
  readonly invoiced: string;
  readonly invoiced_periods: readonly { readonly period: string; readonly invoices: number }[];
  /** This month's days before today: usage revenue as valued above, fees prorated. */
  readonly month_to_date: string;
  readonly forecast_days: number;
  readonly forecast: { readonly p10: string; readonly p50: string; readonly p90: string };
  readonly range: { readonly p10: string; readonly p50: string; readonly p90: string };
}

export interface CurrencyExecutiveView {
  readonly currency: string;
  readonly trailing: readonly RevenueSplit[];
  readonly top_accounts: readonly TopAccount[];
  readonly margin: {
    readonly period: string | undefined;
    readonly by_product: readonly MarginRow[];
    readonly by_account: readonly MarginRow[];
    readonly total: MarginRow | undefined;
  };
  readonly quarter: QuarterRange;
}

export interface ExecutiveView {
  readonly as_of: string;
  readonly currencies: readonly CurrencyExecutiveView[];
  /** Accounts whose early-warning outlook is not steady. */
  readonly signals: readonly {
    readonly customer_id: string;
    readonly outlook: AccountOutlook;
    readonly kinds: string[];
  }[];
}

const TOP_ACCOUNTS = 10;
/** A monthly fee per day: a twelfth of a year's fees over 365 days, whatever the month. */
const FEE_DAYS_PER_MONTH = new Decimal(365).dividedBy(12);

export async function executiveView(
  pool: pg.Pool,
  options: { today: string; sources: FinopsSources },
): Promise<ExecutiveView> {
  const today = dayNumber(options.today);
  if (today === undefined) throw new Error(`not a day: ${options.today}`);
  const quarter = quarterOf(options.today);
  const monthStart = dayNumber(`${options.today.slice(0, 8)}01`) ?? today;
  // Enough history for the trailing 28 days and this month to date.
  const firstDay = Math.min(today - 28, monthStart);
  const days = today - firstDay;
  const [invoices, contractOf, usage, accountSignals] = await Promise.all([
    latestIssuedInvoices(pool),
    contractsInForce(pool),
    dailyUsageTotals(pool, { fromDay: dayText(firstDay), toDay: dayText(today - 1) }, []),
    signalReport(pool, { asOf: `${options.today}T00:00:00.000Z`, signals: options.sources.signals }),
  ]);
  const outlookOf = new Map(accountSignals.map((account) => [account.customer_id, account.outlook]));
  const accounts = dailyUsageRevenue(invoices, usage, contractOf, firstDay, days);
  const latestPeriod = invoices
    .map((invoice) => invoice.period)
    .sort()
    .at(-1);
  const [margin, forecasts, earlierMonths] = await Promise.all([
    latestPeriod === undefined
      ? undefined
      : marginReport(pool, {
          period: latestPeriod,
          costsDir: options.sources.costsDir,
          ratecardsDir: options.sources.ratecardsDir,
        }),
    forecastReport(pool, {
      today: options.today,
      horizonDays: Math.max(1, (dayNumber(quarter.lastDay) ?? today) - today + 1),
      signals: options.sources.signals,
    }),
    Promise.all(
      quarter.months
        .filter((month) => month < options.today.slice(0, 7))
        .map(async (month) => ({ period: month, invoices: await issuedInvoicesOfPeriod(pool, month) })),
    ),
  ]);
  const currencies = [...new Set(accounts.map((account) => account.currency))].sort();
  return {
    as_of: options.today,
    currencies: currencies.map((currency) => {
      const mine = accounts.filter((account) => account.currency === currency);
      const window = (count: number) => split(mine, days - count, count, currency);
      const ranked = mine
        .map((account) => ({ account, total: split([account], days - 28, 28, currency) }))
        .sort(
          (a, b) =>
            new Decimal(b.total.total).comparedTo(a.total.total) ||
            (a.account.terms.customer_id < b.account.terms.customer_id ? -1 : 1),
        );
      const all = new Decimal(window(28).total);
      const top = ranked.slice(0, TOP_ACCOUNTS).map(({ account, total }) => ({
        customer_id: account.terms.customer_id,
        usage: total.usage,
        subscription: total.subscription,
        total: total.total,
        share_pct: all.isZero() ? '0.0' : percent(new Decimal(total.total).dividedBy(all)),
        outlook: outlookOf.get(account.terms.customer_id) ?? 'steady',
      }));
      const rows = (margin?.rows ?? []).filter((row) => row.currency === currency);
      const topIds = new Set(top.map((account) => account.customer_id));
      const forecast = forecasts.find((entry) => entry.currency === currency);
      const sum = (pick: (period: NonNullable<typeof forecast>['periods'][number]) => string) =>
        (forecast?.periods ?? []).reduce((total, period) => total.plus(pick(period)), new Decimal(0));
      const forecastRange = {
        p10: sum((period) => period.total.p10),
        p50: sum((period) => period.total.p50),
        p90: sum((period) => period.total.p90),
      };
      const invoicedPeriods = earlierMonths.map((month) => ({
        period: month.period,
        invoices: month.invoices.filter((invoice) => invoice.currency === currency),
      }));
      const invoiced = invoicedPeriods
        .flatMap((month) => month.invoices)
        .reduce((total, invoice) => total.plus(revenueBeforeCredits(invoice)), new Decimal(0));
      const monthToDate = new Decimal(split(mine, monthStart - firstDay, today - monthStart, currency).total);
      const known = invoiced.plus(monthToDate);
      const money = (value: Decimal) => formatMoney(value, currency);
      return {
        currency,
        trailing: [window(7), window(28)],
        top_accounts: top,
        margin: {
          period: latestPeriod,
          by_product: rows.filter((row) => row.by === 'product'),
          by_account: rows.filter((row) => row.by === 'customer' && topIds.has(row.key)),
          total: rows.find((row) => row.by === 'total'),
        },
        quarter: {
          quarter: quarter.name,
          first_day: quarter.firstDay,
          last_day: quarter.lastDay,
          invoiced: money(invoiced),
          invoiced_periods: invoicedPeriods.map((month) => ({ period: month.period, invoices: month.invoices.length })),
          month_to_date: money(monthToDate),
          forecast_days: (forecast?.periods ?? []).reduce((total, period) => total + period.days, 0),
          forecast: { p10: money(forecastRange.p10), p50: money(forecastRange.p50), p90: money(forecastRange.p90) },
          range: {
            p10: money(known.plus(forecastRange.p10)),
            p50: money(known.plus(forecastRange.p50)),
            p90: money(known.plus(forecastRange.p90)),
          },
        },
      };
    }),
    signals: accountSignals
      .filter((account) => account.outlook !== 'steady')
      .map((account) => ({
        customer_id: account.customer_id,
        outlook: account.outlook,
        kinds: account.signals.map((signal) => signal.kind),
      })),
  };
}

/** Usage revenue of `count` days from index `from` of the accounts' daily series, and their fees over as many days. */
function split(accounts: readonly AccountRevenue[], from: number, count: number, currency: string): RevenueSplit {
  let usage = new Decimal(0);
  let subscription = new Decimal(0);
  for (const account of accounts) {
    for (const value of account.daily.slice(Math.max(0, from), Math.max(0, from + count))) usage = usage.plus(value);
    subscription = subscription.plus(
      new Decimal(account.terms.monthly_fees).times(count).dividedBy(FEE_DAYS_PER_MONTH),
    );
  }
  return {
    days: count,
    usage: formatMoney(usage, currency),
    subscription: formatMoney(subscription, currency),
    total: formatMoney(usage.plus(subscription), currency),
  };
}

/** An issued invoice's revenue: every line but credits (a means of payment or a contra-revenue, as margin counts). */
function revenueBeforeCredits(invoice: IssuedInvoice): Decimal {
  return invoice.lines
    .filter((line) => line.kind !== 'credit')
    .reduce((total, line) => total.plus(line.amount), new Decimal(0));
}

/** The calendar quarter of a UTC day: its name (`2026-Q4`), first and last day, and months. */
function quarterOf(day: string): { name: string; firstDay: string; lastDay: string; months: string[] } {
  const year = Number.parseInt(day.slice(0, 4), 10);
  const month = Number.parseInt(day.slice(5, 7), 10);
  const first = Math.floor((month - 1) / 3) * 3 + 1;
  const months = [first, first + 1, first + 2].map((value) => `${year}-${String(value).padStart(2, '0')}`);
  const last = new Date(Date.UTC(year, first + 2, 0)).toISOString().slice(0, 10);
  return { name: `${year}-Q${(first + 2) / 3}`, firstDay: `${months[0] ?? ''}-01`, lastDay: last, months };
}

function percent(ratio: Decimal): string {
  return ratio.times(100).toDecimalPlaces(1, Decimal.ROUND_HALF_UP).toFixed(1);
}
