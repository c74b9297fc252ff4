import { Decimal, formatMoney } from '../money.ts';
import { backtestForecast, estimateToMoney, forecastDaily, toFloats } from './usage-forecast.ts';
import { minorUnits } from '../money.ts';
import type { AccountOutlook } from '../signals/early-warning.ts';

/**
 * The two-stream forecast (SPEC §10) of one currency: the fixed stream (fees, and each commit's
 * shortfall, from contracts and rate cards) and the variable stream (usage revenue by cohort, see
 * usage-forecast.ts), with p10 / p50 / p90 per calendar month of the horizon, the concentration of
 * the trailing 28 days' revenue in the top accounts, and the variable stream's backtest.
 *
 * Bands of a month are the sums of the daily bands (errors of a cohort's days move together: a level
 * error dominates), and of the cohorts' bands (conservative: as if cohorts erred together).
 */

export interface CustomerTerms {
  readonly customer_id: string;
  readonly cohort: string;
  /** Monthly fees (the latest invoice's fee lines, full month). */
  readonly monthly_fees: string;
  /** Minimum commit per month, if any. */
  readonly commit?: string;
  /** The contract's end, if any: no fees or commits after it. */
  readonly ends_at?: string;
  /** The account's early-warning outlook (domain/signals/): a contraction or expansion risk widens the band. */
  readonly outlook?: AccountOutlook;
}

export interface ForecastInput {
  readonly currency: string;
  /** The first day forecast (UTC `YYYY-MM-DD`), the day after the history's last. */
  readonly first_day: string;
  readonly horizon_days: number;
  readonly customers: readonly CustomerTerms[];
  /** Daily usage revenue per customer over the history (same length for all, oldest first), decimal strings. */
  readonly usage_history: ReadonlyMap<string, readonly string[]>;
}

interface ForecastPeriod {
  readonly period: string;
  readonly days: number;
  readonly fixed: string;
  readonly variable: { readonly p10: string; readonly p50: string; readonly p90: string };
  readonly total: { readonly p10: string; readonly p50: string; readonly p90: string };
  /**
   * How far early-warning signals moved the variable band (already in `variable` and `total`): p10
   * down by the usage at risk of contraction, p90 up by the usage that may expand; p50 unmoved.
   */
  readonly signal_effect: { readonly p10: string; readonly p90: string; readonly accounts: number };
}

export interface TwoStreamForecast {
  readonly currency: string;
  readonly periods: readonly ForecastPeriod[];
  readonly concentration: {
    readonly top1: string;
    readonly top5: string;
    readonly top10: string;
    readonly accounts: number;
  };
  readonly backtest: {
    readonly held_out_days: number;
    readonly wape: string;
    readonly straight_line_wape: string;
    readonly coverage: string;
  };
}

const DAY_MS = 86_400_000;

/**
 * The share of an account's expected usage revenue an early-warning signal puts in play: a
 * contraction risk lowers p10 by it, an expansion raises p90 by it, a mixed outlook both. A quarter
 * is a judgement (docs/decisions/finops.md): a lost integration or a reached commit rarely moves a
 * whole account, and a band that still covers it is the honest answer.
 */
const SIGNAL_SWING = 0.25;

