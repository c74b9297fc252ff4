import { Decimal } from '../money.ts';

/**
 * The variable stream's forecast (SPEC §10): daily usage revenue with weekly seasonality and a ramp,
 * with p10 / p50 / p90, and its own backtest. The method (docs/decisions/finops.md):
 *
 * 1. Two models of the last 8 weeks of history, each a weekly pattern on a robust ramp:
 *    - *multiplicative*: weekday factors (each day over the centred 7-day mean around it, the median
 *      per weekday, normalized to average 1) on an exponential ramp (the Theil–Sen slope of the
 *      log of the deseasonalized week sums): usage that grows by a share, its pattern with it;
 *    - *additive*: weekday offsets (each day minus its centred 7-day mean, the median per weekday,
 *      summing to 0) on a straight ramp (the Theil–Sen slope of the deseasonalized week sums):
 *      usage whose working week stays the same size while something without a week (a storage
 *      gauge that grows a GB a day) adds a fixed amount a day.
 *    Theil–Sen takes the median of the pairwise slopes (robust to one odd week); the level is the
 *    median of week − slope × week, projected to the day after the history.
 * 2. Rolling origins: from every day of the history with 28 days before it, each model forecasts the
 *    (up to) 28 days after it from the days before it only. The model with the smaller absolute error
 *    over those out-of-sample days gives p50 (a tie keeps the multiplicative one).
 * 3. The band is split-conformal per week of horizon, on that model's out-of-sample errors
 *    `log(actual / p50)` in the week (all weeks pooled when fewer than 10): it holds both the signed
 *    errors' 10 % tails and ±(the absolute errors' 80 % rank), at finite-sample ranks (see
 *    `conformalBand`); beyond 28 days it widens by √(h / 28). The interval is what the method missed
 *    by out of sample, so it is as wide on a smooth series as its misfit is, not as its noise is.
 *
 * Inputs and outputs are decimal strings; the statistics run in float64 (estimates, not amounts).
 * A history starts at its first non-zero day; one shorter than 4 weeks gives a flat forecast of its
 * daily mean with no band, and so does a band of fewer than 10 out-of-sample errors.
 */

export interface DailyForecast {
  /** Days after the last day of history (1 = the next day). */
  readonly day: number;
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
}

type Model = 'multiplicative' | 'additive';

interface Fitted {
  readonly model: Model;
  /** Weekday factors (multiplicative) or offsets (additive), by slot. */
  readonly seasonal: readonly number[];
  /** Log of (multiplicative) or plain (additive) deseasonalized week sum, at the week centred on the last day's half. */
  readonly level: number;
  readonly slopePerWeek: number;
  /** Weekday slot of the day after the history (0..6 relative to the fitted window's first day). */
  readonly firstSlot: number;
}

const WEEKS = 8;
/** Days a fit needs: four weeks (the weekday pattern and a ramp need at least that). */
const MIN_FIT_DAYS = 28;
/** Days after each rolling origin that are checked (the band's four weeks of horizon). */
const CHECKED_DAYS = 28;
/** Fewer out-of-sample errors than this in a week of horizon: all weeks pooled; fewer in all: no band. */
const MIN_ERRORS = 10;

/** Float values of a daily series (the one conversion point). */
export function toFloats(values: readonly string[]): number[] {
  // eslint-disable-next-line no-restricted-syntax -- statistics of a forecast are estimates, not amounts (see above)
  return values.map((value) => Number(value));
}

function fit(history: readonly number[], model: Model): Fitted {
  const days = Math.min(history.length - (history.length % 7), WEEKS * 7);
  const start = history.length - days;
  const window = history.slice(start);
  const weeks = days / 7;
  const multiplicative = model === 'multiplicative';
  // 1. Weekday pattern (slot s = days start + s + 7k): each day against its centred 7-day mean, so a
  //    ramp inside the week is not taken for seasonality.
  const deviations: number[][] = [[], [], [], [], [], [], []];
  for (let index = 3; index < days - 3; index += 1) {
    let sum = 0;
    for (let offset = -3; offset <= 3; offset += 1) sum += window[index + offset] ?? 0;
    if (sum <= 0) continue;
    const value = window[index] ?? 0;
    deviations[index % 7]?.push(multiplicative ? value / (sum / 7) : value - sum / 7);
  }
  const neutral = multiplicative ? 1 : 0;
  const raw = deviations.map((values) => (values.length === 0 ? neutral : median(values)));
  const average = raw.reduce((total, value) => total + value, 0) / 7;
  const seasonal = multiplicative ? raw.map((value) => value / (average || 1)) : raw.map((value) => value - average);
  // 2. Level and ramp from deseasonalized week sums (their logs for an exponential ramp).
  const sums: number[] = [];
  for (let week = 0; week < weeks; week += 1) {
    let sum = 0;
    for (let slot = 0; slot < 7; slot += 1) {
      const value = window[week * 7 + slot] ?? 0;
      sum += multiplicative ? value / Math.max(seasonal[slot] ?? 1, 1e-9) : value - (seasonal[slot] ?? 0);
    }
    sums.push(multiplicative ? Math.log(Math.max(sum, 1e-9)) : sum);
  }
  const slopes: number[] = [];
  for (let a = 0; a < sums.length; a += 1)
    for (let b = a + 1; b < sums.length; b += 1) slopes.push(((sums[b] ?? 0) - (sums[a] ?? 0)) / (b - a));
  const slopePerWeek = slopes.length === 0 ? 0 : median(slopes);
  const intercept = median(sums.map((value, week) => value - slopePerWeek * week));
  // Projected to the week centred half a week after the last one's centre: the next day is week `weeks - 0.5 + 1/7`.
  const level = intercept + slopePerWeek * (weeks - 0.5);
  return { model, seasonal, level, slopePerWeek, firstSlot: days % 7 };
}

