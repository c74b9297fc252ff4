import { Decimal, formatDecimal } from '../../money.ts';

/** Durations are whole milliseconds, so they convert to Decimal exactly. */
export function msDecimal(ms: number): Decimal {
  return new Decimal(ms);
}

/**
 * The share `billedMs / periodMs` as the invoice prints it, to 12 decimals (half-up). Informational:
 * amounts are computed from the exact milliseconds, never from this string.
 */
export function formatShare(billedMs: number, periodMs: number): string {
  return formatDecimal(msDecimal(billedMs).div(msDecimal(periodMs)).toDecimalPlaces(12, Decimal.ROUND_HALF_UP));
}
