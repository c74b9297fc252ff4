import { Decimal } from '../money.ts';

/**
 * The difference of two group means with its 95 % Welch interval: mean(variant) − mean(control) ±
 * t(0.975, ν) · se, where se² = s²v/nv + s²c/nc and ν is the Welch–Satterthwaite degrees of freedom.
 *
 * Why Welch (docs/decisions/finops.md, "Pricing experiments"): the two cohorts are independent groups of
 * customers of different sizes whose spread need not be equal (a price change widens or narrows it), the
 * interval is closed-form and deterministic (domain/ has no randomness, a bootstrap would need a seeded
 * generator and thousands of resamples of cohorts of a dozen customers, where its percentiles are
 * unstable anyway), and it reads the same way to Finance as a textbook t-test.
 *
 * Worked example (checked by hand in the test): variant [12, 14, 16], control [10, 10, 13]:
 * means 14 and 11, variances 4 and 3, se² = 4/3 + 3/3 = 7/3, se = 1.5275; ν = (7/3)² / ((4/3)²/2 + 1²/2)
 * = 5.4444 / 1.3889 = 3.92; t(0.975, 3.92) ≈ 2.798; effect 3 ± 4.27 → [−1.27, 7.27].
 */

export interface WelchInterval {
  /** mean(variant) − mean(control). */
  readonly effect: Decimal;
  readonly lower: Decimal;
  readonly upper: Decimal;
  readonly standardError: Decimal;
  /** Welch–Satterthwaite degrees of freedom (null when both groups have no spread: the interval is the point). */
  readonly degreesOfFreedom: Decimal | null;
}

export class TooFewObservationsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TooFewObservationsError';
  }
}

export function mean(values: readonly Decimal[]): Decimal {
  if (values.length === 0) throw new TooFewObservationsError('the mean of no values');
  return values.reduce((sum, value) => sum.plus(value), new Decimal(0)).dividedBy(values.length);
}

/** The sample variance (n − 1 in the denominator). */
export function sampleVariance(values: readonly Decimal[]): Decimal {
  if (values.length < 2) throw new TooFewObservationsError('the variance of fewer than two values');
  const center = mean(values);
  return values
    .reduce((sum, value) => sum.plus(value.minus(center).pow(2)), new Decimal(0))
    .dividedBy(values.length - 1);
}

/** 95 % Welch interval of mean(variant) − mean(control); each group needs at least two values. */
export function welchInterval(variant: readonly Decimal[], control: readonly Decimal[]): WelchInterval {
  if (variant.length < 2 || control.length < 2)
    throw new TooFewObservationsError(
      `a Welch interval needs at least two customers in each cohort (variant ${variant.length}, control ${control.length})`,
    );
  const effect = mean(variant).minus(mean(control));
  const variantTerm = sampleVariance(variant).dividedBy(variant.length);
  const controlTerm = sampleVariance(control).dividedBy(control.length);
  const squaredError = variantTerm.plus(controlTerm);
  if (squaredError.isZero())
    return { effect, lower: effect, upper: effect, standardError: new Decimal(0), degreesOfFreedom: null };
  const standardError = squaredError.sqrt();
  const degreesOfFreedom = squaredError.pow(2).dividedBy(
    variantTerm
      .pow(2)
      .dividedBy(variant.length - 1)
      .plus(controlTerm.pow(2).dividedBy(control.length - 1)),
  );
  const halfWidth = studentT975(degreesOfFreedom).times(standardError);
  return {
    effect,
    lower: effect.minus(halfWidth),
    upper: effect.plus(halfWidth),
    standardError,
    degreesOfFreedom,
  };
}

/** z(0.975), the standard normal's 97.5th percentile. */
const Z_975 = new Decimal('1.959963984540054');

/**
 * t(0.975, ν) for fractional ν ≥ 1: Hill's (1970) asymptotic expansion of the t quantile in terms of
 * the normal quantile (Abramowitz & Stegun 26.7.5), four correction terms. Checked against the tables:
 * within 0.005 for ν ≥ 3 (ν = 3: 3.182, 5: 2.571, 10: 2.228, 30: 2.042). Below 3 it underestimates
 * (ν = 1: 11.30 against 12.706), so there the exact values at ν = 1, 2, 3 are interpolated linearly,
 * which errs wide (t is convex in ν). The readout recommends nothing from so few customers anyway.
 */
export function studentT975(degreesOfFreedom: Decimal): Decimal {
  const nu = Decimal.max(degreesOfFreedom, 1);
  if (nu.lessThan(2)) return interpolate(T975_EXACT_1, T975_EXACT_2, nu.minus(1));
  if (nu.lessThan(3)) return interpolate(T975_EXACT_2, T975_EXACT_3, nu.minus(2));
  const z = Z_975;
  const z3 = z.pow(3);
  const z5 = z.pow(5);
  const z7 = z.pow(7);
  const z9 = z.pow(9);
  const g1 = z3.plus(z).dividedBy(4);
  const g2 = z5.times(5).plus(z3.times(16)).plus(z.times(3)).dividedBy(96);
  const g3 = z7.times(3).plus(z5.times(19)).plus(z3.times(17)).minus(z.times(15)).dividedBy(384);
  const g4 = z9
    .times(79)
    .plus(z7.times(776))
    .plus(z5.times(1482))
    .minus(z3.times(1920))
    .minus(z.times(945))
    .dividedBy(92160);
  return z
    .plus(g1.dividedBy(nu))
    .plus(g2.dividedBy(nu.pow(2)))
    .plus(g3.dividedBy(nu.pow(3)))
    .plus(g4.dividedBy(nu.pow(4)));
}

/** t(0.975, ν) at ν = 1, 2, 3, exact (to 7 digits). */
const T975_EXACT_1 = new Decimal('12.7062047');
const T975_EXACT_2 = new Decimal('4.3026527');
const T975_EXACT_3 = new Decimal('3.1824463');

function interpolate(from: Decimal, to: Decimal, fraction: Decimal): Decimal {
  return from.plus(to.minus(from).times(fraction));
}