export function twoStreamForecast(input: ForecastInput): TwoStreamForecast {
  const digits = minorUnits(input.currency);
  const firstMs = Date.parse(`${input.first_day}T00:00:00Z`);
  const dayNames = Array.from({ length: input.horizon_days }, (_, index) =>
    new Date(firstMs + index * DAY_MS).toISOString().slice(0, 10),
  );
  // Variable stream by cohort.
  const cohorts = new Map<string, number[]>();
  for (const customer of input.customers) {
    const history = input.usage_history.get(customer.customer_id);
    if (history === undefined) continue;
    const floats = toFloats(history);
    const sum = cohorts.get(customer.cohort) ?? new Array<number>(floats.length).fill(0);
    floats.forEach((value, index) => (sum[index] = (sum[index] ?? 0) + value));
    cohorts.set(customer.cohort, sum);
  }
  const daily = dayNames.map(() => ({ p10: 0, p50: 0, p90: 0 }));
  let absolute = 0;
  let lineAbsolute = 0;
  let actualTotal = 0;
  let inside = 0;
  let heldOut = 0;
  for (const history of cohorts.values()) {
    forecastDaily(history, input.horizon_days).forEach((day, index) => {
      const target = daily[index];
      if (target === undefined) return;
      target.p10 += day.p10;
      target.p50 += day.p50;
      target.p90 += day.p90;
    });
    if (history.length >= 56) {
      const result = backtestForecast(history, 28);
      const total = history.slice(-28).reduce((sum, value) => sum + value, 0);
      absolute += result.wape * total;
      lineAbsolute += result.straightLineWape * total;
      actualTotal += total;
      inside += result.coverage * result.heldOutDays;
      heldOut += result.heldOutDays;
    }
  }
  // Periods: calendar months of the horizon, each with the days of it inside the horizon.
  const periods: ForecastPeriod[] = [];
  for (const [period, indexes] of groupByMonth(dayNames)) {
    const variable = { p10: 0, p50: 0, p90: 0 };
    for (const index of indexes) {
      variable.p10 += daily[index]?.p10 ?? 0;
      variable.p50 += daily[index]?.p50 ?? 0;
      variable.p90 += daily[index]?.p90 ?? 0;
    }
    const monthDays = daysInMonth(period);
    const share = new Decimal(indexes.length).dividedBy(monthDays);
    const monthStart = `${period}-01T00:00:00.000Z`;
    // Fixed: fees, prorated by the days of the month inside the horizon, and commit shortfalls (at p50 usage).
    let fixed = new Decimal(0);
    const swing = { p10: 0, p90: 0, accounts: 0 };
    for (const customer of input.customers) {
      if (customer.ends_at !== undefined && customer.ends_at <= monthStart) continue;
      const history = toFloats(input.usage_history.get(customer.customer_id) ?? []).slice(-28);
      const perDay = history.length === 0 ? 0 : history.reduce((sum, value) => sum + value, 0) / history.length;
      // Signals: the account's trailing daily usage revenue over the month's days, the share in play.
      const atStake = perDay * indexes.length * SIGNAL_SWING;
      const outlook = customer.outlook ?? 'steady';
      if (outlook !== 'steady' && atStake > 0) swing.accounts += 1;
      if (outlook === 'contraction' || outlook === 'mixed') swing.p10 += atStake;
      if (outlook === 'expansion' || outlook === 'mixed') swing.p90 += atStake;
      fixed = fixed.plus(new Decimal(customer.monthly_fees).times(share));
      if (customer.commit === undefined) continue;
      const expectedUsage = new Decimal(estimateToMoney(perDay * indexes.length, digits));
      const commit = new Decimal(customer.commit).times(share);
      if (expectedUsage.lessThan(commit)) fixed = fixed.plus(commit.minus(expectedUsage));
    }
    variable.p10 = Math.max(0, variable.p10 - swing.p10);
    variable.p90 += swing.p90;
    const money = (value: number) => estimateToMoney(value, digits);
    periods.push({
      period,
      days: indexes.length,
      fixed: formatMoney(fixed, input.currency),
      variable: { p10: money(variable.p10), p50: money(variable.p50), p90: money(variable.p90) },
      total: {
        p10: formatMoney(fixed.plus(money(variable.p10)), input.currency),
        p50: formatMoney(fixed.plus(money(variable.p50)), input.currency),
        p90: formatMoney(fixed.plus(money(variable.p90)), input.currency),
      },
      signal_effect: {
        p10: swing.p10 === 0 ? money(0) : `-${money(swing.p10)}`,
        p90: money(swing.p90),
        accounts: swing.accounts,
      },
    });
  }
  // Concentration: each account's trailing 28 days of usage revenue plus 28 days of fees.
  const revenue = input.customers
    .map((customer) => {
      const usage = (input.usage_history.get(customer.customer_id) ?? []).slice(-28);
      return usage.reduce((sum, value) => sum.plus(value), new Decimal(customer.monthly_fees).times(28).dividedBy(30));
    })
    .sort((a, b) => b.comparedTo(a));
  const all = revenue.reduce((sum, value) => sum.plus(value), new Decimal(0));
  const share = (count: number) =>
    all.isZero()
      ? '0.0'
      : percent(
          revenue
            .slice(0, count)
            .reduce((sum, value) => sum.plus(value), new Decimal(0))
            .dividedBy(all),
        );
  return {
    currency: input.currency,
    periods,
    concentration: { top1: share(1), top5: share(5), top10: share(10), accounts: revenue.length },
    backtest: {
      held_out_days: 28,
      wape: actualTotal === 0 ? '0.0' : percentOf(absolute / actualTotal),
      straight_line_wape: actualTotal === 0 ? '0.0' : percentOf(lineAbsolute / actualTotal),
      coverage: heldOut === 0 ? '0.0' : percentOf(inside / heldOut),
    },
  };
}

function groupByMonth(days: readonly string[]): Map<string, number[]> {
  const months = new Map<string, number[]>();
  days.forEach((day, index) => {
    const month = day.slice(0, 7);
    months.set(month, [...(months.get(month) ?? []), index]);
  });
  return months;
}

function daysInMonth(period: string): number {
  const [year, month] = period.split('-').map((part) => Number.parseInt(part, 10));
  return new Date(Date.UTC(year ?? 1970, month ?? 1, 0)).getUTCDate();
}

function percent(ratio: Decimal): string {
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed of an already-rounded decimal; no float involved
  return ratio.times(100).toDecimalPlaces(1, Decimal.ROUND_HALF_UP).toFixed(1);
}

function percentOf(ratio: number): string {
  return estimateToMoney(ratio * 100, 1);
}
