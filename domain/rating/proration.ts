import { Decimal, formatDecimal } from '../money.ts';
import { instantMs } from './instant-key.ts';

/** A half-open stretch of time [start, end) in epoch milliseconds. */
export interface TimeRange {
  readonly startMs: number;
  readonly endMs: number;
}

export function timeRange(start: string, end: string): TimeRange {
  return { startMs: instantMs(start), endMs: instantMs(end) };
}

/** Milliseconds that two ranges share (0 when they do not meet). */
export function overlapMs(a: TimeRange, b: TimeRange): number {
  return Math.max(0, Math.min(a.endMs, b.endMs) - Math.max(a.startMs, b.startMs));
}

/** The contract's active window: from starts_at (or always) until ends_at (or forever). */
export function contractRange(startsAt: string | undefined, endsAt: string | undefined): TimeRange {
  return {
    startMs: startsAt === undefined ? Number.NEGATIVE_INFINITY : instantMs(startsAt),
    endMs: endsAt === undefined ? Number.POSITIVE_INFINITY : instantMs(endsAt),
  };
}

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
