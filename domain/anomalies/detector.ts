import { Decimal } from '../money.ts';
import type { DailySeries } from './daily-series.ts';
import { dayText } from './utc-days.ts';

/**
 * The daily anomaly detector of SPEC §10, the same code for the offline scan and the daily schedule.
 *
 * For each series (a customer's daily usage of a SKU, or a SKU's daily COGS) and each day scored, the
 * baseline is the trailing 28 days, never the day itself:
 *
 * 1. weekday seasonality: `m[w]`, the median of the 4 values on the day's weekday (days −7, −14, −21,
 *    −28), so an ordinary weekend dip is expected, not flagged; in a series with at least 24 active
 *    days of 28, empty days are silent meters and left out of the medians and the spread;
 * 2. level: `f`, the median over the last 7 days of `value / m[weekday]` (days with value and m
 *    above 0; 1 with fewer than 3 such days; a silent meter is its own rule), clamped to [0.5, 2]: a
 *    ramp or a lasting change of level moves the baseline within days, one odd day does not;
 * 3. `expected = f × m[weekday of the day]`;
 * 4. spread, relative (a weekend's noise is a weekend's size): `σ = √((1.4826 × 1.25 × MAD)² + 0.05²)`,
 *    where MAD is the median of `|value − m[weekday]| / m[weekday]` over the 28 window days (×1.25
 *    because a residual against a median of 4 that includes it is smaller than against the truth),
 *    at least 5 % so a steady customer's small wobble is not an anomaly;
 * 5. usage is multiplicative, so the band is on the log scale: `lower = expected × e^(−4σ)`,
 *    `upper = expected × e^(4σ)`, `score = ln(value / expected) / σ` (±1000 at most).
 *
 * Anomalies: a spike (value > upper), a drop (0 < value < lower), or a meter gone silent (value 0
 * where each of the 4 same-weekday days and at least 24 of the 28 window days were above 0); any other
 * zero is an ordinary empty day of sparse usage. On a day where nothing is expected (expected 0), only
 * a value above the window's highest is an anomaly (upper = that highest). Severity from |score|:
 * `low` under 6, `medium` under 10, `high` from 10, and a silent meter is `high`. A series is scored
 * from its 29th day after its first non-zero day (a new customer or SKU needs a baseline first).
 *
 * The statistics are estimates, not amounts billed: they run in float64 (see
 * docs/decisions/finops.md); `value` is printed exactly as summed, and `expected`, `lower` and `upper`
 * are rounded to 6 significant digits (half-up) at the one point they are printed.
 */

export const BASELINE_DAYS = 28;
const THRESHOLD_SIGMAS = 4;
const RELATIVE_FLOOR = 0.05;
const MAD_TO_SIGMA = 1.4826 * 1.25;
const SILENT_MIN_ACTIVE_DAYS = 24;
const SCORE_LIMIT = 1000;

type AnomalySeverity = 'low' | 'medium' | 'high';
export type AnomalyKind = 'spike' | 'drop' | 'silence';

/** The SPEC §10 output shape of one anomaly. */
export interface Anomaly {
  readonly customer_id: string | null;
  readonly sku: string;
  readonly day: string;
  readonly metric: 'usage' | 'cogs';
  readonly value: string;
  readonly expected: string;
  readonly lower: string;
  readonly upper: string;
  readonly score: number;
  readonly severity: AnomalySeverity;
}

/** What kind of anomaly a row is (not printed in the SPEC shape; routing and the store use it). */
export function anomalyKind(anomaly: Anomaly): AnomalyKind {
  if (anomaly.score > 0) return 'spike';
  return new Decimal(anomaly.value).isZero() ? 'silence' : 'drop';
}

export interface DetectionRange {
  /** Day numbers, inclusive. */
  readonly fromDay: number;
  readonly toDay: number;
}

/** Every anomaly of every series on the days of `range`, sorted by day, metric, customer and SKU. */
export function detectAnomalies(series: readonly DailySeries[], range: DetectionRange): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const scratch = new Scratch();
  for (const one of series) {
    const values = toSignal(one.values);
    const first = firstNonZero(values);
    if (first < 0) continue;
    const fromIndex = Math.max(range.fromDay - one.first_day, first + BASELINE_DAYS);
    const toIndex = Math.min(range.toDay - one.first_day, values.length - 1);
    for (let index = fromIndex; index <= toIndex; index += 1) {
      const found = scoreDay(values, index, scratch);
      if (found === undefined) continue;
      anomalies.push({
        customer_id: one.customer_id,
        sku: one.sku,
        day: dayText(one.first_day + index),
        metric: one.metric,
        value: one.values[index] ?? '0',
        expected: roundSignificant(found.expected),
        lower: roundSignificant(found.lower),
        upper: roundSignificant(found.upper),
        score: Math.round(found.score * 100) / 100,
        severity: found.severity,
      });
    }
  }
  return anomalies.sort(compareAnomalies);
}

interface DayScore {
  readonly expected: number;
  readonly lower: number;
  readonly upper: number;
  readonly score: number;
  readonly severity: AnomalySeverity;
}

/** Reused buffers: the scan scores millions of days, and fresh arrays per day would dominate it. */
class Scratch {
  readonly weekdayMedians = new Float64Array(7);
  readonly four = new Float64Array(4);
  readonly residuals = new Float64Array(BASELINE_DAYS);
  readonly ratios = new Float64Array(7);
}

