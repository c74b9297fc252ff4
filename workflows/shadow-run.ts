import {
  ApplicationFailure,
  condition,
  allHandlersFinished,
  continueAsNew,
  executeChild,
  patched,
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
  type ShadowRunResume,
} from './definitions.ts';

/** How many customers' shadow closes run at once, and how many are compared per activity (defaults). */
const DEFAULT_CONCURRENCY = 20;
const COMPARE_BATCH = 100;
/** The paged run (customers read a page at a time, continue-as-new past a history budget); runs started before it keep the lists. */
const PAGED_RUN = 'shadow-run-paged';
const DEFAULT_PAGE_SIZE = 200;
const DEFAULT_HISTORY_BUDGET = 10_000;

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
 *
 * The plan records the run's customers; steps 2 and 3 read them a page at a time, and a run whose
 * history passed its budget continues as new after a page (its closes finished, its decisions
 * recorded), carrying the stage, the cursor, the counts and the exceptions open and decided; so does
 * a run waiting for many decisions. The history stays bounded however many customers there are.
 */
export async function shadowRunWorkflow(input: ShadowRunInput): Promise<ShadowRunResult> {
  const steps = proxyActivities<ShadowRunActivities>({
    startToCloseTimeout: input.stepTimeoutMs ?? 120_000,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
  const resume = input.resume;
  const runId = input.runId ?? workflowInfo().workflowId;
  const period = input.period ?? previousPeriodName(new Date(workflowInfo().startTime).toISOString());
  const progress: { -readonly [K in keyof ShadowRunProgress]: ShadowRunProgress[K] } = {
    runId,
    source: input.source,
    period,
    stage: resume?.stage ?? 'planning',
    customers: 0,
    rated: 0,
    compared: 0,
    matches: 0,
    exceptions: 0,
    ...resume?.counts,
    openExceptions: resume?.open.length ?? 0,
  };
  setHandler(shadowRunProgressQuery, () => ({ ...progress }));
  // shadow_variance exceptions waiting for a person (exception id → customer), and those decided
  // (by this run; `decidedBefore`: by the runs it continues).
  const open = new Map<string, string>(resume?.open);
  const decided = new Map<string, { decision: ReviewDecision; decidedAt: string }>();
  const decidedBefore = new Map<string, string>(resume?.decided);
  setHandler(
    decideUpdate,
    async (decision): Promise<DecisionOutcome> => {
      const earlier = decided.get(decision.exceptionId);
      if (earlier !== undefined) return outcome(earlier, true);
      const before = open.has(decision.exceptionId) ? undefined : decidedBefore.get(decision.exceptionId);
      if (before !== undefined) {
        // Decided in a run this one continues: the first recorded decision stands (the step returns it).
        const recorded = await steps.recordShadowDecision({
          runId,
          customerId: before,
          exceptionId: decision.exceptionId,
          decision,
          decidedAt: new Date(Date.now()).toISOString(),
        });
        decided.set(decision.exceptionId, recorded);
        if (!sameDecision(recorded.decision, decision))
          throw ApplicationFailure.nonRetryable(alreadyDecided(decision.exceptionId, recorded));
        return outcome(recorded, true);
      }
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
      decidedBefore.set(decision.exceptionId, customerId);
      progress.openExceptions = open.size;
      return outcome(recorded, false);
    },
    {
      // Synchronous on purpose: an async validator's result is ignored by the SDK.
      validator: (decision) => {
        const earlier = decided.get(decision.exceptionId);
        if (earlier !== undefined) {
          if (sameDecision(earlier.decision, decision)) return;
          throw new Error(alreadyDecided(decision.exceptionId, earlier));
        }
        if (!open.has(decision.exceptionId) && !decidedBefore.has(decision.exceptionId))
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

  /** One customer's shadow close, under the run's own id. */
  const close = async (customerId: string): Promise<void> => {
    const closeInput = {
      customerId,
      period,
      mode: 'shadow' as const,
      calculationVersion: input.calculationVersion,
      shadowRunId: runId,
      ...input.closeOptions,
    };
    await executeChild(customerPeriodWorkflow, {
      workflowId: customerPeriodWorkflowId(closeInput),
      args: [closeInput],
      ...(input.taskQueue === undefined ? {} : { taskQueue: input.taskQueue }),
    });
    progress.rated += 1;
  };

  /** A batch of customers compared and recorded; their exceptions open for a person. */
  const compare = async (legacyImportId: string | undefined, customerIds: string[]): Promise<void> => {
    const compared = await steps.compareShadowCustomers({
      runId,
      period,
      calculationVersion: input.calculationVersion,
      legacyImportId,
      customerIds,
      workflowId: workflowInfo().workflowId,
    });
    for (const exception of compared.openExceptions ?? []) open.set(exception.exceptionId, exception.customerId);
    progress.openExceptions = open.size;
    progress.compared += compared.compared;
    progress.matches += compared.matches;
    progress.exceptions += compared.exceptions;
  };

  /** 4. Complete: wait for a person's decision on each exception (accepted ones count towards readiness). */
  const result = async (): Promise<ShadowRunResult> => {
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
  };

  if (patched(PAGED_RUN)) {
    const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
    const budget = input.historyBudget ?? DEFAULT_HISTORY_BUDGET;
    const overBudget = (): boolean => {
      const info = workflowInfo();
      return info.continueAsNewSuggested || info.historyLength >= budget;
    };
    let legacyImportId = resume?.legacyImportId;
    let after = resume?.after ?? null;
    /** Continue as new once every decision under way is recorded; state read then, so nothing that came meanwhile is lost. */
    const carryOn = async (stage: ShadowRunResume['stage']): Promise<never> => {
      await condition(allHandlersFinished);
      const carried: ShadowRunResume = {
        stage,
        after,
        ...(legacyImportId === undefined ? {} : { legacyImportId }),
        counts: {
          customers: progress.customers,
          rated: progress.rated,
          compared: progress.compared,
          matches: progress.matches,
          exceptions: progress.exceptions,
        },
        open: [...open],
        decided: [...decidedBefore],
      };
      return await continueAsNew<typeof shadowRunWorkflow>({ ...input, runId, period, resume: carried });
    };

    if (resume === undefined) {
      // 1. Plan: the run and its customers recorded once, with the legacy version it compares against.
      const plan = await steps.planPagedShadowRun({
        runId,
        source: input.source,
        period,
        calculationVersion: input.calculationVersion,
        ...(input.customers === undefined ? {} : { customers: input.customers }),
      });
      progress.customers = plan.rated + plan.legacyOnly;
      legacyImportId = plan.legacyImportId;
      progress.stage = 'rating';
    }

    if (progress.stage === 'rating') {
      // 2. Shadow closes a page of customers at a time, `concurrency` at once. Past the history budget
      //    no page is read: the lanes drain and the run continues as new after the last one handed out.
      const queue: string[] = [];
      let lastPage = false;
      let reading = false;
      let stopping = false;
      let pages = 0;
      const take = async (): Promise<string | undefined> => {
        for (;;) {
          const customerId = queue.shift();
          if (customerId !== undefined) return customerId;
          if (lastPage || stopping) return undefined;
          if (reading) {
            await condition(() => !reading);
            continue;
          }
          if (pages > 0 && overBudget()) {
            stopping = true;
            return undefined;
          }
          reading = true;
          try {
            const page = await steps.listShadowRunCustomerPage({ runId, ratedOnly: true, after, limit: pageSize });
            pages += 1;
            queue.push(...page.customerIds);
            if (page.next === null) lastPage = true;
            else after = page.next;
          } finally {
            reading = false;
          }
        }
      };
      const lane = async (): Promise<void> => {
        for (let customerId = await take(); customerId !== undefined; customerId = await take())
          await close(customerId);
      };
      await Promise.all(Array.from({ length: Math.max(1, input.concurrency ?? DEFAULT_CONCURRENCY) }, lane));
      if (stopping) return await carryOn('rating');
      progress.stage = 'comparing';
      after = null;
    }

    if (progress.stage === 'comparing') {
      // 3. Compare every customer (rated and legacy-only), a page at a time.
      for (let pages = 0; ; pages += 1) {
        if (pages > 0 && overBudget()) return await carryOn('comparing');
        const page = await steps.listShadowRunCustomerPage({
          runId,
          ratedOnly: false,
          after,
          limit: Math.min(pageSize, COMPARE_BATCH),
        });
        if (page.customerIds.length > 0) await compare(legacyImportId, page.customerIds);
        if (page.next === null) break;
        after = page.next;
      }
      await steps.completeShadowRun({ runId });
      progress.stage = open.size > 0 ? 'awaiting_review' : 'completed';
      after = null;
    }

    // Nothing is ever decided by timeout. A run that recorded decisions past its budget continues as new.
    await condition(() => open.size === 0 || (decided.size > 0 && overBudget() && allHandlersFinished()));
    if (open.size > 0) return await carryOn('awaiting_review');
    return await result();
  }

  // Runs started before the paged run: every customer in one result, one history.
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
    for (let customerId = queue.shift(); customerId !== undefined; customerId = queue.shift()) await close(customerId);
  };
  const lanes = Math.max(1, Math.min(input.concurrency ?? DEFAULT_CONCURRENCY, queue.length));
  await Promise.all(Array.from({ length: lanes }, lane));

  // 3. Compare every customer (rated and legacy-only), in batches.
  progress.stage = 'comparing';
  const everyone = [...plan.rated, ...plan.legacyOnly];
  for (let start = 0; start < everyone.length; start += COMPARE_BATCH)
    await compare(plan.legacyImportId, everyone.slice(start, start + COMPARE_BATCH));

  // 4. Complete: the comparison is recorded; then wait for a person's decision on each exception
  //    (accepted ones count towards readiness). Nothing is ever decided by timeout.
  await steps.completeShadowRun({ runId });
  progress.stage = open.size > 0 ? 'awaiting_review' : 'completed';
  await condition(() => open.size === 0);
  return await result();

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

function alreadyDecided(exceptionId: string, earlier: { decision: ReviewDecision; decidedAt: string }): string {
  return `${exceptionId} was already decided: ${earlier.decision.kind} by ${earlier.decision.reviewer} at ${earlier.decidedAt}`;
}
