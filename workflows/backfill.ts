import {
  ChildWorkflowFailure,
  condition,
  executeChild,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackfillActivities } from '../activities/index.ts';
import { formatDecimal, sumByCurrency } from '../domain/money.ts';
import {
  backfillItemWorkflowId,
  backfillProgressQuery,
  cancelBackfillSignal,
  pauseBackfillSignal,
  resumeBackfillSignal,
  type BackfillFailure,
  type BackfillInput,
  type BackfillItemInput,
  type BackfillProgress,
  type BackfillState,
} from './backfill-definitions.ts';

const DEFAULT_CONCURRENCY = 8;

/**
 * The backfill's steps are quick, keyed database transactions: local activities (no activity task's
 * round trip through the server), retried like the close's, idempotent so a crash re-running one
 * writes nothing twice.
 */
function backfillSteps(stepTimeoutMs = 120_000) {
  return proxyLocalActivities<BackfillActivities>({
    startToCloseTimeout: stepTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
}

/**
 * A backfill run (SPEC §5 step 2), workflow id `backfill:<backfill_id>`:
 * 1 refuse a stale plan, record the run → 2 one child per customer-period, at most `concurrency` at
 * once, each writing its adjustment once → 3 record the results. Paused, resumed and cancelled by
 * signal; a cancelled run keeps what it wrote and says so. Progress through `backfillProgress`.
 */
export async function backfillWorkflow(input: BackfillInput): Promise<BackfillProgress> {
  let state: BackfillState = 'starting';
  let paused = false;
  let cancelled = false;
  let total = 0;
  let done = 0;
  let adjusted = 0;
  // Each child's adjustment with the currency of its customer-period; summed per currency when asked.
  const adjustments: { currency: string; amount: string }[] = [];
  const failures: BackfillFailure[] = [];
  let refusedBecause: string[] | undefined;

  const progress = (): BackfillProgress => ({
    backfillId: input.backfillId,
    state: state === 'running' && paused ? 'paused' : state,
    total,
    done,
    adjusted,
    // Exact sums (no currency lookup in workflow code): each amount is already rounded money.
    adjustmentTotals: sumByCurrency(adjustments, formatDecimal),
    failures: [...failures],
    ...(refusedBecause === undefined ? {} : { refusedBecause }),
  });
  setHandler(backfillProgressQuery, progress);
  setHandler(pauseBackfillSignal, () => {
    paused = true;
  });
  setHandler(resumeBackfillSignal, () => {
    paused = false;
  });
  setHandler(cancelBackfillSignal, () => {
    cancelled = true;
    if (state === 'running') state = 'cancelling';
  });

  const steps = backfillSteps(input.stepTimeoutMs);

  // 1. The plan must still describe what is in force; the run is recorded.
  const start = await steps.startBackfillRun({
    backfillId: input.backfillId,
    planId: input.planId,
    startedBy: input.startedBy,
  });
  if (start.status === 'refused') {
    state = 'refused';
    refusedBecause = start.reasons;
    return progress();
  }
  total = start.items.length;
  state = cancelled ? 'cancelling' : 'running';

  // 2. One child per customer-period, bounded; each writes its adjustment once.
  const queue = [...start.items];
  const lane = async (): Promise<void> => {
    for (;;) {
      await condition(() => !paused || cancelled);
      if (cancelled) return;
      const item = queue.shift();
      if (item === undefined) return;
      const childInput: BackfillItemInput = {
        backfillId: input.backfillId,
        planId: input.planId,
        customerId: item.customerId,
        period: item.period,
        reason: start.reason,
        ...(input.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: input.stepTimeoutMs }),
      };
      try {
        const result = await executeChild(backfillItemWorkflow, {
          workflowId: backfillItemWorkflowId(input.backfillId, item.customerId, item.period),
          taskQueue: workflowInfo().taskQueue,
          args: [childInput],
        });
        if (result.outcome === 'adjusted') adjusted += 1;
        adjustments.push({ currency: item.currency, amount: result.adjustmentTotal });
      } catch (error) {
        if (!(error instanceof ChildWorkflowFailure)) throw error;
        failures.push({
          customerId: item.customerId,
          period: item.period,
          error: error.cause?.message ?? error.message,
        });
      }
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, input.concurrency ?? DEFAULT_CONCURRENCY) }, lane));

  // 3. The results, as the database holds them.
  const finalState = cancelled && done < total ? 'cancelled' : 'completed';
  await steps.finishBackfillRun({ backfillId: input.backfillId, status: finalState, failures, total });
  state = finalState;
  return progress();
}

/** One customer-period of a backfill: its adjustment, written once (keyed by the backfill and the customer-period). */
export async function backfillItemWorkflow(
  input: BackfillItemInput,
): Promise<{ outcome: 'adjusted' | 'unchanged'; adjustmentTotal: string }> {
  return backfillSteps(input.stepTimeoutMs).applyBackfillItem({
    backfillId: input.backfillId,
    planId: input.planId,
    customerId: input.customerId,
    period: input.period,
    reason: input.reason,
  });
}
