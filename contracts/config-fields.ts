import { Decimal } from 'decimal.js';
import { z } from 'zod';
import { currencyMinorUnits } from './currency.ts';

/**
 * Field types shared by the YAML config files people edit (rate cards, contracts). Numbers that
 * mean money or quantities are quoted decimal strings: a YAML number is a float and is refused
 * with a message that says how to write it.
 */

const DECIMAL_PATTERN = /^\d{1,20}(\.\d{1,12})?$/;

/** A non-negative decimal written as a quoted string ("1000", "0.002"). */
export function decimalText(what: string) {
  return z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? 'is required'
          : `${what} must be a decimal in quotes, e.g. "0.002" (a YAML number would be a float)`,
    })
    .regex(
      DECIMAL_PATTERN,
      `${what} must be a non-negative decimal like "1000" or "0.002" (at most 20 digits before the point and 12 after)`,
    );
}

/**
 * Compares two decimal strings exactly (decimal.js comparison does not round). NaN when either is
 * not a decimal: every comparison with it is false, so a cross-field check adds nothing to the
 * field's own refusal (zod runs object checks even when a field already failed its pattern).
 */
export function compareDecimalText(a: string, b: string): number {
  if (!DECIMAL_PATTERN.test(a.replace(/^-/, '')) || !DECIMAL_PATTERN.test(b.replace(/^-/, ''))) return Number.NaN;
  return new Decimal(a).cmp(new Decimal(b));
}

/** True for a decimal string equal to zero; false for anything else, a malformed one included. */
export function isZeroDecimalText(value: string): boolean {
  return DECIMAL_PATTERN.test(value) && new Decimal(value).isZero();
}

/** Digits after the decimal point as written ("12.50" → 2). */
function fractionDigits(value: string): number {
  const point = value.indexOf('.');
  return point < 0 ? 0 : value.length - point - 1;
}

/** An amount of money must be a whole number of the currency's minor units ("12.345" USD is refused). */
export function moneyTextProblem(value: string, currency: string): string | undefined {
  const digits = currencyMinorUnits(currency);
  if (digits === undefined) return undefined; // the currency field reports itself
  if (!DECIMAL_PATTERN.test(value.replace(/^-/, ''))) return undefined; // so does the amount
  return fractionDigits(value) > digits
    ? `${value} has more decimals than ${currency} has minor units (${digits})`
    : undefined;
}

export const CurrencyCode = z
  .string()
  .regex(/^[A-Z]{3}$/, 'currency is an ISO 4217 code like "USD"')
  .refine((code) => currencyMinorUnits(code) !== undefined, {
    message: 'currency has no known minor unit (ISO 4217); Tally cannot round it',
  });

/** Stable ids written by people: price ids, fee ids, discount ids, credit ids. */
export const ConfigId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'ids are 1-64 chars of [A-Za-z0-9._-], starting with a letter or digit');

/** A rate card's name, which is also its folder under ratecards/. */
export const RateCardName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'rate card names are 1-64 chars of [a-z0-9_-] (the folder name)');

/** A metadata key of the event contract. */
export const MetadataKeyText = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'metadata keys match ^[a-z][a-z0-9_]{0,63}$');

/**
 * An RFC 3339 instant with an offset, at most millisecond precision, normalized to UTC
 * `YYYY-MM-DDTHH:MM:SS.sssZ` so that equal instants are equal strings.
 */
export const InstantText = z.iso
  .datetime({
    offset: true,
    error: (issue) =>
      issue.input === undefined
        ? 'is required'
        : 'must be an RFC 3339 instant with an offset, e.g. 2026-10-01T00:00:00Z',
  })
  .refine((text) => !/\.\d{4,}/.test(text), { message: 'at most millisecond precision' })
  .transform((text) => new Date(text).toISOString());

const DURATION_PATTERN = /^(\d{1,9})(ms|s|m|h|d)$/;
const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration like `1h`, `30m`, `72h`, `2d`. */
export const DurationText = z
  .string()
  .regex(DURATION_PATTERN, 'a duration like 30m, 1h, 72h or 2d (units ms, s, m, h, d)');

/** Milliseconds of a duration written like `72h`. Throws on text DurationText refuses. */
export function durationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number.parseInt(match[1] as string, 10) * (DURATION_UNIT_MS[match[2] as string] as number);
}
