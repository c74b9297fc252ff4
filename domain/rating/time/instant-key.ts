import { RatingInputError } from '../rating-input-error.ts';

const UTC_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An instant as a fixed-width UTC string with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so
 * instants compare as text. This is the precision PostgreSQL keeps in `timestamptz` and the text
 * `to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` prints, so aggregates built in
 * SQL and offline order events identically. Digits beyond the microsecond are rounded half-up, as
 * PostgreSQL rounds them on input.
 *
 * @example instantKey('2026-10-14T11:30:00.5+02:00') === '2026-10-14T09:30:00.500000Z'
 */
export function instantKey(text: string): string {
  // The form JavaScript's toISOString writes (most events): milliseconds, in UTC.
  if (isUtcMillis(text)) return `${text.slice(0, 23)}000Z`;
  if (UTC_MICROS.test(text)) {
    const point = text.indexOf('.', 19);
    const fraction = point < 0 ? '' : text.slice(point + 1, -1);
    return `${text.slice(0, 19)}.${fraction.padEnd(6, '0')}Z`;
  }
  const match = RFC3339.exec(text);
  if (!match) throw new RatingInputError('invalid_instant', `not an RFC 3339 instant: ${JSON.stringify(text)}`);
  const offset = match[4] === 'z' ? 'Z' : (match[4] as string);
  let wholeSecondsMs = Date.parse(`${match[1] as string}T${match[2] as string}${offset}`);
  if (Number.isNaN(wholeSecondsMs))
    throw new RatingInputError('invalid_instant', `not a valid instant: ${JSON.stringify(text)}`);
  const digits = match[3] ?? '';
  let micros = digits.slice(0, 6).padEnd(6, '0');
  if (digits.length > 6 && (digits[6] as string) >= '5') {
    const rounded = Number.parseInt(micros, 10) + 1;
    if (rounded === 1_000_000) {
      wholeSecondsMs += 1000;
      micros = '000000';
    } else {
      micros = String(rounded).padStart(6, '0');
    }
  }
  return `${new Date(wholeSecondsMs).toISOString().slice(0, 19)}.${micros}Z`;
}

/** `YYYY-MM-DDTHH:MM:SS.sssZ` exactly (a case of UTC_MICROS), checked without a pattern: the inner loop of offline rating. */
const UTC_MILLIS_SHAPE = '0000-00-00T00:00:00.000Z';

function isUtcMillis(text: string): boolean {
  if (text.length !== UTC_MILLIS_SHAPE.length) return false;
  for (let index = 0; index < UTC_MILLIS_SHAPE.length; index += 1) {
    const expected = UTC_MILLIS_SHAPE.charCodeAt(index);
    const actual = text.charCodeAt(index);
    if (expected === 48 /* 0: any digit */ ? actual < 48 || actual > 57 : actual !== expected) return false;
  }
  return true;
}

/** Milliseconds since the epoch of an instant (sub-millisecond digits dropped): for durations, never for ordering events. */
export function instantMs(text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new RatingInputError('invalid_instant', `not a valid instant: ${JSON.stringify(text)}`);
  return ms;
}
