/**
 * What clients need to talk to the daily anomaly workflows (SPEC §10): ids and inputs. Importable from
 * workers, the CLI, activities and tests without pulling in workflow code.
 */

/** The daily Temporal Schedule of a deployment (one per task queue). */
export function anomalyScheduleId(taskQueue: string): string {
  return `anomaly-daily:${taskQueue}`;
}

/**
 * The scan of one UTC day: a deterministic id, so the schedule's launcher, a manual trigger and a
 * retry of the same day find one scan (Temporal 1.29 suffixes the ids of scheduled workflows with
 * their time, so the schedule starts a launcher that starts this).
 */
export function anomalyDayWorkflowId(taskQueue: string, day: string): string {
  return `anomaly-day:${taskQueue}:${day}`;
}

export interface AnomalyLauncherInput {
  readonly taskQueue: string;
  /** Per-step timeout of the scan it starts (default 2 minutes; tests use seconds). */
  readonly stepTimeoutMs?: number;
}

export interface AnomalyDayInput {
  /** The UTC day scored, `YYYY-MM-DD`. */
  readonly day: string;
  readonly stepTimeoutMs?: number;
}

export interface AnomalyDaySummary {
  readonly day: string;
  readonly series: number;
  readonly anomalies: number;
  readonly recorded: number;
  readonly routed: number;
  readonly suppressed: number;
  readonly delivered: number;
  /** Deliveries still failing after the step's retries: the next day's run sends them first. */
  readonly undelivered: boolean;
}
