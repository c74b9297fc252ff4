import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BillingActivities } from '../activities/index.ts';
import type { ReviewBreach } from '../domain/review.ts';
import {
  closeNowSignal,
  decideUpdate,
  statusQuery,
  type CustomerPeriodInput,
  type DecisionOutcome,
  type PeriodStage,
  type ReviewDecision,
} from './definitions.ts';

/**
 * Named activity-option profiles: how long one attempt of each kind of step may take before it is
 * retried (on another worker, if this one died) and how it backs off. `stepTimeoutMs` scales them
 * (tests use seconds; a crashed worker's attempt is retried after that long).
 */
function activityProfiles(stepTimeoutMs = 120_000) {
  const databaseOptions = {
    startToCloseTimeout: stepTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  };
  const providerOptions = {
    startToCloseTimeout: stepTimeoutMs,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 12 },
  };
  return {
    database: proxyActivities<BillingActivities>(databaseOptions),
    /**
     * The quick database steps of an unattended close (terms, review check, credit draws, issue,
     * journal), run as local activities: in the worker that runs the workflow task, recorded as
     * markers, without an activity task's round trip through the server. They are idempotent like
     * every step, so a crash re-running one is harmless. Heavy steps (snapshot, rate), the remote
     * provider and the review path stay regular activities. See docs/decisions/period-close.md.
     */
    localDatabase: proxyLocalActivities<BillingActivities>(databaseOptions),
    heavy: proxyActivities<BillingActivities>({
      startToCloseTimeout: stepTimeoutMs * 5,
      heartbeatTimeout: stepTimeoutMs,
      retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
    }),
    /**
     * Snapshot and rate as local activities: one read of a customer's month and one rating, under a
     * second each even for large customers, so they fit in the workflow task (the SDK extends it
     * while they run) and save two activity tasks and two workflow tasks a close, the largest part
     * of the Temporal server's work per customer-period. Idempotent like every step.
     */
    localHeavy: proxyLocalActivities<BillingActivities>({
      startToCloseTimeout: stepTimeoutMs * 5,
      retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
    }),
    /** The provider is a remote API: bounded attempts with backoff, then an exception for a person. */
    provider: proxyActivities<BillingActivities>(providerOptions),
    /**
     * The Postgres ledger sink (the embedded provider) is a database write like the other quick
     * steps: a local activity, with the same bounded retries (longer backoffs become timers).
     */
    localLedger: proxyLocalActivities<BillingActivities>(providerOptions),
  };
}

/** Patch: the quick database steps run as local activities (workflows started earlier keep regular ones). */
export const LOCAL_DATABASE_STEPS = 'local-database-steps';
/** Patch: snapshot and rate run as local activities too (workflows started earlier keep regular ones). */
export const LOCAL_HEAVY_STEPS = 'local-snapshot-and-rate';
/** Patch: a sync to the Postgres ledger sink runs as a local activity (remote providers stay regular). */
export const LOCAL_LEDGER_SYNC = 'local-ledger-sync';

export interface CustomerPeriodResult {
  readonly stage: Extract<PeriodStage, 'completed' | 'held'>;
  readonly invoiceId: string;
  readonly invoiceNumber: string | undefined;
  readonly total: string;
  readonly exceptionIds: readonly string[];
}

/**
 * One customer's billing period, from open to journal:
 * wait for period end + grace (or closeNow) → 1 snapshot → 2 rate (credits drawn from the ledger's
 * opening balances) → 3 review when a threshold is crossed → 4 record the credit draws → 5 issue →
 * 6 sync to the provider → 7 journal.
 * Shadow runs stop after step 2 and record the draft for comparison.
 */
