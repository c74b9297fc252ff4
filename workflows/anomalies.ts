import { ActivityFailure, executeChild, proxyActivities } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AnomalyActivities } from '../activities/index.ts';
import {
  anomalyDayWorkflowId,
  type AnomalyDayInput,
  type AnomalyDaySummary,
  type AnomalyLauncherInput,
} from './anomaly-definitions.ts';

/**
 * Daily anomaly detection (SPEC §10). The daily Temporal Schedule starts `anomalyLauncherWorkflow`,
 * which starts the scan of the day before under a deterministic id: 1 detect and record the day's
 * anomalies, routing each new one → 2 deliver every queued alert (retried with backoff; what still
 * fails stays queued for the next run).
 */

function profiles(stepTimeoutMs = 120_000) {
  return {
    database: proxyActivities<AnomalyActivities>({
      startToCloseTimeout: stepTimeoutMs * 5,
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
    }),
    /** Webhook targets: a failing one is tried again with backoff, a few times a run. */
    webhooks: proxyActivities<AnomalyActivities>({
      startToCloseTimeout: stepTimeoutMs,
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
    }),
  };
}

/** Started by the daily schedule: scans the UTC day before the one it runs in, once. */
export async function anomalyLauncherWorkflow(
  input: AnomalyLauncherInput,
): Promise<AnomalyDaySummary | { readonly alreadyRunning: string }> {
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const workflowId = anomalyDayWorkflowId(input.taskQueue, day);
  try {
    return await executeChild(anomalyDayWorkflow, {
      workflowId,
      args: [{ day, ...(input.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: input.stepTimeoutMs }) }],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { alreadyRunning: workflowId };
    throw error;
  }
}

/** One day's scan: both steps idempotent, so a rerun of the day (a trigger, a retry) alerts nothing twice. */
export async function anomalyDayWorkflow(input: AnomalyDayInput): Promise<AnomalyDaySummary> {
  const { database, webhooks } = profiles(input.stepTimeoutMs);
  // 1. Detect, record and route.
  const scan = await database.detectDayAnomalies({ day: input.day });
  // 2. Deliver (this day's alerts and any left from earlier runs).
  let delivered = 0;
  let undelivered = false;
  try {
    delivered = (await webhooks.deliverAnomalyAlerts()).delivered;
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    undelivered = true;
  }
  return { ...scan, delivered, undelivered };
}
