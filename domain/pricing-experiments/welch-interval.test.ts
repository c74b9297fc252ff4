import { describe, expect, it } from 'vitest';
import { Decimal } from '../money.ts';
import { sampleVariance, studentT975, TooFewObservationsError, welchInterval } from './welch-interval.ts';

const decimals = (...values: string[]) => values.map((value) => new Decimal(value));
const round = (value: Decimal, places = 3) => value.toDecimalPlaces(places, Decimal.ROUND_HALF_UP).toString();

describe('studentT975', () => {
  it.each([
    // ν, t(0.975, ν) from the tables
    ['1', '12.706'],
    ['2', '4.303'],
    ['3', '3.182'],
    ['4', '2.776'],
    ['5', '2.571'],
    ['10', '2.228'],
    ['30', '2.042'],
    ['120', '1.980'],
  ])('t(0.975, %s) is %s to within 0.005', (nu, table) => {
    expect(studentT975(new Decimal(nu)).minus(table).abs().lessThanOrEqualTo('0.005')).toBe(true);
  });

  it('errs wide between ν = 1 and 3 and falls as ν grows', () => {
    const values = ['1', '1.5', '2', '2.5', '3', '3.5', '6', '60'].map((nu) => studentT975(new Decimal(nu)));
    for (let index = 1; index < values.length; index += 1)
      expect(values[index]!.lessThan(values[index - 1]!)).toBe(true);
    // Exact t(0.975, 1.5) ≈ 6.22: the interpolation is wider, never narrower.
    expect(studentT975(new Decimal('1.5')).greaterThan('6.22')).toBe(true);
  });
});

describe('welchInterval', () => {
  it('gives the worked example: variant [12, 14, 16] vs control [10, 10, 13]', () => {
    const interval = welchInterval(decimals('12', '14', '16'), decimals('10', '10', '13'));
    expect(interval.effect.toString()).toBe('3');
    expect(round(sampleVariance(decimals('12', '14', '16')))).toBe('4');
    expect(round(sampleVariance(decimals('10', '10', '13')))).toBe('3');
    // se² = 4/3 + 3/3 = 7/3
    expect(round(interval.standardError, 4)).toBe('1.5275');
    // ν = (7/3)² / ((4/3)²/2 + 1²/2) = (49/9) / (25/18) = 3.92
    expect(round(interval.degreesOfFreedom!, 2)).toBe('3.92');
    // t(0.975, 3.92) ≈ 2.798 (tables: 2.776 at 4, 2.807 at 3.9): 3 ± 4.27
    expect(round(interval.lower, 2)).toBe('-1.27');
    expect(round(interval.upper, 2)).toBe('7.27');
  });

  it('is symmetric: swapping the groups negates the effect and mirrors the interval', () => {
    const a = decimals('5.5', '7.25', '9', '4');
    const b = decimals('1', '2.5', '3', '1.75', '2');
    const forward = welchInterval(a, b);
    const backward = welchInterval(b, a);
    expect(forward.effect.negated().equals(backward.effect)).toBe(true);
    expect(forward.lower.negated().equals(backward.upper)).toBe(true);
  });

  it('is the point when neither group varies', () => {
    const interval = welchInterval(decimals('2', '2'), decimals('1', '1', '1'));
    expect([interval.effect, interval.lower, interval.upper].map((value) => value.toString())).toEqual(['1', '1', '1']);
    expect(interval.degreesOfFreedom).toBeNull();
  });

  it('refuses a group of fewer than two', () => {
    expect(() => welchInterval(decimals('1'), decimals('1', '2'))).toThrow(TooFewObservationsError);
  });
});
