import { describe, expect, it } from 'vitest';
import { billingPeriod, InvalidPeriodError, nextPeriod, periodOf } from './period.ts';

describe('billingPeriod: one strict period type', () => {
  it.each([
    ['2026-10', '2026-10-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z'],
    ['2026-12', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2000-01', '2000-01-01T00:00:00.000Z', '2000-02-01T00:00:00.000Z'],
    ['2199-12', '2199-12-01T00:00:00.000Z', '2200-01-01T00:00:00.000Z'],
  ])('%s runs from %s to %s', (name, start, end) => {
    expect(billingPeriod(name)).toEqual({ name, start, end });
  });

  it.each([
    // Date.UTC maps years 0–99 to 1900–1999: 0026-10 must never become 1926-10.
    ['0026-10', /outside the years Tally bills \(2000–2199\)/],
    ['0000-01', /outside the years Tally bills/],
    ['1999-12', /outside the years Tally bills/],
    ['2200-01', /outside the years Tally bills/],
    ['9999-12', /outside the years Tally bills/],
    ['2026-13', /YYYY-MM/],
    ['2026-1', /YYYY-MM/],
    [' 2026-10', /YYYY-MM/],
    ['2026-10\n', /YYYY-MM/],
    ['２０２６-10', /YYYY-MM/],
  ])('refuses %j, saying why', (name, reason) => {
    expect(() => billingPeriod(name)).toThrow(InvalidPeriodError);
    expect(() => billingPeriod(name)).toThrow(reason);
  });

  it('refuses the period of an instant outside the range instead of inventing one', () => {
    expect(periodOf('2026-10-15T00:00:00Z').name).toBe('2026-10');
    expect(() => periodOf('1926-10-15T00:00:00Z')).toThrow(InvalidPeriodError);
    expect(() => nextPeriod(billingPeriod('2199-12'))).toThrow(/outside the years Tally bills/);
  });
});
