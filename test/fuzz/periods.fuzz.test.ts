import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIRST_PERIOD_YEAR, LAST_PERIOD_YEAR } from '../../contracts/period-name.ts';
import { billingPeriod, InvalidPeriodError, nextPeriod, periodNameProblem, periodOf } from '../../domain/period.ts';
import { CLASSIC_PERIODS } from './classics.ts';
import { fuzzParameters, fuzzTestTimeoutMs } from './fuzz-budget.ts';

// One strict period type: any text is a period Tally bills (2000–2199, a month that starts where
// the previous one ended) or is refused with a reason; never a period of another century.
const periodText = fc.oneof(
  fc.constantFrom(...CLASSIC_PERIODS),
  fc
    .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }))
    .map(([year, month]) => `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`),
  fc.string({ maxLength: 10 }),
);

describe('period names', () => {
  it(
    'any text: a period in range whose bounds name it, or InvalidPeriodError saying why',
    () => {
      fc.assert(
        fc.property(periodText, (text) => {
          const problem = periodNameProblem(text);
          if (problem === undefined) {
            const period = billingPeriod(text);
            const year = Number.parseInt(text.slice(0, 4), 10);
            expect(year).toBeGreaterThanOrEqual(FIRST_PERIOD_YEAR);
            expect(year).toBeLessThanOrEqual(LAST_PERIOD_YEAR);
            expect(period.start.startsWith(`${text}-01T00:00:00.000Z`)).toBe(true);
            expect(Date.parse(period.end)).toBeGreaterThan(Date.parse(period.start));
            expect(periodOf(period.start).name).toBe(text);
            expect(periodOf(new Date(Date.parse(period.end) - 1)).name).toBe(text);
            if (text !== `${LAST_PERIOD_YEAR}-12`) expect(nextPeriod(period).start).toBe(period.end);
          } else {
            expect(() => billingPeriod(text)).toThrow(InvalidPeriodError);
            expect(problem).toMatch(/YYYY-MM|outside the years Tally bills/);
          }
        }),
        fuzzParameters(),
      );
    },
    fuzzTestTimeoutMs(),
  );
});
