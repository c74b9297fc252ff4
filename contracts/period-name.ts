import { z } from 'zod';
import { TallyError } from './tally-error.ts';

/**
 * A billing period's name: a calendar month in UTC, `YYYY-MM` (SPEC §3). One strict type for the CLI,
 * workflows, SQL and files. Years are limited to 2000–2199: a two-digit year written as `0026` is a
 * typo, never a period Tally bills (JavaScript's Date.UTC maps years 0–99 to 1900–1999), `9999-12`
 * has no next month an ISO instant can name, and a year past 2199 is a mistyped one far more often
 * than a contract term. The database holds the same rule (migration 0150). See
 * docs/decisions/bad-input.md.
 */
export const PERIOD_NAME_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;
export const FIRST_PERIOD_YEAR = 2000;
export const LAST_PERIOD_YEAR = 2199;

/** Why `text` is not a period name, or undefined when it is one. */
export function periodNameProblem(text: string): string | undefined {
  const match = PERIOD_NAME_PATTERN.exec(text);
  if (match === null) return `a period is a month written YYYY-MM (e.g. 2026-10), not ${JSON.stringify(text)}`;
  const year = Number.parseInt(match[1] as string, 10);
  if (year < FIRST_PERIOD_YEAR || year > LAST_PERIOD_YEAR) {
    return `period ${text} is outside the years Tally bills (${FIRST_PERIOD_YEAR}–${LAST_PERIOD_YEAR}); was the year mistyped?`;
  }
  return undefined;
}

export class InvalidPeriodError extends TallyError {
  constructor(readonly period: string) {
    super('invalid_period', periodNameProblem(period) ?? `not a period: ${JSON.stringify(period)}`, {
      permanent: true,
    });
  }
}

/** Throws InvalidPeriodError unless `text` is a period name; returns it. */
export function assertPeriodName(text: string): string {
  if (periodNameProblem(text) !== undefined) throw new InvalidPeriodError(text);
  return text;
}

export const PeriodName = z.string().superRefine((text, context) => {
  const problem = periodNameProblem(text);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});
