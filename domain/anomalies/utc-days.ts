/**
 * UTC calendar days as the anomaly detector counts them: `YYYY-MM-DD` text at the edges, a day
 * number (days since 1970-01-01) inside, so that "the same weekday a week earlier" is `day - 7`.
 */

const DAY_MS = 86_400_000;
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** The day number of `YYYY-MM-DD` (UTC); undefined for text that is not a real calendar day. */
export function dayNumber(day: string): number | undefined {
  if (!DAY_PATTERN.test(day)) return undefined;
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) return undefined;
  return Math.floor(ms / DAY_MS);
}

/** The UTC day number of an RFC 3339 instant with an offset (`2026-10-03T23:30:00-02:00` → 2026-10-04). */
export function dayNumberOfInstant(instant: string): number {
  return Math.floor(Date.parse(instant) / DAY_MS);
}

export function dayText(dayNumberValue: number): string {
  return new Date(dayNumberValue * DAY_MS).toISOString().slice(0, 10);
}
