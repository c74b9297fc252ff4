import { Decimal } from '../money.ts';

/**
 * The variable stream's forecast (SPEC §10): daily usage revenue with weekly seasonality and a ramp,
 * with p10 / p50 / p90, and its own backtest. The method (docs/decisions/finops.md):
 *
 * 1. Weekday factors: over the last 8 weeks of history, each day divided by the centred 7-day mean
 *    around it; the factor of a weekday is the median of its ratios (normalized to average 1).
 * 2. Level and ramp: the deseasonalized daily values of the last 8 weeks, summed by week; the slope is
 *    the Theil–Sen median of the pairwise slopes of log(week sums) (robust to one odd week); the
 *    level is the median of log(week sum) − slope × week, projected to the day after the history.
 * 3. p50 on day h after the history: `exp(level + slope × h / 7) / 7 × factor[weekday]`.
 * 4. The band: rolling origins inside the history (every 7 days, the last 6 weeks that leave 28 days
 *    to check) forecast 28 days each; the 10th and 90th percentiles of `log(actual / p50)` by week of
 *    horizon give p10 = p50 × e^q10 and p90 = p50 × e^q90, widened by √(h / 28) past 28 days.
 *
 * Inputs and outputs are decimal strings; the statistics run in float64 (estimates, not amounts).
 * A history starts at its first non-zero day; one shorter than 4 weeks gives a flat forecast of its
 * daily mean with no band.
 */

export interface DailyForecast {
  /** Days after the last day of history (1 = the next day). */
  readonly day: number;
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
}

interface Fitted {
  readonly factors: readonly number[];
  readonly level: number;
  readonly slopePerWeek: number;
  /** Weekday slot of the day after the history (0..6 relative to the history's first day). */
  readonly firstSlot: number;
}

const WEEKS = 8;

/** Float values of a daily series (the one conversion point). */
export function toFloats(values: readonly string[]): number[] {
  // eslint-disable-next-line no-restricted-syntax -- statistics of a forecast are estimates, not amounts (see above)
  return values.map((value) => Number(value));
}

function fit(history: readonly number[]): Fitted {
  const days = Math.min(history.length - (history.length % 7), WEEKS * 7);
  const start = history.length - days;
  const window = history.slice(start);
  const weeks = days / 7;
  // 1. Weekday factors (slot s = days start + s + 7k): each day against its centred 7-day mean, so a
  //    ramp inside the week is not taken for seasonality.
  const ratios: number[][] = [[], [], [], [], [], [], []];
  for (let index = 3; index < days - 3; index += 1) {
    let sum = 0;
    for (let offset = -3; offset <= 3; offset += 1) sum += window[index + offset] ?? 0;
    if (sum <= 0) continue;
    ratios[index % 7]?.push((window[index] ?? 0) / (sum / 7));
  }
  const raw = ratios.map((values) => (values.length === 0 ? 1 : median(values)));
  const average = raw.reduce((total, value) => total + value, 0) / 7 || 1;
  const factors = raw.map((value) => value / average);
  // 2. Level and ramp from deseasonalized week sums.
  const logs: number[] = [];
  for (let week = 0; week < weeks; week += 1) {
    let sum = 0;
    for (let slot = 0; slot < 7; slot += 1) sum += (window[week * 7 + slot] ?? 0) / Math.max(factors[slot] ?? 1, 1e-9);
    logs.push(Math.log(Math.max(sum, 1e-9)));
  }
  const slopes: number[] = [];
  for (let a = 0; a < logs.length; a += 1)
    for (let b = a + 1; b < logs.length; b += 1) slopes.push(((logs[b] ?? 0) - (logs[a] ?? 0)) / (b - a));
  const slopePerWeek = slopes.length === 0 ? 0 : median(slopes);
  const intercept = median(logs.map((value, week) => value - slopePerWeek * week));
  // Projected to the week centred half a week after the last one's centre: the next day is week `weeks - 0.5 + 1/7`.
  const level = intercept + slopePerWeek * (weeks - 0.5);
  return { factors, level, slopePerWeek, firstSlot: days % 7 };
}

function pointForecast(fitted: Fitted, day: number): number {
  const slot = (fitted.firstSlot + day - 1) % 7;
  return (Math.exp(fitted.level + (fitted.slopePerWeek * (day - 0.5)) / 7) / 7) * (fitted.factors[slot] ?? 1);
}

