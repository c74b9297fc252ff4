import { InvalidPeriodError, PERIOD_NAME_PATTERN, periodNameProblem } from '../contracts/period-name.ts';

export { InvalidPeriodError, periodNameProblem } from '../contracts/period-name.ts';

/**
 * Billing periods are calendar months in UTC, named `YYYY-MM` (SPEC §3), in the years Tally bills:
 * one rule, contracts/period-name.ts, for the CLI, the workflows, the activities and files.
 */
const PERIOD_PATTERN = PERIOD_NAME_PATTERN;

/** True when `text` is a period Tally bills (the pattern and the year range). */
function isPeriodName(text: string): boolean {
  return periodNameProblem(text) === undefined;
}

export interface BillingPeriod {
  readonly name: string;
  /** Inclusive, ISO 8601 UTC, e.g. 2026-10-01T00:00:00.000Z. */
  readonly start: string;
  /** Exclusive. */
  readonly end: string;
}

/** The period named `name`; InvalidPeriodError, saying why, for anything but a period Tally bills. */
export function billingPeriod(name: string): BillingPeriod {
  const match = PERIOD_PATTERN.exec(name);
  if (!match || !isPeriodName(name)) throw new InvalidPeriodError(name);
  const year = Number.parseInt(match[1] as string, 10);
  const monthIndex = Number.parseInt(match[2] as string, 10) - 1;
  return {
    name,
    start: new Date(Date.UTC(year, monthIndex, 1)).toISOString(),
    end: new Date(Date.UTC(year, monthIndex + 1, 1)).toISOString(),
  };
}

/** The period an instant falls in (event time decides the period). */
export function periodOf(instant: string | Date): BillingPeriod {
  const date = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(date.getTime())) throw new InvalidPeriodError(String(instant));
  const name = `${String(date.getUTCFullYear()).padStart(4, '0')}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
  return billingPeriod(name);
}

export function nextPeriod(period: BillingPeriod): BillingPeriod {
  return periodOf(period.end);
}

export function previousPeriod(period: BillingPeriod): BillingPeriod {
  return periodOf(new Date(new Date(period.start).getTime() - 1));
}
