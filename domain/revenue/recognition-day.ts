import { billingPeriod, type BillingPeriod } from '../period.ts';
import { RevenueError } from './revenue-error.ts';

const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** A UTC calendar day of a billing period: the unit daily recognition runs in. */
export interface RecognitionDay {
  /** `YYYY-MM-DD`. */
  readonly day: string;
  /** The billing period (`YYYY-MM`) the day is in. */
  readonly period: string;
  readonly billingPeriod: BillingPeriod;
  /** 1-based day of the month, and the month's number of days. */
  readonly dayOfPeriod: number;
  readonly daysInPeriod: number;
  readonly isLastDayOfPeriod: boolean;
  /** Inclusive start and exclusive end of the day, ISO 8601 UTC. */
  readonly start: string;
  readonly end: string;
}

/** The day named `text` (`YYYY-MM-DD`, a real date in a period Tally bills); RevenueError otherwise. */
export function recognitionDay(text: string): RecognitionDay {
  const match = DAY_PATTERN.exec(text);
  const invalid = (): RevenueError =>
    new RevenueError('invalid_day', `${JSON.stringify(text)} is not a day: expected YYYY-MM-DD, a real UTC date`);
  if (!match) throw invalid();
  const [year, month, dayOfMonth] = [match[1], match[2], match[3]].map((part) => Number.parseInt(part ?? '', 10)) as [
    number,
    number,
    number,
  ];
  const start = new Date(Date.UTC(year, month - 1, dayOfMonth));
  if (start.getUTCFullYear() !== year || start.getUTCMonth() !== month - 1 || start.getUTCDate() !== dayOfMonth)
    throw invalid();
  const period = billingPeriod(text.slice(0, 7));
  const daysInPeriod = Math.round((Date.parse(period.end) - Date.parse(period.start)) / DAY_MS);
  return {
    day: text,
    period: period.name,
    billingPeriod: period,
    dayOfPeriod: dayOfMonth,
    daysInPeriod,
    isLastDayOfPeriod: dayOfMonth === daysInPeriod,
    start: start.toISOString(),
    end: new Date(start.getTime() + DAY_MS).toISOString(),
  };
}

/** The day before the UTC day of `instant`: what a run shortly after midnight recognizes. */
export function dayBefore(instant: string): string {
  const date = new Date(instant);
  if (Number.isNaN(date.getTime()))
    throw new RevenueError('invalid_day', `${JSON.stringify(instant)} is not an instant`);
  const startOfDay = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  return new Date(startOfDay - DAY_MS).toISOString().slice(0, 10);
}