/** Forecasts `horizonDays` days after `history` (daily values, oldest first). */
export function forecastDaily(fullHistory: readonly number[], horizonDays: number): DailyForecast[] {
  // A cohort's history starts at its first usage: the days before it say nothing about its level.
  const history = withoutLeadingZeros(fullHistory);
  if (history.length < 28) {
    const mean = history.length === 0 ? 0 : history.reduce((total, value) => total + value, 0) / history.length;
    return Array.from({ length: horizonDays }, (_, index) => ({ day: index + 1, p10: mean, p50: mean, p90: mean }));
  }
  const fitted = fit(history);
  const band = errorBand(history);
  return Array.from({ length: horizonDays }, (_, index) => {
    const day = index + 1;
    const p50 = pointForecast(fitted, day);
    const bucket = band[Math.min(Math.floor((day - 1) / 7), 3)] ?? { low: 0, high: 0 };
    const widen = day > 28 ? Math.sqrt(day / 28) : 1;
    return { day, p10: p50 * Math.exp(bucket.low * widen), p50, p90: p50 * Math.exp(bucket.high * widen) };
  });
}

/** The 10th and 90th percentiles of log(actual / p50) by week of horizon, from rolling origins inside the history. */
function errorBand(history: readonly number[]): { low: number; high: number }[] {
  const byWeek: number[][] = [[], [], [], []];
  for (let origin = history.length - 28; origin >= 28 && origin >= history.length - 28 - 6 * 7; origin -= 7) {
    const fitted = fit(history.slice(0, origin));
    for (let day = 1; day <= 28; day += 1) {
      const actual = history[origin + day - 1] ?? 0;
      const predicted = pointForecast(fitted, day);
      if (actual > 0 && predicted > 0) byWeek[Math.floor((day - 1) / 7)]?.push(Math.log(actual / predicted));
    }
  }
  const pooled = byWeek.flat();
  return byWeek.map((errors) => {
    const sample = errors.length >= 10 ? errors : pooled;
    if (sample.length === 0) return { low: 0, high: 0 };
    return { low: Math.min(0, quantile(sample, 0.1)), high: Math.max(0, quantile(sample, 0.9)) };
  });
}

export interface Backtest {
  readonly heldOutDays: number;
  /** Σ|actual − p50| / Σ actual over the held-out days. */
  readonly wape: number;
  /** The same for a straight line fitted to the history (least squares): the baseline p50 must beat. */
  readonly straightLineWape: number;
  /** Share of held-out days whose actual fell inside [p10, p90]. */
  readonly coverage: number;
}

/** Holds out the last `heldOutDays` (28 by default), forecasts them from the rest, and scores the forecast. */
export function backtestForecast(fullHistory: readonly number[], heldOutDays = 28): Backtest {
  const history = withoutLeadingZeros(fullHistory);
  const training = history.slice(0, history.length - heldOutDays);
  const actual = history.slice(history.length - heldOutDays);
  const forecast = forecastDaily(training, heldOutDays);
  const line = straightLine(training);
  let absolute = 0;
  let lineAbsolute = 0;
  let total = 0;
  let inside = 0;
  actual.forEach((value, index) => {
    const day = forecast[index];
    if (day === undefined) return;
    absolute += Math.abs(value - day.p50);
    lineAbsolute += Math.abs(value - Math.max(0, line(training.length + index)));
    total += value;
    if (value >= day.p10 && value <= day.p90) inside += 1;
  });
  return {
    heldOutDays,
    wape: total === 0 ? 0 : absolute / total,
    straightLineWape: total === 0 ? 0 : lineAbsolute / total,
    coverage: actual.length === 0 ? 0 : inside / actual.length,
  };
}

function withoutLeadingZeros(values: readonly number[]): readonly number[] {
  const first = values.findIndex((value) => value > 0);
  return first <= 0 ? values : values.slice(first);
}

function straightLine(values: readonly number[]): (index: number) => number {
  const n = values.length;
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((total, value) => total + value, 0) / Math.max(n, 1);
  let covariance = 0;
  let variance = 0;
  values.forEach((value, index) => {
    covariance += (index - meanX) * (value - meanY);
    variance += (index - meanX) ** 2;
  });
  const slope = variance === 0 ? 0 : covariance / variance;
  return (index) => meanY + slope * (index - meanX);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return (sorted[low] ?? 0) + ((sorted[high] ?? 0) - (sorted[low] ?? 0)) * (position - low);
}

/** A float estimate as a money string of `digits` decimals, half-up. */
export function estimateToMoney(value: number, digits: number): string {
  // eslint-disable-next-line no-restricted-syntax -- printing an estimate: Decimal takes the float's shortest text, then rounds once
  return new Decimal(value).toDecimalPlaces(digits, Decimal.ROUND_HALF_UP).toFixed(digits);
}