function pointForecast(fitted: Fitted, day: number): number {
  const slot = (fitted.firstSlot + day - 1) % 7;
  const week = fitted.level + (fitted.slopePerWeek * (day - 0.5)) / 7;
  if (fitted.model === 'multiplicative') return (Math.exp(week) / 7) * (fitted.seasonal[slot] ?? 1);
  return Math.max(0, week / 7 + (fitted.seasonal[slot] ?? 0));
}

interface OutOfSample {
  /** Σ |actual − p50| over every rolling origin's checked days. */
  readonly absoluteError: number;
  /** `log(actual / p50)` by week of horizon (0..3), where both are positive. */
  readonly logErrors: readonly (readonly number[])[];
}

/** Each model's errors from rolling origins inside the history: every day with 28 before it forecasts the (up to) 28 after it. */
function rollingOrigins(history: readonly number[], model: Model): OutOfSample {
  const logErrors: number[][] = [[], [], [], []];
  let absoluteError = 0;
  for (let origin = MIN_FIT_DAYS; origin < history.length; origin += 1) {
    const fitted = fit(history.slice(0, origin), model);
    for (let day = 1; day <= CHECKED_DAYS && origin + day - 1 < history.length; day += 1) {
      const actual = history[origin + day - 1] ?? 0;
      const predicted = pointForecast(fitted, day);
      absoluteError += Math.abs(actual - predicted);
      if (actual > 0 && predicted > 0) logErrors[Math.floor((day - 1) / 7)]?.push(Math.log(actual / predicted));
    }
  }
  return { absoluteError, logErrors };
}

/** Forecasts `horizonDays` days after `history` (daily values, oldest first). */
export function forecastDaily(fullHistory: readonly number[], horizonDays: number): DailyForecast[] {
  // A cohort's history starts at its first usage: the days before it say nothing about its level.
  const history = withoutLeadingZeros(fullHistory);
  if (history.length < MIN_FIT_DAYS) {
    const mean = history.length === 0 ? 0 : history.reduce((total, value) => total + value, 0) / history.length;
    return Array.from({ length: horizonDays }, (_, index) => ({ day: index + 1, p10: mean, p50: mean, p90: mean }));
  }
  // The model that forecast the history's own days better out of sample; a tie keeps the multiplicative one.
  const multiplicative = rollingOrigins(history, 'multiplicative');
  const additive = rollingOrigins(history, 'additive');
  const [model, errors] =
    additive.absoluteError < multiplicative.absoluteError
      ? (['additive', additive] as const)
      : (['multiplicative', multiplicative] as const);
  const fitted = fit(history, model);
  const band = conformalBand(errors.logErrors);
  return Array.from({ length: horizonDays }, (_, index) => {
    const day = index + 1;
    const p50 = pointForecast(fitted, day);
    const bucket = band[Math.min(Math.floor((day - 1) / 7), 3)] ?? { low: 0, high: 0 };
    const widen = day > CHECKED_DAYS ? Math.sqrt(day / CHECKED_DAYS) : 1;
    return { day, p10: p50 * Math.exp(bucket.low * widen), p50, p90: p50 * Math.exp(bucket.high * widen) };
  });
}

/**
 * Split-conformal bounds of log(actual / p50) per week of horizon, from two scores, each the
 * finite-sample rank of an 80 % interval over n errors (a few errors give the widest of them, never an
 * interpolation inside them): the signed error's ⌊0.1(n + 1)⌋-th and ⌈0.9(n + 1)⌉-th smallest (its
 * tails: a form that errs one way is covered that way), and the absolute error's ⌈0.8(n + 1)⌉-th
 * smallest, q (symmetric: a lean in the older origins' errors that the newer ones lack does not shift
 * the band off the actuals). The band holds both: low = min(signed low, −q), high = max(signed high, q);
 * p50 always inside.
 */
function conformalBand(byWeek: readonly (readonly number[])[]): { low: number; high: number }[] {
  const pooled = byWeek.flat();
  return byWeek.map((errors) => {
    const sample = errors.length >= MIN_ERRORS ? errors : pooled;
    if (sample.length < MIN_ERRORS) return { low: 0, high: 0 };
    const count = sample.length;
    const signed = [...sample].sort((a, b) => a - b);
    const absolute = sample.map((error) => Math.abs(error)).sort((a, b) => a - b);
    const rank = (sorted: readonly number[], share: number, round: (value: number) => number) =>
      sorted[Math.min(count, Math.max(1, round(share * (count + 1)))) - 1] ?? 0;
    const symmetric = rank(absolute, 0.8, Math.ceil);
    return {
      low: Math.min(0, rank(signed, 0.1, Math.floor), -symmetric),
      high: Math.max(0, rank(signed, 0.9, Math.ceil), symmetric),
    };
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

/** A float estimate as a money string of `digits` decimals, half-up. */
export function estimateToMoney(value: number, digits: number): string {
  // eslint-disable-next-line no-restricted-syntax -- printing an estimate: Decimal takes the float's shortest text, then rounds once
  return new Decimal(value).toDecimalPlaces(digits, Decimal.ROUND_HALF_UP).toFixed(digits);
}
