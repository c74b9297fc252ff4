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
