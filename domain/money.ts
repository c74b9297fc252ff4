import { Decimal as DecimalBase } from 'decimal.js';
import { currencyMinorUnits } from '../contracts/currency.ts';
import { TallyError } from '../contracts/tally-error.ts';

/**
 * The one decimal type for money and quantities. 60 significant digits hold any quantity of
 * the event contract (20 integer + 12 fraction digits) times any price with room to spare, so
 * no arithmetic step rounds implicitly; rounding happens only in the named helpers below, each
 * stating its direction.
 */
export const Decimal = DecimalBase.clone({
  precision: 60,
  rounding: DecimalBase.ROUND_HALF_UP,
  toExpNeg: -60,
  toExpPos: 60,
});
export type Decimal = InstanceType<typeof Decimal>;

export class UnknownCurrencyError extends TallyError {
  constructor(readonly currency: string) {
    super('unknown_currency', `currency ${currency} has no known minor unit (ISO 4217)`, { permanent: true });
  }
}

export function minorUnits(currency: string): number {
  const digits = currencyMinorUnits(currency);
  if (digits === undefined) throw new UnknownCurrencyError(currency);
  return digits;
}

export function decimal(value: string | Decimal): Decimal {
  return new Decimal(value);
}

/** Rounds half-up (away from zero at .5) to the currency's minor unit: the rounding point of SPEC §2 rules 6-8. */
export function roundMoneyHalfUp(amount: Decimal, currency: string): Decimal {
  return amount.toDecimalPlaces(minorUnits(currency), Decimal.ROUND_HALF_UP);
}

/** An amount as the invoice prints it: a string with exactly the currency's minor digits ("-0.00" never appears). */
export function formatMoney(amount: Decimal, currency: string): string {
  const digits = minorUnits(currency);
  const rounded = amount.toDecimalPlaces(digits, Decimal.ROUND_HALF_UP);
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed formats an already-rounded decimal; no float involved
  return (rounded.isZero() ? new Decimal(0) : rounded).toFixed(digits);
}

/** An amount in integer minor units as a string (e.g. "12.34" USD → "1234"), for providers that take cents. */
export function toMinorUnitsString(amount: Decimal, currency: string): string {
  const scaled = amount.times(new Decimal(10).pow(minorUnits(currency)));
  if (!scaled.isInteger()) throw new Error(`${amount.toString()} ${currency} is not a whole number of minor units`);
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed of an integer; no float involved
  return scaled.toFixed(0);
}

/** A quantity or unrounded amount as a plain decimal string, no exponent, no trailing zeros. */
export function formatDecimal(value: Decimal): string {
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed() without digits prints the exact value
  return value.isZero() ? '0' : value.toFixed();
}

export function sumDecimals(values: Iterable<Decimal>): Decimal {
  let total = new Decimal(0);
  for (const value of values) total = total.plus(value);
  return total;
}

/**
 * Amounts in several currencies, never added together: currency code → decimal string. A backfill
 * over USD and EUR customers has a USD total and a EUR total, not one number.
 */
export type AmountsByCurrency = Readonly<Record<string, string>>;

/**
 * Sums amounts per currency, exactly (no rounding: the amounts are money already), each total
 * formatted by `format` (the currency's minor digits by default); codes in alphabetical order.
 */
export function sumByCurrency(
  amounts: Iterable<{ readonly currency: string; readonly amount: string }>,
  format: (total: Decimal, currency: string) => string = formatMoney,
): AmountsByCurrency {
  const totals = new Map<string, Decimal>();
  for (const { currency, amount } of amounts)
    totals.set(currency, (totals.get(currency) ?? new Decimal(0)).plus(amount));
  return Object.fromEntries(
    [...totals.keys()].sort().map((currency) => [currency, format(totals.get(currency) as Decimal, currency)]),
  );
}

const DECIMAL_STRING = /^-?\d+(\.\d+)?$/;

/**
 * An amount as people read it (the CLI, the console, the demo): at least the currency's minor digits
 * (`100` USD → `100.00`, `12.5` → `12.50`, `120` JPY → `120`), never rounded, so an unrounded figure
 * (a tier at a sub-cent price, a unit price) keeps every digit it has (`0.0015` stays `0.0015`). An
 * amount that is not a decimal string, or a code that is not a known currency, is shown as it is.
 */
export function displayMoney(amount: string, currency: string | undefined): string {
  const digits = currency === undefined ? undefined : currencyMinorUnits(currency);
  if (digits === undefined || !DECIMAL_STRING.test(amount)) return amount;
  const value = new Decimal(amount);
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed with at least the value's own digits: pads, never rounds
  return (value.isZero() ? new Decimal(0) : value).toFixed(Math.max(digits, value.decimalPlaces()));
}

/**
 * An amount with its currency code, as every money figure in the terminal is printed (the CLI, the
 * demo): `-250.00 USD`, `0.0015 USD`, `120 JPY` (`displayMoney`: padded, never rounded).
 */
export function describeMoney(amount: string, currency: string): string {
  return `${displayMoney(amount, currency)} ${currency}`;
}

/** `30.00 EUR, 100.00 USD` (alphabetical, each as `describeMoney` shows it); `0` when there is no amount at all. */
export function describeAmountsByCurrency(amounts: AmountsByCurrency): string {
  const currencies = Object.keys(amounts).sort();
  return currencies.length === 0
    ? '0'
    : currencies.map((currency) => describeMoney(amounts[currency] ?? '', currency)).join(', ');
}
