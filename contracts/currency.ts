/**
 * ISO 4217 minor units of the currencies Tally bills in. Config files (rate cards, contracts) are
 * checked against this table at load, so it lives with the contracts; `domain/money.ts` rounds by it.
 * A currency missing here is refused at load.
 */
const CURRENCY_MINOR_UNITS: Readonly<Record<string, number>> = {
  AUD: 2,
  BRL: 2,
  CAD: 2,
  CHF: 2,
  CNY: 2,
  CZK: 2,
  DKK: 2,
  EUR: 2,
  GBP: 2,
  HKD: 2,
  HUF: 2,
  IDR: 2,
  ILS: 2,
  INR: 2,
  ISK: 0,
  JPY: 0,
  KRW: 0,
  MXN: 2,
  NOK: 2,
  NZD: 2,
  PLN: 2,
  SEK: 2,
  SGD: 2,
  THB: 2,
  TRY: 2,
  TWD: 2,
  USD: 2,
  ZAR: 2,
  BHD: 3,
  KWD: 3,
  OMR: 3,
  JOD: 3,
  TND: 3,
  CLP: 0,
  VND: 0,
  UGX: 0,
};

/** The currency's minor digits, or undefined when the currency is not billable. */
export function currencyMinorUnits(currency: string): number | undefined {
  return Object.hasOwn(CURRENCY_MINOR_UNITS, currency) ? CURRENCY_MINOR_UNITS[currency] : undefined;
}
