import {
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  executeChild,
  patched,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackfillActivities } from '../activities/index.ts';
import { formatDecimal, sumByCurrency, type AmountsByCurrency } from '../domain/money.ts';
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
  type BackfillResume,
  type BackfillState,
} from './backfill-definitions.ts';

const DEFAULT_CONCURRENCY = 8;
/** The paged run (the plan read a page at a time, continue-as-new past a history budget); runs started before it keep the single list. */
const PAGED_RUN = 'backfill-paged';
const DEFAULT_PAGE_SIZE = 200;
const DEFAULT_HISTORY_BUDGET = 10_000;
/** Failures a paged run lists (and carries between runs); more are counted in `failed`. */
const LISTED_FAILURES = 200;

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

type BackfillItem = { customerId: string; period: string; currency: string };

/**
 * A backfill run (SPEC §5 step 2), workflow id `backfill:<backfill_id>`:
 * 1 refuse a stale plan, record the run → 2 one child per customer-period, at most `concurrency` at
 * once, each writing its adjustment once → 3 record the results. Paused, resumed and cancelled by
 * signal; a cancelled run keeps what it wrote and says so. Progress through `backfillProgress`.
 *
 * Step 2 reads the plan's customer-periods a page at a time, and a run whose history passed its
 * budget continues as new once the children it started finished (carrying the cursor, the counts,
 * the totals per currency, the first failures and a pause), so the history stays bounded however
 * large the plan (Temporal ends a workflow at 50,000 events).
 */
export async function backfillWorkflow(input: BackfillInput): Promise<BackfillProgress> {
  const resume = input.resume;
  let state: BackfillState = resume === undefined ? 'starting' : 'running';
  let paused = resume?.paused ?? false;
  let cancelled = false;
  let total = resume?.total ?? 0;
  let done = resume?.done ?? 0;
  let adjusted = resume?.adjusted ?? 0;
  // The adjustments written so far, summed per currency as they come: exact sums (no currency lookup
  // in workflow code), each amount is already rounded money.
  let adjustmentTotals: AmountsByCurrency = resume?.adjustmentTotals ?? {};
  const failures: BackfillFailure[] = [...(resume?.failures ?? [])];
  let failed = resume?.failed ?? failures.length;
  let listedFailures = Number.POSITIVE_INFINITY;
  let refusedBecause: string[] | undefined;

  const progress = (): BackfillProgress => ({
    backfillId: input.backfillId,
    state: state === 'running' && paused ? 'paused' : state,
    total,
    done,
    adjusted,
    adjustmentTotals,
    failures: [...failures],
    ...(failed > failures.length ? { failed } : {}),
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

  /** One customer-period's child: its adjustment written once (its id derives from the run), counted here. */
  const adjust = async (item: BackfillItem, reason: string): Promise<void> => {
    const childInput: BackfillItemInput = {
      backfillId: input.backfillId,
      planId: input.planId,
      customerId: item.customerId,
      period: item.period,
      reason,
      ...(input.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: input.stepTimeoutMs }),
    };
    try {
      const result = await executeChild(backfillItemWorkflow, {
        workflowId: backfillItemWorkflowId(input.backfillId, item.customerId, item.period),
        taskQueue: workflowInfo().taskQueue,
        args: [childInput],
      });
      if (result.outcome === 'adjusted') adjusted += 1;
      adjustmentTotals = sumByCurrency(
        [
          ...Object.entries(adjustmentTotals).map(([currency, amount]) => ({ currency, amount })),
          // A run in flight since before 0820 replays an item list without currencies: its amounts are
          // summed under "undefined", as that release summed them (the CLI reads those runs' totals from
          // the plan's stored items), never dropped for a key that is not a string.
          { currency: (item.currency as string | undefined) ?? 'undefined', amount: result.adjustmentTotal },
        ],
        formatDecimal,
      );
    } catch (error) {
      if (!(error instanceof ChildWorkflowFailure)) throw error;
      failed += 1;
      if (failures.length < listedFailures)
        failures.push({
          customerId: item.customerId,
          period: item.period,
          error: error.cause?.message ?? error.message,
        });
    }
    done += 1;
  };

  /** 3. The results, as the database holds them. */
  const finish = async (): Promise<BackfillProgress> => {
    const finalState = cancelled && done < total ? 'cancelled' : 'completed';
    await steps.finishBackfillRun({
      backfillId: input.backfillId,
      status: finalState,
      failures,
      total,
      ...(failed > failures.length ? { failed } : {}),
    });
    state = finalState;
    return progress();
  };

  const lanes = Math.max(1, input.concurrency ?? DEFAULT_CONCURRENCY);

  if (patched(PAGED_RUN)) {
    listedFailures = LISTED_FAILURES;
    const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
    const budget = input.historyBudget ?? DEFAULT_HISTORY_BUDGET;
    let reason: string;
    let after: BackfillResume['after'] | null;
    if (resume === undefined) {
      // 1. The plan must still describe what is in force (checked by the first run only); the run is recorded.
      const start = await steps.startPagedBackfillRun({
        backfillId: input.backfillId,
        planId: input.planId,
        startedBy: input.startedBy,
      });
      if (start.status === 'refused') {
        state = 'refused';
        refusedBecause = start.reasons;
        return progress();
      }
      total = start.total;
      reason = start.reason;
      after = null;
    } else {
      reason = resume.reason;
      after = resume.after;
    }
    state = cancelled ? 'cancelling' : 'running';

    // 2. A page of customer-periods at a time, `lanes` children at once. Past the history budget no
    //    page is read: the lanes drain and the run continues as new after the last one handed out.
    const queue: BackfillItem[] = [];
    let lastPage = false;
    let reading = false;
    let stopping = false;
    let pages = 0;
    const take = async (): Promise<BackfillItem | undefined> => {
      for (;;) {
        const item = queue.shift();
        if (item !== undefined) return item;
        if (lastPage || stopping) return undefined;
        if (reading) {
          await condition(() => !reading);
          continue;
        }
        const info = workflowInfo();
        if (pages > 0 && (info.continueAsNewSuggested || info.historyLength >= budget)) {
          stopping = true;
          return undefined;
        }
        reading = true;
        try {
          const page = await steps.listBackfillItemPage({ planId: input.planId, after, limit: pageSize });
          pages += 1;
          queue.push(...page.items);
          if (page.next === null) lastPage = true;
          else after = page.next;
        } finally {
          reading = false;
        }
      }
    };
    const lane = async (): Promise<void> => {
      for (;;) {
        await condition(() => !paused || cancelled || stopping);
        if (cancelled || stopping) return;
        const item = await take();
        if (item === undefined) return;
        // Paused or cancelled while the page was read: the item waits, or is left undone.
        await condition(() => !paused || cancelled);
        if (cancelled) return;
        await adjust(item, reason);
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    if (stopping && !cancelled && after !== null) {
      // Every customer-period handed out is done; state read now, so a signal that came meanwhile is carried.
      const carried: BackfillResume = {
        after,
        reason,
        total,
        done,
        adjusted,
        adjustmentTotals,
        failures: [...failures],
        failed,
        paused,
      };
      return await continueAsNew<typeof backfillWorkflow>({ ...input, resume: carried });
    }
    return await finish();
  }

  // Runs started before the paged run: every item in one result, one history.
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
      await adjust(item, start.reason);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return await finish();
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
