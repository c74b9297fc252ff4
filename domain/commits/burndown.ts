import { Decimal, formatMoney } from '../money.ts';
import { billingPeriod } from '../period.ts';

/**
 * Commit utilization and burndown (SPEC §10), per contract: how much of this period's minimum commit
 * the month-to-date usage has consumed and when, at this period's burn rate, it reaches it; how much
 * prepaid credit is left and when, at the trailing burn rate (the last up to 3 closed periods), it
 * runs out; the variance of each period's usage against the contract's planned ramp; and the burn
 * alerts that follow:
 *
 * - `commit_shortfall` (too slow): this period's usage, projected to its end, stays under the commit.
 * - `prepaid_runs_out_early` (too fast): the credit runs out before it expires or the contract ends.
 * - `prepaid_left_at_expiry` (too slow): at the trailing rate, credit is left when it expires.
 * - `ramp_behind` / `ramp_ahead`: a period's usage (the current one projected) is under 90 % or over
 *   120 % of its ramp amount.
 *
 * Worked example: commit 1,000.00 in a 31-day October; on Oct 11 at 00:00 (10 days elapsed) the
 * month-to-date usage is 250.00 → burn 25.00/day, projected 775.00 at month end: the commit is not
 * reached this period (shortfall 225.00) → `commit_shortfall`.
 *
 * Money stays decimal; rates are per day, unrounded, and amounts are rounded half-up to the
 * currency's minor unit when printed. Dates are UTC days.
 */

interface PeriodUsage {
  readonly period: string;
  /** Usage lines plus discounts of the period, a decimal string in the contract's currency. */
  readonly usage: string;
}

interface PrepaidCredit {
  readonly credit_id: string;
  readonly amount: string;
  readonly remaining: string;
  readonly expires_at?: string;
}

export interface CommitBurndownInput {
  readonly customer_id: string;
  readonly currency: string;
  /** The minimum commit per period. */
  readonly commit?: string;
  readonly ramp: readonly PeriodUsage[];
  readonly ends_at?: string;
  /** Closed periods' usage (issued invoices), any order. */
  readonly closed: readonly PeriodUsage[];
  /** The current period's month-to-date usage and the instant it was valued as of; undefined: none valued yet. */
  readonly current?: { readonly period: string; readonly usage: string; readonly as_of: string };
  readonly prepaid: readonly PrepaidCredit[];
  /** Prepaid consumption per closed period (positive amounts). */
  readonly prepaid_consumed: readonly PeriodUsage[];
}

export type BurnAlert =
  'commit_shortfall' | 'prepaid_runs_out_early' | 'prepaid_left_at_expiry' | 'ramp_behind' | 'ramp_ahead';

interface RampVariance {
  readonly period: string;
  readonly planned: string;
  readonly actual: string;
  /** Whether `actual` is the current period's projection. */
  readonly projected: boolean;
  readonly variance: string;
  readonly variance_pct: string;
}

export interface CommitBurndown {
  readonly customer_id: string;
  readonly currency: string;
  readonly commit?: {
    readonly period: string;
    readonly amount: string;
    readonly consumed: string;
    readonly utilization_pct: string;
    readonly burn_per_day: string;
    readonly projected_at_period_end: string;
    /** The UTC day the commit is reached at this burn, or null when not this period. */
    readonly reached_on: string | null;
  };
  readonly prepaid?: {
    readonly granted: string;
    readonly remaining: string;
    readonly consumed: string;
    readonly burn_per_day: string;
    /** The UTC day the credit runs out at the trailing burn, or null when it does not burn. */
    readonly burndown_on: string | null;
    readonly expires_at: string | null;
  };
  readonly ramp: readonly RampVariance[];
  readonly alerts: readonly BurnAlert[];
}

const DAY_MS = 86_400_000;
const TRAILING_PERIODS = 3;

