/**
 * What clients need to talk to the daily revenue-recognition workflows (SPEC §11): ids, inputs,
 * results. Importable from workers, the CLI, activities and tests without pulling in workflow code.
 */

/** The daily Temporal Schedule of a deployment (one per task queue). */
export function revenueScheduleId(taskQueue: string): string {
  return `revenue-daily:${taskQueue}`;
}

/**
 * The recognition of one day: a deterministic id, so the schedule's launcher, a manual trigger and a
 * retry find one run of the day (Temporal 1.29 suffixes the ids of scheduled workflows with their
 * time, so the schedule starts a launcher that starts this).
 */
export function revenueDayWorkflowId(taskQueue: string, day: string): string {
  return `revenue-day:${taskQueue}:${day}`;
}

export interface RevenueLauncherInput {
  readonly taskQueue: string;
  /** Per-step timeout of the day it starts (default 2 minutes; tests use seconds). */
  readonly stepTimeoutMs?: number;
}

export interface RevenueDayInput {
  /** `YYYY-MM-DD`: the UTC day to recognize (the launcher's: the day before it runs). */
  readonly day: string;
  readonly stepTimeoutMs?: number;
}

export interface RevenueDaySummary {
  readonly day: string;
  readonly customers: number;
  /** Customers whose day posted an entry, posted nothing new, or were already done or settled. */
  readonly posted: number;
  readonly unchanged: number;
  readonly skipped: number;
  /** `<customer>: <reason>` for every customer whose day failed; the others are recognized. */
  readonly failures: readonly string[];
  /** The daily reconciliation check: differences found per period (each one a `reconciliation` exception). */
  readonly reconciliation: readonly { readonly period: string; readonly differences: number }[];
}