export async function customerPeriodWorkflow(input: CustomerPeriodInput): Promise<CustomerPeriodResult> {
  const { database, localDatabase, heavy, localHeavy, provider, localLedger } = activityProfiles(input.stepTimeoutMs);
  // Handlers first: an update that arrives before its handler exists is rejected.
  let stage: PeriodStage = 'open';
  let closeRequested = false;
  let closesAt: string | undefined;
  let invoiceId: string | undefined;
  let openExceptionId: string | undefined;
  let pendingDecision: ReviewDecision | undefined;
  const decisions: ReviewDecision[] = [];
  const exceptionIds: string[] = [];

  setHandler(closeNowSignal, () => {
    closeRequested = true;
  });
  setHandler(statusQuery, () => ({
    customerId: input.customerId,
    period: input.period,
    stage,
    closesAt,
    invoiceId,
    openExceptionId,
    decisions: [...decisions],
  }));
  setHandler(
    decideUpdate,
    async (decision): Promise<DecisionOutcome> => {
      if (decisions.some((applied) => sameDecision(applied, decision))) {
        return { exceptionId: decision.exceptionId, decision: decision.kind, repeated: true };
      }
      await database.recordDecision({ exceptionId: decision.exceptionId, decision });
      decisions.push(decision);
      pendingDecision = decision;
      return { exceptionId: decision.exceptionId, decision: decision.kind, repeated: false };
    },
    {
      // Synchronous on purpose: an async validator's result is ignored by the SDK.
      validator: (decision) => {
        if (decisions.some((applied) => sameDecision(applied, decision))) return;
        if (openExceptionId === undefined) throw new Error('no exception is waiting for a decision');
        if (decision.exceptionId !== openExceptionId)
          throw new Error(`exception ${decision.exceptionId} is not the open one (${openExceptionId})`);
        if (pendingDecision !== undefined) throw new Error(`exception ${openExceptionId} is already decided`);
        if (!decision.reviewer.trim()) throw new Error('a decision names its reviewer');
        if (decision.kind !== 'approve' && !decision.reason.trim()) throw new Error(`${decision.kind} needs a reason`);
        if (decision.kind === 'adjust' && !/^-?\d{1,20}(\.\d{1,12})?$/.test(decision.amount))
          throw new Error('adjust amount is a decimal string');
      },
    },
  );

  // Workflows started before the quick steps became local activities replay them as regular ones.
  const quick = patched(LOCAL_DATABASE_STEPS) ? localDatabase : database;
  upsertSearchAttributes({ CustomerId: [input.customerId], BillingPeriod: [input.period], RunMode: [input.mode] });
  const target = {
    customerId: input.customerId,
    period: input.period,
    mode: input.mode,
    calculationVersion: input.calculationVersion,
  };

  // Wait for period end + grace on a durable timer, or an explicit closeNow.
  const terms = await quick.loadPeriodTerms({ ...target, graceMs: input.graceMs });
  closesAt = terms.closesAt;
  const waitMs = Date.parse(terms.closesAt) - Date.now();
  if (waitMs > 0) await condition(() => closeRequested, waitMs);

  // 1. Snapshot: fix the event set (closing the period for ingest) and fingerprint it.
  stage = 'snapshotting';
  const readAndRate = patched(LOCAL_HEAVY_STEPS) ? localHeavy : heavy;
  const snapshot = await readAndRate.snapshotPeriod({
    ...target,
    closeRequestedAt: new Date(Date.now()).toISOString(),
  });

  // 2. Rate the whole period, with late usage of earlier periods as adjustments.
  stage = 'rating';
  const draft = await readAndRate.rateDraftInvoice({ ...target, snapshotId: snapshot.snapshotId });
  invoiceId = draft.invoiceId;
  if (input.mode === 'shadow') {
    stage = 'completed';
    return { stage, invoiceId, invoiceNumber: undefined, total: draft.total, exceptionIds };
  }

  // 3. Review: a breached threshold waits for a person; a timeout escalates, never approves.
  const breaches: ReviewBreach[] = await quick.evaluateReview({ invoiceId });
  if (breaches.length > 0) {
    const decision = await waitForDecision(
      await database.openException({
        invoiceId,
        workflowId: workflowInfo().workflowId,
        kind: 'threshold',
        sequence: exceptionIds.length + 1,
        breaches,
      }),
    );
    if (decision.kind === 'reject') {
      await database.holdInvoice({ invoiceId, exceptionId: decision.exceptionId, reason: decision.reason });
      stage = 'held';
      await condition(allHandlersFinished);
      return { stage, invoiceId, invoiceNumber: undefined, total: draft.total, exceptionIds };
    }
    if (decision.kind === 'adjust') {
      await database.applyReviewAdjustment({
        invoiceId,
        exceptionId: decision.exceptionId,
        amount: decision.amount,
        reason: decision.reason,
        reviewer: decision.reviewer,
      });
    }
  }

  // 4. Draw down: record the draft's credit draws in the ledger, keyed to this invoice. After review,
  //    so that a rejected invoice holds no credit; rating already drew from the opening balances.
  await quick.drawDownCredits({ invoiceId });

  // 5. Issue: immutable and numbered.
  stage = 'issuing';
  const issued = await quick.issueInvoice({ invoiceId });

  // 6. Sync to the billing provider; a permanent failure becomes an exception for a person.
  stage = 'syncing';
  // The provider the contract named when the period's terms were loaded (absent in older histories).
  const sync = patched(LOCAL_LEDGER_SYNC) && terms.providerKind === 'ledger' ? localLedger : provider;
  for (;;) {
    try {
      await sync.syncInvoice({ invoiceId });
      break;
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      const cause = error.cause instanceof ApplicationFailure ? error.cause : undefined;
      const exception = await database.openException({
        invoiceId,
        workflowId: workflowInfo().workflowId,
        kind: 'provider_sync_failed',
        sequence: exceptionIds.length + 1,
        breaches: [{ rule: 'provider_sync_failed', detail: cause?.message ?? error.message }],
      });
      const decision = await waitForDecision(exception);
      if (decision.kind !== 'approve') {
        // Rejecting a failed sync leaves the invoice issued but unsynced, on record for ops.
        await database.markSyncAbandoned({
          invoiceId,
          exceptionId: decision.exceptionId,
          reason: decision.kind === 'reject' ? decision.reason : 'adjust is not a sync decision',
        });
        break;
      }
    }
  }

  // 7. Journal: ASC 606 entries, keyed so that a rerun never double-posts.
  stage = 'journaling';
  await quick.postJournal({ invoiceId });

  stage = 'completed';
  await condition(allHandlersFinished);
  return { stage, invoiceId, invoiceNumber: issued.invoiceNumber, total: issued.total, exceptionIds };

  async function waitForDecision(exception: { exceptionId: string; reviewTimeoutMs: number }): Promise<ReviewDecision> {
    openExceptionId = exception.exceptionId;
    exceptionIds.push(exception.exceptionId);
    pendingDecision = undefined;
    stage = 'awaiting_review';
    const timeoutMs = input.reviewTimeoutMs ?? exception.reviewTimeoutMs;
    if (!(await condition(() => pendingDecision !== undefined, timeoutMs))) {
      await database.escalateException({ exceptionId: exception.exceptionId, waitedMs: timeoutMs });
      stage = 'escalated';
      await condition(() => pendingDecision !== undefined);
    }
    const decision = pendingDecision as ReviewDecision | undefined;
    if (decision === undefined) throw ApplicationFailure.nonRetryable('decision missing after wait', 'internal');
    openExceptionId = undefined;
    pendingDecision = undefined;
    return decision;
  }
}

function sameDecision(a: ReviewDecision, b: ReviewDecision): boolean {
  return a.exceptionId === b.exceptionId && a.kind === b.kind;
}
