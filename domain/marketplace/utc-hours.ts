/**
 * UTC hours as marketplaces count them: an hour is named by its start, `YYYY-MM-DDTHH:00:00.000Z`,
 * and covers [start, start + 1 h). Instants are ISO 8601 strings; the clock is always an argument.
 */

const HOUR_MS = 3_600_000;

/** The hour that contains `instant`. */
export function hourOf(instant: string): string {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) throw new Error(`not an instant: ${JSON.stringify(instant)}`);
  return new Date(ms - (((ms % HOUR_MS) + HOUR_MS) % HOUR_MS)).toISOString();
}

export function addHours(hour: string, hours: number): string {
  return new Date(Date.parse(hour) + hours * HOUR_MS).toISOString();
}

/** The end of an hour (exclusive): the next hour's start. */
export function hourEnd(hour: string): string {
  return addHours(hour, 1);
}

/** Every hour from `from` (inclusive) to `to` (exclusive), both hour starts. */
export function hoursFrom(from: string, to: string): string[] {
  const hours: string[] = [];
  for (let hour = hourOf(from); hour < to; hour = addHours(hour, 1)) hours.push(hour);
  return hours;
}

/** `YYYY-MM` of the hour (the billing period it belongs to). */
export function periodOfHour(hour: string): string {
  return hour.slice(0, 7);
}

/** 00:00 UTC on the first day of the month after the one that contains `instant`. */
export function nextMonthStart(instant: string): string {
  const date = new Date(Date.parse(instant));
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)).toISOString();
}

export function laterOf(a: string, b: string): string {
  return a > b ? a : b;
}

export function earlierOf(a: string, b: string): string {
  return a < b ? a : b;
}