/** The day at `index` against the 28 days before it; undefined when it is not an anomaly. */
function scoreDay(values: Float64Array, index: number, scratch: Scratch = new Scratch()): DayScore | undefined {
  const start = index - BASELINE_DAYS;
  if (start < 0) return undefined;
  let active = 0;
  for (let offset = 0; offset < BASELINE_DAYS; offset += 1) if ((values[start + offset] ?? 0) > 0) active += 1;
  // In a series that is rarely empty, an empty day is a silent meter, not part of the pattern.
  const skipZeros = active >= SILENT_MIN_ACTIVE_DAYS;
  // 1. weekday medians: weekday slot s holds days start+s, start+s+7, start+s+14, start+s+21.
  for (let slot = 0; slot < 7; slot += 1) {
    let count = 0;
    for (let week = 0; week < 4; week += 1) {
      const value = values[start + slot + week * 7] ?? 0;
      if (value > 0 || !skipZeros) {
        scratch.four[count] = value;
        count += 1;
      }
    }
    scratch.weekdayMedians[slot] = count === 0 ? 0 : median(scratch.four.subarray(0, count));
  }
  const daySlot = (index - start) % 7;
  const seasonal = scratch.weekdayMedians[daySlot] ?? 0;
  // 2. level over the last 7 days.
  let ratioCount = 0;
  for (let offset = BASELINE_DAYS - 7; offset < BASELINE_DAYS; offset += 1) {
    const weekdayMedian = scratch.weekdayMedians[offset % 7] ?? 0;
    const value = values[start + offset] ?? 0;
    if (weekdayMedian > 0 && value > 0) {
      scratch.ratios[ratioCount] = value / weekdayMedian;
      ratioCount += 1;
    }
  }
  const level = ratioCount < 3 ? 1 : clamp(median(scratch.ratios.subarray(0, ratioCount)), 0.5, 2);
  // 3. expected; 4. spread.
  const expected = level * seasonal;
  let residualCount = 0;
  for (let offset = 0; offset < BASELINE_DAYS; offset += 1) {
    const value = values[start + offset] ?? 0;
    if (value === 0 && skipZeros) continue;
    const weekdayMedian = scratch.weekdayMedians[offset % 7] ?? 0;
    if (weekdayMedian > 0) {
      scratch.residuals[residualCount] = Math.abs(value - weekdayMedian) / weekdayMedian;
      residualCount += 1;
    }
  }
  const relativeMad = residualCount === 0 ? 0 : median(scratch.residuals.subarray(0, residualCount));
  const sigma = Math.hypot(MAD_TO_SIGMA * relativeMad, RELATIVE_FLOOR);
  // 5. bounds and score, on the log scale.
  const value = values[index] ?? 0;
  let sameWeekdayActive = true;
  for (let week = 0; week < 4; week += 1)
    if (!((values[start + daySlot + week * 7] ?? 0) > 0)) sameWeekdayActive = false;
  const silent = value === 0 && sameWeekdayActive && active >= SILENT_MIN_ACTIVE_DAYS;
  if (expected <= 0) {
    // Nothing expected today (an idle weekday): only a new high of the window is an anomaly.
    let highest = 0;
    for (let offset = 0; offset < BASELINE_DAYS; offset += 1) highest = Math.max(highest, values[start + offset] ?? 0);
    if (!(value > highest)) return undefined;
    return { expected: 0, lower: 0, upper: highest, score: SCORE_LIMIT, severity: 'high' };
  }
  const lower = expected * Math.exp(-THRESHOLD_SIGMAS * sigma);
  const upper = expected * Math.exp(THRESHOLD_SIGMAS * sigma);
  const score = value > 0 ? clamp(Math.log(value / expected) / sigma, -SCORE_LIMIT, SCORE_LIMIT) : -SCORE_LIMIT;
  // A zero is an anomaly only as a silent meter: sparse usage has ordinary empty days.
  if (!silent && (value === 0 || (value <= upper && value >= lower))) return undefined;
  const magnitude = Math.abs(score);
  const severity: AnomalySeverity = silent || magnitude >= 10 ? 'high' : magnitude >= 6 ? 'medium' : 'low';
  return { expected, lower, upper, score, severity };
}

/**
 * Daily totals as the float64 signal the statistics run on (the one conversion point): a total above
 * 2^53 loses digits here, which moves an estimate by less than one part in 10^15.
 */
function toSignal(values: readonly string[]): Float64Array {
  const signal = new Float64Array(values.length);
  // eslint-disable-next-line no-restricted-syntax -- the detector's statistics are estimates, not amounts (see above)
  for (let index = 0; index < values.length; index += 1) signal[index] = Number(values[index]);
  return signal;
}

function firstNonZero(values: Float64Array): number {
  for (let index = 0; index < values.length; index += 1) if ((values[index] ?? 0) > 0) return index;
  return -1;
}

/** Median of a scratch array (sorted in place). */
function median(values: Float64Array): number {
  values.sort();
  const middle = values.length >> 1;
  return values.length % 2 === 1 ? (values[middle] ?? 0) : ((values[middle - 1] ?? 0) + (values[middle] ?? 0)) / 2;
}

function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}

/** 6 significant digits, half-up, as a plain decimal string. */
function roundSignificant(value: number): string {
  // Decimal takes the float's shortest round-trip text, then rounds it once.
  const rounded = new Decimal(value).toSignificantDigits(6, Decimal.ROUND_HALF_UP);
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed() prints the already-rounded value without an exponent
  return rounded.isZero() ? '0' : rounded.toFixed();
}

function compareAnomalies(a: Anomaly, b: Anomaly): number {
  const keyA = `${a.day}\u0000${a.metric}\u0000${a.customer_id ?? ''}\u0000${a.sku}`;
  const keyB = `${b.day}\u0000${b.metric}\u0000${b.customer_id ?? ''}\u0000${b.sku}`;
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}
