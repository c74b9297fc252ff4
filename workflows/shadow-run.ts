import {
  condition,
  allHandlersFinished,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ShadowRunActivities } from '../activities/index.ts';
import { customerPeriodWorkflow } from './customer-period.ts';
import {
  customerPeriodWorkflowId,
  decideUpdate,
  previousPeriodName,
  sameDecision,
  type DecisionOutcome,
  type ReviewDecision,
  shadowRunProgressQuery,
  type ShadowRunInput,
  type ShadowRunProgress,
} from './definitions.ts';

/** How many customers' shadow closes run at once, and how many are compared per activity (defaults). */
const DEFAULT_CONCURRENCY = 20;
const COMPARE_BATCH = 100;

export interface ShadowRunResult {
  readonly runId: string;
  readonly source: string;
  readonly period: string;
  readonly customers: number;
  readonly matches: number;
  readonly exceptions: number;
}

/**
 * A shadow run of one legacy source and period (SPEC §6): 1 plan (record the run and the legacy
 * version it compares against; list the customers) → 2 close every customer with a contract in
 * shadow mode (the customer-period workflow: snapshot and rate, nothing else), a bounded number at
 * once → 3 compare every customer, in batches, recording each result → 4 complete. Started by
 * `tally shadow run` or by a schedule; without a period it shadows the month before it started.
 */
export async function shadowRunWorkflow(input: ShadowRunInput): Promise<ShadowRunResult> {
  const steps = proxyActivities<ShadowRunActivities>({
    startToCloseTimeout: input.stepTimeoutMs ?? 120_000,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
  const runId = input.runId ?? workflowInfo().workflowId;
  const period = input.period ?? previousPeriodName(new Date(workflowInfo().startTime).toISOString());
  const progress: { -readonly [K in keyof ShadowRunProgress]: ShadowRunProgress[K] } = {
    runId,
    source: input.source,
    period,
    stage: 'planning',
    customers: 0,
    rated: 0,
    compared: 0,
    matches: 0,
    exceptions: 0,
    openExceptions: 0,
  };
  setHandler(shadowRunProgressQuery, () => ({ ...progress }));
  // shadow_variance exceptions waiting for a person (exception id → customer), and those decided.
  const open = new Map<string, string>();
  const decided = new Map<string, { decision: ReviewDecision; decidedAt: string }>();
  setHandler(
    decideUpdate,
    async (decision): Promise<DecisionOutcome> => {
      const earlier = decided.get(decision.exceptionId);
      if (earlier !== undefined) return outcome(earlier, true);
      const customerId = open.get(decision.exceptionId) as string;
      open.delete(decision.exceptionId);
      const recorded = await steps.recordShadowDecision({
        runId,
        customerId,
        exceptionId: decision.exceptionId,
        decision,
        decidedAt: new Date(Date.now()).toISOString(),
      });
      decided.set(decision.exceptionId, recorded);
      progress.openExceptions = open.size;
      return outcome(recorded, false);
    },
    {
      // Synchronous on purpose: an async validator's result is ignored by the SDK.
      validator: (decision) => {
        const earlier = decided.get(decision.exceptionId);
        if (earlier !== undefined) {
          if (sameDecision(earlier.decision, decision)) return;
          throw new Error(
            `${decision.exceptionId} was already decided: ${earlier.decision.kind} by ${earlier.decision.reviewer} at ${earlier.decidedAt}`,
          );
        }
        if (!open.has(decision.exceptionId))
          throw new Error(`exception ${decision.exceptionId} is not an open shadow variance of run ${runId}`);
        if (!decision.reviewer.trim()) throw new Error('a decision names its reviewer');
        if (decision.kind === 'adjust')
          throw new Error(
            'a shadow variance is accepted (approve, with its explanation) or rejected; adjust is for invoices',
          );
        if (decision.kind === 'approve' && !(decision.note ?? '').trim())
          throw new Error('accepting a shadow variance needs its explanation (--note)');
        if (decision.kind === 'reject' && !decision.reason.trim()) throw new Error('reject needs a reason');
      },
    },
  );

  // 1. Plan: the run recorded once, with the legacy version it compares against.
  const plan = await steps.planShadowRun({
    runId,
    source: input.source,
    period,
    calculationVersion: input.calculationVersion,
    ...(input.customers === undefined ? {} : { customers: input.customers }),
  });
  progress.customers = plan.rated.length + plan.legacyOnly.length;

  // 2. Shadow closes, `concurrency` at once: each customer-period workflow in shadow mode, under the run's own id.
  progress.stage = 'rating';
  const queue = [...plan.rated];
  const lane = async (): Promise<void> => {
    for (let customerId = queue.shift(); customerId !== undefined; customerId = queue.shift()) {
      const close = {
        customerId,
        period,
        mode: 'shadow' as const,
        calculationVersion: input.calculationVersion,
        shadowRunId: runId,
        ...input.closeOptions,
      };
      await executeChild(customerPeriodWorkflow, {
        workflowId: customerPeriodWorkflowId(close),
        args: [close],
        ...(input.taskQueue === undefined ? {} : { taskQueue: input.taskQueue }),
      });
      progress.rated += 1;
    }
  };
  const lanes = Math.max(1, Math.min(input.concurrency ?? DEFAULT_CONCURRENCY, queue.length));
  await Promise.all(Array.from({ length: lanes }, lane));

  // 3. Compare every customer (rated and legacy-only), in batches.
  progress.stage = 'comparing';
  const everyone = [...plan.rated, ...plan.legacyOnly];
  for (let start = 0; start < everyone.length; start += COMPARE_BATCH) {
    const outcome = await steps.compareShadowCustomers({
      runId,
      period,
      calculationVersion: input.calculationVersion,
      legacyImportId: plan.legacyImportId,
      customerIds: everyone.slice(start, start + COMPARE_BATCH),
      workflowId: workflowInfo().workflowId,
    });
    for (const exception of outcome.openExceptions ?? []) open.set(exception.exceptionId, exception.customerId);
    progress.openExceptions = open.size;
    progress.compared += outcome.compared;
    progress.matches += outcome.matches;
    progress.exceptions += outcome.exceptions;
  }

  // 4. Complete: the comparison is recorded; then wait for a person's decision on each exception
  //    (accepted ones count towards readiness). Nothing is ever decided by timeout.
  await steps.completeShadowRun({ runId });
  progress.stage = open.size > 0 ? 'awaiting_review' : 'completed';
  await condition(() => open.size === 0);
  progress.stage = 'completed';
  await condition(allHandlersFinished);
  return {
    runId,
    source: input.source,
    period,
    customers: progress.customers,
    matches: progress.matches,
    exceptions: progress.exceptions,
  };

  function outcome(recorded: { decision: ReviewDecision; decidedAt: string }, repeated: boolean): DecisionOutcome {
    return {
      exceptionId: recorded.decision.exceptionId,
      decision: recorded.decision.kind,
      repeated,
      decidedBy: recorded.decision.reviewer,
      decidedAt: recorded.decidedAt,
    };
  }
}
