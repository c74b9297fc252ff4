import type { ProductSignal } from '../../contracts/product-signals.ts';
import { dayNumber, dayText } from '../anomalies/utc-days.ts';
import type { BurnAlert, CommitBurndown } from '../commits/burndown.ts';
import { Decimal, formatDecimal } from '../money.ts';

/**
 * Early-warning signals (SPEC §10): what says, before the invoice does, that an account is about to
 * consume less (a **contraction** risk) or more (an **expansion**) than its history. Three sources:
 *
 * - **Commit burn** (`domain/commits/burndown.ts`): `commit_shortfall`, `ramp_behind` and
 *   `prepaid_left_at_expiry` point down; `ramp_ahead` and `prepaid_runs_out_early` point up.
 * - **Quota hits** (the usage-alert loop's thresholds this period): the commit reached (100 %) or
 *   the prepaid balance 90 % used before the period ends point up. 50 and 75 % are ordinary.
 * - **Product signals** (usage events of the SKUs `signals/product-signals.yaml` designates): each
 *   UTC day's value is the mean of that day's reported values; the last 7 days' mean against the 21
 *   days before (at least 7 of them reported) moving by `change_pct` or more, either way, or the last
 *   7 days' mean under `alert_below` / over `alert_above`. Which way is down is `higher_is`.
 *
 * Worked example: integrations enabled reported daily, 8 for 21 days then 5 for the last 7: the
 * recent mean 5 against a baseline of 8 is −37.5 %, beyond `change_pct: "25"`, and higher is better
 * → `signal_dropped`, a contraction risk.
 *
 * An account's **outlook** is `contraction` or `expansion` when its signals agree, `mixed` when they
 * do not, `steady` without any. Quantities stay decimal; percentages are rounded half-up to 0.1.
 */

type SignalOutlook = 'contraction' | 'expansion';
export type AccountOutlook = SignalOutlook | 'mixed' | 'steady';

type EarlyWarningKind =
  | BurnAlert
  | 'commit_reached'
  | 'prepaid_nearly_used'
  | 'signal_dropped'
  | 'signal_rose'
  | 'signal_below'
  | 'signal_above';

interface EarlyWarningSignal {
  readonly kind: EarlyWarningKind;
  readonly source: 'commit_burn' | 'quota' | 'product';
  readonly outlook: SignalOutlook;
  /** One line a person reads. */
  readonly detail: string;
  /** Product signals: the SKU, the last 7 days' mean, the 21 days' mean before and the change. */
  readonly sku?: string;
  readonly recent?: string;
  readonly baseline?: string | null;
  readonly change_pct?: string | null;
}

export interface AccountSignals {
  readonly customer_id: string;
  readonly outlook: AccountOutlook;
  readonly signals: readonly EarlyWarningSignal[];
}

interface QuotaHit {
  readonly customer_id: string;
  readonly period: string;
  readonly basis: 'commit' | 'prepaid';
  readonly threshold_pct: number;
}

/** One customer's daily value of one product-signal SKU (the mean of the day's reported values). */
export interface SignalDay {
  readonly customer_id: string;
  readonly sku: string;
  readonly unit: string;
  readonly day: string;
  readonly value: string;
}

export interface EarlyWarningInput {
  /** Signals are read as of the start of this UTC day: the last 7 days end the day before. */
  readonly as_of_day: string;
  /** The period quota hits count in (the one `as_of_day` falls in). */
  readonly period: string;
  readonly burndowns: readonly CommitBurndown[];
  readonly quota_hits: readonly QuotaHit[];
  readonly product_signals: readonly ProductSignal[];
  readonly product_days: readonly SignalDay[];
}

const RECENT_DAYS = 7;
const BASELINE_DAYS = 21;
const MIN_BASELINE_DAYS = 7;

const BURN_OUTLOOK: Record<BurnAlert, { outlook: SignalOutlook; detail: string }> = {
  commit_shortfall: { outlook: 'contraction', detail: 'this period projected under its commit' },
  ramp_behind: { outlook: 'contraction', detail: 'usage under 90 % of the planned ramp' },
  prepaid_left_at_expiry: { outlook: 'contraction', detail: 'prepaid credit left when it expires at this burn' },
  ramp_ahead: { outlook: 'expansion', detail: 'usage over 120 % of the planned ramp' },
  prepaid_runs_out_early: { outlook: 'expansion', detail: 'prepaid credit runs out before it expires at this burn' },
};

export function earlyWarningSignals(input: EarlyWarningInput): AccountSignals[] {
  const byCustomer = new Map<string, EarlyWarningSignal[]>();
  const add = (customerId: string, signal: EarlyWarningSignal) =>
    byCustomer.set(customerId, [...(byCustomer.get(customerId) ?? []), signal]);

  for (const burndown of input.burndowns)
    for (const alert of burndown.alerts)
      add(burndown.customer_id, { kind: alert, source: 'commit_burn', ...BURN_OUTLOOK[alert] });

  const highest = new Map<string, QuotaHit>();
  for (const hit of input.quota_hits) {
    if (hit.period !== input.period) continue;
    const key = `${hit.customer_id}\u0000${hit.basis}`;
    if ((highest.get(key)?.threshold_pct ?? 0) < hit.threshold_pct) highest.set(key, hit);
  }
  for (const hit of [...highest.values()].sort(byKey((hit) => `${hit.customer_id}\u0000${hit.basis}`))) {
    if (hit.basis === 'commit' && hit.threshold_pct >= 100)
      add(hit.customer_id, {
        kind: 'commit_reached',
        source: 'quota',
        outlook: 'expansion',
        detail: `the commit of ${hit.period} reached before the period ends`,
      });
    if (hit.basis === 'prepaid' && hit.threshold_pct >= 90)
      add(hit.customer_id, {
        kind: 'prepaid_nearly_used',
        source: 'quota',
        outlook: 'expansion',
        detail: `${hit.threshold_pct} % of the prepaid balance used in ${hit.period}`,
      });
  }

  for (const [customerId, signals] of productSignals(input)) for (const signal of signals) add(customerId, signal);

  return [...byCustomer.entries()]
    .sort(byKey(([customerId]) => customerId))
    .map(([customerId, signals]) => ({ customer_id: customerId, outlook: outlookOf(signals), signals }));
}

