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
  /** Customers listed per page (default 200; tests use a few). */
  readonly pageSize?: number;
  /**
   * History events after which a run continues as new between pages (default 10,000, far below
   * Temporal's 50,000-event limit; tests use a few dozen).
   */
  readonly historyBudget?: number;
  /** Where a run that continued as new picks up, with what the runs before it counted. */
  readonly resume?: RevenueDayProgress;
}

/** What the runs of one day so far did, carried across continue-as-new. */
export interface RevenueDayProgress {
  /** The last customer id listed (the next page starts after it). */
  readonly after: string;
  readonly customers: number;
  readonly posted: number;
  readonly unchanged: number;
  readonly skipped: number;
  /** The failures listed so far (at most a few hundred), and how many there were in all. */
  readonly failures: readonly string[];
  readonly failed: number;
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