export function commitBurndown(input: CommitBurndownInput, asOf: string): CommitBurndown {
  const alerts: BurnAlert[] = [];
  const money = (value: Decimal): string => formatMoney(value, input.currency);
  const asOfMs = Date.parse(asOf);

  // This period's commit: month-to-date usage and its burn.
  let commit: CommitBurndown['commit'];
  let currentProjection: Decimal | undefined;
  if (input.current !== undefined) {
    const period = billingPeriod(input.current.period);
    const startMs = Date.parse(period.start);
    const periodDays = (Date.parse(period.end) - startMs) / DAY_MS;
    // A valuation made after the period ended (read as of an earlier day) covers the whole period.
    const valuedThroughMs = Math.min(Date.parse(input.current.as_of), Date.parse(period.end));
    const elapsedDays = Math.max((valuedThroughMs - startMs) / DAY_MS, 1 / 24);
    const consumed = new Decimal(input.current.usage);
    const burn = consumed.dividedBy(elapsedDays);
    currentProjection = burn.times(periodDays);
    if (input.commit !== undefined && !new Decimal(input.commit).isZero()) {
      const amount = new Decimal(input.commit);
      const daysToReach = burn.isZero() ? undefined : amount.dividedBy(burn);
      const reachedMs = daysToReach === undefined ? undefined : startMs + millisecondsOf(daysToReach);
      const reachedOn = consumed.greaterThanOrEqualTo(amount)
        ? dayOf(Math.min(Date.parse(input.current.as_of), Date.parse(period.end) - 1))
        : reachedMs !== undefined && reachedMs < Date.parse(period.end)
          ? dayOf(reachedMs)
          : null;
      commit = {
        period: period.name,
        amount: money(amount),
        consumed: money(consumed),
        utilization_pct: percent(consumed.dividedBy(amount)),
        burn_per_day: money(burn),
        projected_at_period_end: money(currentProjection),
        reached_on: reachedOn,
      };
      if (currentProjection.lessThan(amount)) alerts.push('commit_shortfall');
    }
  }

  // Prepaid credit: the trailing burn of the last closed periods.
  let prepaid: CommitBurndown['prepaid'];
  if (input.prepaid.length > 0) {
    const granted = sum(input.prepaid.map((credit) => credit.amount));
    const remaining = sum(input.prepaid.map((credit) => credit.remaining));
    const trailing = [...input.prepaid_consumed]
      .sort((a, b) => (a.period < b.period ? 1 : -1))
      .slice(0, TRAILING_PERIODS);
    const trailingDays = trailing.reduce((days, entry) => {
      const period = billingPeriod(entry.period);
      return days + (Date.parse(period.end) - Date.parse(period.start)) / DAY_MS;
    }, 0);
    const burn =
      trailingDays === 0 ? new Decimal(0) : sum(trailing.map((entry) => entry.usage)).dividedBy(trailingDays);
    const burndownMs = burn.isZero() ? undefined : asOfMs + millisecondsOf(remaining.dividedBy(burn));
    const expiries = input.prepaid.map((credit) => credit.expires_at).filter((at): at is string => at !== undefined);
    const expiresAt = expiries.length === 0 ? undefined : expiries.sort()[expiries.length - 1];
    const horizon = [expiresAt, input.ends_at].filter((at): at is string => at !== undefined).sort()[0];
    prepaid = {
      granted: money(granted),
      remaining: money(remaining),
      consumed: money(granted.minus(remaining)),
      burn_per_day: money(burn),
      burndown_on: burndownMs === undefined ? null : dayOf(burndownMs),
      expires_at: expiresAt ?? null,
    };
    if (remaining.greaterThan(0) && horizon !== undefined) {
      if (burndownMs !== undefined && burndownMs < Date.parse(horizon)) alerts.push('prepaid_runs_out_early');
      else if (expiresAt !== undefined) alerts.push('prepaid_left_at_expiry');
    }
  }

  // Ramp: each planned period against its actual (closed) or projected (current) usage.
  const actualByPeriod = new Map(input.closed.map((entry) => [entry.period, new Decimal(entry.usage)]));
  const ramp: RampVariance[] = [];
  for (const step of [...input.ramp].sort((a, b) => (a.period < b.period ? -1 : 1))) {
    const planned = new Decimal(step.usage);
    const projected = input.current?.period === step.period;
    const actual = projected ? currentProjection : actualByPeriod.get(step.period);
    if (actual === undefined || planned.isZero()) continue;
    const ratio = actual.dividedBy(planned);
    ramp.push({
      period: step.period,
      planned: money(planned),
      actual: money(actual),
      projected,
      variance: money(actual.minus(planned)),
      variance_pct: percent(ratio.minus(1)),
    });
    if (ratio.lessThan('0.9') && !alerts.includes('ramp_behind')) alerts.push('ramp_behind');
    if (ratio.greaterThan('1.2') && !alerts.includes('ramp_ahead')) alerts.push('ramp_ahead');
  }

  return {
    customer_id: input.customer_id,
    currency: input.currency,
    ...(commit === undefined ? {} : { commit }),
    ...(prepaid === undefined ? {} : { prepaid }),
    ramp,
    alerts,
  };
}

function sum(values: readonly string[]): Decimal {
  return values.reduce((total, value) => total.plus(value), new Decimal(0));
}

/** A ratio as a percentage with one decimal, half-up. */
function percent(ratio: Decimal): string {
  const rounded = ratio.times(100).toDecimalPlaces(1, Decimal.ROUND_HALF_UP);
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed of an already-rounded decimal; no float involved
  return (rounded.isZero() ? new Decimal(0) : rounded).toFixed(1);
}

/** A number of days as whole milliseconds (a duration, not an amount: the one place a Decimal becomes a number). */
function millisecondsOf(days: Decimal): number {
  // eslint-disable-next-line no-restricted-syntax -- a duration in ms, far below 2^53; never money
  return days.times(DAY_MS).ceil().toNumber();
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