function productSignals(input: EarlyWarningInput): Map<string, EarlyWarningSignal[]> {
  const asOf = dayNumber(input.as_of_day);
  if (asOf === undefined) throw new Error(`not a day: ${input.as_of_day}`);
  const recentFrom = asOf - RECENT_DAYS;
  const baselineFrom = recentFrom - BASELINE_DAYS;
  const designated = new Map(input.product_signals.map((signal) => [`${signal.sku}\u0000${signal.unit}`, signal]));
  const series = new Map<string, { recent: Decimal[]; baseline: Decimal[] }>();
  for (const day of input.product_days) {
    const key = `${day.customer_id}\u0000${day.sku}\u0000${day.unit}`;
    if (!designated.has(`${day.sku}\u0000${day.unit}`)) continue;
    const number = dayNumber(day.day);
    if (number === undefined || number < baselineFrom || number >= asOf) continue;
    const entry = series.get(key) ?? { recent: [], baseline: [] };
    (number >= recentFrom ? entry.recent : entry.baseline).push(new Decimal(day.value));
    series.set(key, entry);
  }
  const result = new Map<string, EarlyWarningSignal[]>();
  for (const [key, values] of [...series.entries()].sort(byKey(([key]) => key))) {
    const [customerId = '', sku = '', unit = ''] = key.split('\u0000');
    const signal = designated.get(`${sku}\u0000${unit}`);
    // No value in the last 7 days: nothing recent to read (a meter gone silent is the anomaly detector's).
    if (signal === undefined || values.recent.length === 0) continue;
    const recent = mean(values.recent);
    const baseline = values.baseline.length >= MIN_BASELINE_DAYS ? mean(values.baseline) : undefined;
    const change =
      baseline === undefined || baseline.isZero() ? undefined : recent.minus(baseline).dividedBy(baseline).times(100);
    const worse = (down: boolean) => (signal.higher_is === 'better') === down;
    const facts = {
      source: 'product' as const,
      sku,
      recent: rounded(recent),
      baseline: baseline === undefined ? null : rounded(baseline),
      change_pct: change === undefined ? null : percent(change),
    };
    const found: EarlyWarningSignal[] = [];
    if (change !== undefined && change.abs().greaterThanOrEqualTo(signal.change_pct)) {
      const down = change.isNegative();
      found.push({
        kind: down ? 'signal_dropped' : 'signal_rose',
        outlook: worse(down) ? 'contraction' : 'expansion',
        detail: `${signal.label} ${down ? 'fell' : 'rose'} ${percent(change.abs())} % (${facts.baseline} → ${facts.recent} ${unit}, the last 7 days against the 21 before)`,
        ...facts,
      });
    }
    if (signal.alert_below !== undefined && recent.lessThan(signal.alert_below))
      found.push({
        kind: 'signal_below',
        outlook: worse(true) ? 'contraction' : 'expansion',
        detail: `${signal.label} at ${facts.recent} ${unit} over the last 7 days, under ${signal.alert_below}`,
        ...facts,
      });
    if (signal.alert_above !== undefined && recent.greaterThan(signal.alert_above))
      found.push({
        kind: 'signal_above',
        outlook: worse(false) ? 'contraction' : 'expansion',
        detail: `${signal.label} at ${facts.recent} ${unit} over the last 7 days, over ${signal.alert_above}`,
        ...facts,
      });
    if (found.length > 0) result.set(customerId, [...(result.get(customerId) ?? []), ...found]);
  }
  return result;
}

function outlookOf(signals: readonly EarlyWarningSignal[]): AccountOutlook {
  const down = signals.some((signal) => signal.outlook === 'contraction');
  const up = signals.some((signal) => signal.outlook === 'expansion');
  if (down && up) return 'mixed';
  if (down) return 'contraction';
  if (up) return 'expansion';
  return 'steady';
}

/** Each day of `from`..`to` (inclusive) as text: the range the product-signal query reads. */
export function signalWindow(asOfDay: string): { fromDay: string; toDay: string } {
  const asOf = dayNumber(asOfDay);
  if (asOf === undefined) throw new Error(`not a day: ${asOfDay}`);
  return { fromDay: dayText(asOf - RECENT_DAYS - BASELINE_DAYS), toDay: dayText(asOf - 1) };
}

function mean(values: readonly Decimal[]): Decimal {
  return values.reduce((sum, value) => sum.plus(value), new Decimal(0)).dividedBy(values.length);
}

function rounded(value: Decimal): string {
  return formatDecimal(value.toDecimalPlaces(4, Decimal.ROUND_HALF_UP));
}

function percent(value: Decimal): string {
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed of an already-rounded decimal; no float involved
  return value.toDecimalPlaces(1, Decimal.ROUND_HALF_UP).toFixed(1);
}

function byKey<T>(key: (value: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}
