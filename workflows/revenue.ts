import { ActivityFailure, executeChild, proxyActivities } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { RevenueActivities } from '../activities/index.ts';
import {
  revenueDayWorkflowId,
  type RevenueDayInput,
  type RevenueDaySummary,
  type RevenueLauncherInput,
} from './revenue-definitions.ts';

/**
 * Daily revenue recognition (SPEC §11). The daily Temporal Schedule starts
 * `revenueLauncherWorkflow`, which starts the previous UTC day's `revenueDayWorkflow` under a
 * deterministic id: 1 list the customers whose contract covers the day's period → 2 recognize each
 * customer's day (idempotent per customer and day: a rerun posts nothing new) → 3 reconcile the
 * day's period and the one before (differences become `reconciliation` exceptions, once).
 */

/** Customers recognized at once: each is a few queries and one transaction. */
const BATCH = 8;
const DAY_MS = 86_400_000;

/** Started by the daily schedule: recognizes the day that ended before it started, once. */
export async function revenueLauncherWorkflow(
  input: RevenueLauncherInput,
): Promise<RevenueDaySummary | { readonly alreadyRunning: string }> {
  const now = Date.now();
  const day = new Date(now - (now % DAY_MS) - DAY_MS).toISOString().slice(0, 10);
  const workflowId = revenueDayWorkflowId(input.taskQueue, day);
  try {
    return await executeChild(revenueDayWorkflow, {
      workflowId,
      args: [{ day, ...(input.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: input.stepTimeoutMs }) }],
    });
  } catch (error) {
    // The day is still being recognized (a manual trigger on top of the schedule): that run does the work.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { alreadyRunning: workflowId };
    throw error;
  }
}

/** One day's recognition for every customer; one customer's failure never holds the others. */
export async function revenueDayWorkflow(input: RevenueDayInput): Promise<RevenueDaySummary> {
  const stepTimeoutMs = input.stepTimeoutMs ?? 120_000;
  const database = proxyActivities<RevenueActivities>({
    startToCloseTimeout: stepTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
  });
  // 1. The customers whose contract covers the day's period.
  const { customerIds, problems } = await database.listRecognitionCustomers({ day: input.day });
  const failures = [...problems];
  let posted = 0;
  let unchanged = 0;
  let skipped = 0;
  // 2. Each customer's day, a few at a time.
  for (let start = 0; start < customerIds.length; start += BATCH) {
    const batch = customerIds.slice(start, start + BATCH);
    const outcomes = await Promise.all(
      batch.map((customerId) =>
        database.recognizeCustomerDay({ customerId, day: input.day }).then(
          (outcome) => ({ customerId, outcome }),
          (error: unknown) => ({ customerId, error }),
        ),
      ),
    );
    for (const result of outcomes) {
      if ('error' in result) {
        const cause = result.error instanceof ActivityFailure ? result.error.cause : result.error;
        failures.push(`${result.customerId}: ${cause instanceof Error ? cause.message : String(cause)}`);
      } else if (result.outcome.status === 'recognized') {
        if (result.outcome.entryKey === null) unchanged += 1;
        else posted += 1;
      } else {
        skipped += 1;
      }
    }
  }
  // 3. The daily reconciliation check: the day's period and the one before, differences as exceptions.
  const reconciliation = await database.reconcileRecentPeriods({ day: input.day });
  return { day: input.day, customers: customerIds.length, posted, unchanged, skipped, failures, reconciliation };
}
