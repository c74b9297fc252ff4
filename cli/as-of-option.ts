import { InvalidArgumentError } from 'commander';
import { dayNumber } from '../domain/anomalies/utc-days.ts';

/** `--as-of`: the reports read today's facts as if the clock showed this time (SPEC §10; cli/README). */
export const AS_OF_HELP =
  'read as if it were this time: a UTC day (YYYY-MM-DD, its start) or an ISO instant (default: now)';

/**
 * A UTC day (`2026-10-31`, meaning 00:00 UTC that day) or an ISO 8601 instant with its offset
 * (`2026-10-31T18:00:00Z`), as the instant it names in ISO form.
 */
export function asOfOption(value: string): string {
  if (dayNumber(value) !== undefined) return `${value}T00:00:00.000Z`;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)
    ? Date.parse(value)
    : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('a UTC day (YYYY-MM-DD) or an ISO instant with its offset');
  return new Date(ms).toISOString();
}
