import { TallyError } from '../contracts/tally-error.ts';

/** Billing periods are calendar months in UTC, named `YYYY-MM` (SPEC §3). */
export const PERIOD_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

export interface BillingPeriod {
  readonly name: string;
  /** Inclusive, ISO 8601 UTC, e.g. 2026-10-01T00:00:00.000Z. */
  readonly start: string;
  /** Exclusive. */
  readonly end: string;
}

export class InvalidPeriodError extends TallyError {
  constructor(readonly period: string) {
    super('invalid_period', `period must be YYYY-MM, got ${JSON.stringify(period)}`, { permanent: true });
  }
}

export function billingPeriod(name: string): BillingPeriod {
  const match = PERIOD_PATTERN.exec(name);
  if (!match) throw new InvalidPeriodError(name);
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
  const name = `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
  return billingPeriod(name);
}

export function nextPeriod(period: BillingPeriod): BillingPeriod {
  return periodOf(period.end);
}

export function previousPeriod(period: BillingPeriod): BillingPeriod {
  return periodOf(new Date(new Date(period.start).getTime() - 1));
}
