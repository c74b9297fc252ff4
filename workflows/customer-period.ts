import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BillingActivities, SnapshotOutcome } from '../activities/index.ts';
import type { CloseExceptionKind } from '../contracts/review-exception.ts';
import { periodNameProblem } from '../domain/period.ts';
import { liveInvoiceId } from '../domain/period-rerun.ts';
import type { ReviewBreach } from '../domain/review.ts';
import {
  closeNowSignal,
  decideUpdate,
  needsSecondReviewer,
  sameDecision,
  statusQuery,
  type CustomerPeriodInput,
  type DecisionOutcome,
  type PeriodStage,
  type ReviewDecision,
  type ReviewState,
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
const LOCAL_DATABASE_STEPS = 'local-database-steps';
/** Patch: snapshot and rate run as local activities too (workflows started earlier keep regular ones). */
const LOCAL_HEAVY_STEPS = 'local-snapshot-and-rate';
/** Patch: a sync to the Postgres ledger sink runs as a local activity (remote providers stay regular). */
const LOCAL_LEDGER_SYNC = 'local-ledger-sync';
/**
 * Patch: the close as it is now, asked before anything else. Periods of a customer close in order;
 * the close waits for ingest; an unknown customer, an unpublished rate card and any permanent step
 * failure stop for a person instead of failing or retrying for ever; an all-zero period under
 * `invoice_when_zero: false` is skipped; every database step is a local activity. Workflows started
 * earlier replay the close they began with.
 */
const CHECKED_CLOSE = 'checked-close';
/**
 * Patch: the input is checked before anything runs (a period outside the years Tally bills is
 * refused: the workflow fails at once with `invalid_period` and its reason, instead of billing
 * 0026-10 as 1926-10 or retrying a query that cannot work), and a permanent failure to load the
 * period's terms stops for a person like every other step. Workflows started earlier replay as they ran.
 */
const CHECKED_INPUT = 'checked-input';
/**
 * Patch, asked after CHECKED_INPUT: dual control (an adjust above the contract's
 * `review.dual_control_above` applies only once a second, different reviewer confirms it) and the
 * `ReviewState` / `ExceptionKind` search attributes. Workflows started earlier decide with one reviewer.
 */
const DUAL_CONTROL = 'review-dual-control';
/**
 * Patch: a live close may be a re-run of a held period (`input.rerun`, `tally period rerun`): it first
 * voids the held draft and records the re-run, then closes at once under its own snapshot, draft and
 * exception ids, billing the held period's late events. Asked only when the input names a re-run,
 * which no workflow started earlier does.
 */
const PERIOD_RERUN = 'period-rerun';

/**
 * Patch, asked after DUAL_CONTROL: cutover by cohort. After rating, a live close decides once, as a
 * step, which biller has the customer's authority for the period; where the legacy biller has it, the
 * close stops there (the draft and the period end `legacy`: nothing numbered, drawn, sent or
 * journaled). Workflows started earlier issue as they always did.
 */
const BILLING_AUTHORITY = 'billing-authority';

/** How often a waiting close looks again, and how long it waits for ingest before asking a person. */
const DEFAULT_RECHECK_MS = 30_000;
const DEFAULT_INGEST_WAIT_MS = 15 * 60_000;

export interface CustomerPeriodResult {
  readonly stage: Extract<PeriodStage, 'completed' | 'held' | 'skipped' | 'legacy'>;
  readonly invoiceId: string;
  readonly invoiceNumber: string | undefined;
  readonly total: string | undefined;
  readonly exceptionIds: readonly string[];
}

/** Thrown inside the workflow when a person rejected: the close stops, held, with nothing issued. */
class PeriodHeld extends Error {}

/** A decision and when it was taken, as the workflow and the database both hold it. */
interface StandingDecision {
  readonly decision: ReviewDecision;
  readonly decidedAt: string;
}

/**
 * One customer's billing period, from open to journal:
 * wait for period end + grace (or closeNow) → 1 snapshot (after the customer's earlier periods are
 * final and ingest has caught up, under published terms) → 2 rate (credits drawn from the ledger's
 * opening balances) → 3 review when a threshold is crossed → 4 record the credit draws → 5 issue →
 * 6 sync to the provider → 7 journal. Anything the close cannot get past alone waits for a person.
 * Shadow runs stop after step 2 and record the draft for comparison; so does a live close where the
 * legacy biller has the customer's billing authority (cutover by cohort).
 */
export async function customerPeriodWorkflow(input: CustomerPeriodInput): Promise<CustomerPeriodResult> {
  const { database, localDatabase, heavy, localHeavy, provider, localLedger } = activityProfiles(input.stepTimeoutMs);
  // Handlers first: an update that arrives before its handler exists is rejected.
  let stage: PeriodStage = 'open';
  let closeRequested = false;
  let closesAt: string | undefined;
  let invoiceId: string | undefined;
  let openExceptionId: string | undefined;
  let waitingFor: string | undefined;
  /** The decision being recorded for the open exception (accepted, not yet in the database). */
  let recording: { decision: ReviewDecision; acceptedAt: string } | undefined;
  /** The decision that stands on the open exception, once recorded. */
  let pendingDecision: StandingDecision | undefined;
  const decisions: ReviewDecision[] = [];
  /** Every exception's standing decision, so a late repeat or contradiction is answered truthfully. */
  const decided = new Map<string, StandingDecision>();
  const exceptionIds: string[] = [];
  /** Under DUAL_CONTROL: the open exception's dual-control amount, and an adjust above it waiting for a second reviewer. */
  let dualControl = false;
  let openDualControlAbove: string | undefined;
  let proposal: { decision: Extract<ReviewDecision, { kind: 'adjust' }>; proposedAt: string } | undefined;
  let proposalRecorded = false;

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
    waitingFor,
  }));
  setHandler(
    decideUpdate,
    async (decision): Promise<DecisionOutcome> => {
      const standing = (): StandingDecision | undefined =>
        decided.get(decision.exceptionId) ??
        (recording !== undefined && recording.decision.exceptionId === decision.exceptionId
          ? { decision: recording.decision, decidedAt: recording.acceptedAt }
          : undefined);
      if (standing() !== undefined) {
        // A repeat of the decision that stands (the validator refused anything else): once it is
        // recorded, say who made it and when.
        await condition(() => decided.has(decision.exceptionId));
        const first = decided.get(decision.exceptionId) as StandingDecision;
        return {
          exceptionId: decision.exceptionId,
          decision: first.decision.kind,
          repeated: true,
          decidedBy: first.decision.reviewer,
          decidedAt: first.decidedAt,
        };
      }
      const acceptedAt = new Date(Date.now()).toISOString();
      if (decision.kind === 'adjust' && needsSecondReviewer(decision, openDualControlAbove)) {
        if (proposal === undefined) return propose(decision, acceptedAt);
        await condition(() => proposalRecorded);
        const proposed = proposal.decision;
        if (proposed.reviewer === decision.reviewer) {
          // The proposer again (a retried request): still waiting for someone else.
          return {
            exceptionId: decision.exceptionId,
            decision: 'adjust',
            repeated: true,
            awaitingConfirmation: true,
            decidedBy: proposed.reviewer,
            decidedAt: proposal.proposedAt,
          };
        }
        // A second, different reviewer sent the same adjust: the proposal, confirmed, is the decision.
        decision = { ...proposed, confirmedBy: decision.reviewer };
      }
      recording = { decision, acceptedAt };
      // Histories of the first release recorded no result: the decision sent is the one recorded.
      const recorded: StandingDecision = (await database.recordDecision({
        exceptionId: decision.exceptionId,
        decision,
        decidedAt: acceptedAt,
      })) ?? { decision, decidedAt: acceptedAt };
      recording = undefined;
      // The database's decision is the one that stands (it may hold one recorded before this run):
      // the workflow goes on with it, so the two always agree.
      decided.set(decision.exceptionId, recorded);
      decisions.push(recorded.decision);
      if (decision.exceptionId === openExceptionId) pendingDecision = recorded;
      if (!sameDecision(recorded.decision, decision)) {
        throw ApplicationFailure.create({
          message: `${decision.exceptionId} was already decided: ${describeDecision(recorded.decision)} by ${recorded.decision.reviewer} at ${recorded.decidedAt}`,
          type: 'already_decided',
          nonRetryable: true,
        });
      }
      return {
        exceptionId: decision.exceptionId,
        decision: recorded.decision.kind,
        repeated: false,
        decidedBy: recorded.decision.reviewer,
        decidedAt: recorded.decidedAt,
        ...(recorded.decision.kind === 'adjust' && recorded.decision.confirmedBy !== undefined
          ? { confirmedBy: recorded.decision.confirmedBy }
          : {}),
      };
    },
    {
      // Synchronous on purpose: an async validator's result is ignored by the SDK.
      validator: (decision) => {
        const first =
          decided.get(decision.exceptionId) ??
          (recording !== undefined && recording.decision.exceptionId === decision.exceptionId
            ? { decision: recording.decision, decidedAt: recording.acceptedAt }
            : undefined);
        if (first !== undefined) {
          if (sameDecision(first.decision, decision)) return;
          throw new Error(
            `${decision.exceptionId} was already decided: ${describeDecision(first.decision)} by ${first.decision.reviewer} at ${first.decidedAt}`,
          );
        }
        if (openExceptionId === undefined) throw new Error('no exception is waiting for a decision');
        if (decision.exceptionId !== openExceptionId)
          throw new Error(`exception ${decision.exceptionId} is not the open one (${openExceptionId})`);
        if (!decision.reviewer.trim()) throw new Error('a decision names its reviewer');
        if (decision.kind !== 'approve' && !decision.reason.trim()) throw new Error(`${decision.kind} needs a reason`);
        if (decision.kind === 'adjust' && !/^-?\d{1,20}(\.\d{1,12})?$/.test(decision.amount))
          throw new Error('adjust amount is a decimal string');
        if (decision.kind === 'adjust' && decision.confirmedBy !== undefined)
          throw new Error('confirmedBy is set by the workflow, not by a reviewer');
        if (proposal !== undefined && decision.kind !== 'reject' && !sameDecision(proposal.decision, decision)) {
          // While an adjust waits for its second reviewer, the same adjust confirms it and a reject
          // holds the period; anything else would decide past the first reviewer's proposal.
          throw new Error(
            `adjust ${proposal.decision.amount} proposed by ${proposal.decision.reviewer} at ${proposal.proposedAt} waits for a second, different reviewer: send the same adjust to confirm it, or reject`,
          );
        }
      },
    },
  );

  // Which close this is, decided first, before anything that can wait: a patch asked after a local
  // activity can land in another workflow task than the one it was recorded in (a slow local
  // activity ends its task early), and then does not replay. Workflows started before it replay
  // the close they began with, which asks its own patches where it always did.
  const checkedClose = patched(CHECKED_CLOSE);
  const rerun = input.mode === 'live' && input.rerun !== undefined && patched(PERIOD_RERUN) ? input.rerun : undefined;
  const target = {
    customerId: input.customerId,
    period: input.period,
    mode: input.mode,
    calculationVersion: input.calculationVersion,
    // Only a shadow run's close carries it: every other input (and every recorded history) leaves the
    // steps' arguments exactly as they were, and no command changes, so this needs no patch.
    ...(input.mode === 'shadow' && input.shadowRunId !== undefined ? { shadowRunId: input.shadowRunId } : {}),
    // Likewise only a re-run's (asked under PERIOD_RERUN): its own snapshot, draft and exceptions.
    ...(rerun === undefined ? {} : { rerun: rerun.number }),
  };
  const workflowId = workflowInfo().workflowId;
  if (!checkedClose) return closeAsFirstReleased();
  const checkedInput = patched(CHECKED_INPUT);
  if (checkedInput) {
    const problem = periodNameProblem(input.period);
    if (problem !== undefined) throw ApplicationFailure.nonRetryable(problem, 'invalid_period');
  }
  dualControl = patched(DUAL_CONTROL);
  const decidesAuthority = patched(BILLING_AUTHORITY);

  upsertSearchAttributes({ CustomerId: [input.customerId], BillingPeriod: [input.period], RunMode: [input.mode] });
  // Every quick step and the snapshot and rating run as local activities (docs/decisions/period-close.md);
  // the sync too when the contract's provider is the Postgres ledger sink.
  const quick = localDatabase;
  const readAndRate = localHeavy;
  // 0. A re-run voids the held draft and records itself, once; a period not held fails it (nothing changed).
  if (rerun !== undefined) await quick.startPeriodRerun({ ...target, rerun, workflowId });
  // Wait for period end + grace on a durable timer, or an explicit closeNow (a re-run's period closed long ago).
  const loadTerms = () => quick.loadPeriodTerms({ ...target, graceMs: input.graceMs });
  const terms = await (checkedInput ? step('load terms', loadTerms) : loadTerms());
  closesAt = terms.closesAt;
  const waitMs = Date.parse(terms.closesAt) - Date.now();
  if (waitMs > 0 && rerun === undefined) await condition(() => closeRequested, waitMs);
  const sync = terms.providerKind === 'ledger' ? localLedger : provider;

  const recheckMs = input.recheckMs ?? DEFAULT_RECHECK_MS;
  const ingestWaitMs = input.ingestWaitMs ?? DEFAULT_INGEST_WAIT_MS;
  const closeRequestedAt = new Date(Date.now()).toISOString();
  invoiceId = target.mode === 'live' ? liveInvoiceId(target.customerId, target.period, rerun?.number) : undefined;
  try {
    // 1. Snapshot: after the earlier periods are final and ingest has caught up, under published terms.
    stage = 'snapshotting';
    const snapshot = await takeSnapshot();

    // 2. Rate the whole period, with late usage of earlier periods as adjustments.
    stage = 'rating';
    const draft = await step('rate', () =>
      readAndRate.rateDraftInvoice({ ...target, snapshotId: snapshot.snapshotId }),
    );
    invoiceId = draft.invoiceId;
    if (input.mode === 'shadow') return finish('completed', undefined, draft.total);
    if (decidesAuthority) {
      // Which biller invoices this period, decided once: a flip after this step applies to the next period.
      const { authority } = await step('settle billing authority', () =>
        quick.settleBillingAuthority({ invoiceId: draft.invoiceId }),
      );
      if (authority === 'legacy') return finish('legacy', undefined, draft.total);
    }
    if (draft.skip) {
      await step('skip', () => quick.skipInvoice({ invoiceId: draft.invoiceId }));
      return finish('skipped', undefined, draft.total);
    }

    // 3. Review: a breached threshold waits for a person; a timeout escalates, never approves.
    const breaches = await step('review', () => quick.evaluateReview({ invoiceId: draft.invoiceId }));
    if (breaches.length > 0) {
      const decision = await askPerson('threshold', breaches);
      if (decision.kind === 'reject') throw await hold(decision);
      if (decision.kind === 'adjust') {
        await step('adjust', () =>
          database.applyReviewAdjustment({
            invoiceId: draft.invoiceId,
            exceptionId: decision.exceptionId,
            amount: decision.amount,
            reason: decision.reason,
            reviewer: decision.reviewer,
            ...(decision.confirmedBy === undefined ? {} : { confirmedBy: decision.confirmedBy }),
          }),
        );
      }
    }

    // 4. Draw down: the draft's credit draws, keyed to this invoice. After review, so that a rejected
    //    invoice holds no credit; rating already drew from the opening balances, which the earlier
    //    periods (all final by now) left.
    await step('draw credits', () => quick.drawDownCredits({ invoiceId: draft.invoiceId }));

    // 5. Issue: immutable and numbered.
    stage = 'issuing';
    const issued = await step('issue', () => quick.issueInvoice({ invoiceId: draft.invoiceId }));

    // 6. Sync to the billing provider; a permanent failure becomes an exception for a person.
    stage = 'syncing';
    await syncToProvider(draft.invoiceId);

    // 7. Journal: ASC 606 entries, keyed so that a rerun never double-posts.
    stage = 'journaling';
    await step('journal', () => quick.postJournal({ invoiceId: draft.invoiceId }));
    return finish('completed', issued.invoiceNumber, issued.total);
  } catch (error) {
    if (error instanceof PeriodHeld) return finish('held', undefined, undefined);
    throw error;
  }

  async function finish(
    outcome: CustomerPeriodResult['stage'],
    invoiceNumber: string | undefined,
    total: string | undefined,
  ): Promise<CustomerPeriodResult> {
    stage = outcome;
    waitingFor = undefined;
    await condition(allHandlersFinished);
    return { stage, invoiceId: invoiceId ?? '', invoiceNumber, total, exceptionIds };
  }

  /**
   * The snapshot step, with what it may have to wait for: earlier periods of the customer and a
   * lagging ingest consumer (looked at again every `recheckMs`; ingest for `ingestWaitMs` at most,
   * then a person is asked), an unknown customer or an unpublished rate card (a person decides;
   * an unknown customer also resolves by itself once its contract is published).
   */
  async function takeSnapshot(): Promise<Extract<SnapshotOutcome, { status: 'snapshotted' }>> {
    let ingestWaitStartedMs: number | undefined;
    let ignoreIngestLag = false;
    const snapshotOnce = () =>
      step('snapshot', () =>
        readAndRate.snapshotPeriod({ ...target, closeRequestedAt, checks: true, ignoreIngestLag }),
      );
    for (;;) {
      const outcome = await snapshotOnce();
      if (outcome.status === 'snapshotted') return outcome;
      if (outcome.status === 'waiting') {
        stage = outcome.reason === 'earlier_period' ? 'waiting_for_earlier_period' : 'waiting_for_ingest';
        waitingFor = outcome.detail;
        if (outcome.reason === 'ingest') {
          ingestWaitStartedMs ??= Date.now();
          if (Date.now() - ingestWaitStartedMs >= ingestWaitMs) {
            const answer = await askPerson(
              'ingest_lagging',
              [{ rule: 'ingest_lagging', detail: `waited ${Math.round(ingestWaitMs / 1000)} s: ${outcome.detail}` }],
              async () => ((await snapshotOnce()).status === 'waiting' ? undefined : 'ingest caught up'),
            );
            if (answer?.kind === 'reject') throw await hold(answer);
            // Approved: close with what ingest has committed; anything later is billed as late usage.
            if (answer?.kind === 'approve') ignoreIngestLag = true;
            ingestWaitStartedMs = undefined;
            continue;
          }
        }
        await sleep(recheckMs);
        continue;
      }
      waitingFor = undefined;
      const resolvesAlone = outcome.kind === 'unknown_customer';
      const answer = await askPerson(
        outcome.kind,
        outcome.breaches,
        resolvesAlone
          ? async () => ((await snapshotOnce()).status === 'exception' ? undefined : 'a contract was published')
          : undefined,
      );
      if (answer?.kind === 'reject') throw await hold(answer);
      // Approved (try again now) or resolved by itself: take the snapshot again.
      stage = 'snapshotting';
    }
  }

  /**
   * Runs a step; a permanent failure (a non-retryable failure: the error's code says what) becomes an
   * exception for a person instead of a failed workflow. Approve tries the step again; reject holds.
   */
  async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await run();
      } catch (error) {
        // A local activity's failure arrives as the ApplicationFailure itself, a regular one wrapped.
        const cause = error instanceof ActivityFailure ? error.cause : error;
        if (!(cause instanceof ApplicationFailure) || !cause.nonRetryable) throw error;
        const answer = await askPerson('step_failed', [
          { rule: cause.type ?? 'step_failed', detail: `${name}: ${cause.message}` },
        ]);
        if (answer?.kind === 'reject') throw await hold(answer);
      }
    }
  }

  /** The sync: a provider's permanent refusal waits for a person (approve retries, reject abandons the sync). */
  async function syncToProvider(issuedInvoiceId: string): Promise<void> {
    for (;;) {
      try {
        await sync.syncInvoice({ invoiceId: issuedInvoiceId });
        return;
      } catch (error) {
        if (!(error instanceof ActivityFailure)) throw error;
        const cause = error.cause instanceof ApplicationFailure ? error.cause : undefined;
        const decision = await askPerson('provider_sync_failed', [
          { rule: 'provider_sync_failed', detail: cause?.message ?? error.message },
        ]);
        if (decision?.kind !== 'approve') {
          // Rejecting a failed sync leaves the invoice issued but unsynced, on record for ops.
          await database.markSyncAbandoned({
            invoiceId: issuedInvoiceId,
            exceptionId: decision?.exceptionId ?? '',
            reason: decision?.kind === 'reject' ? decision.reason : 'adjust is not a sync decision',
          });
          return;
        }
      }
    }
  }

  /** Holds the period (and its draft, if any) and returns the signal that ends the close. */
  async function hold(decision: Extract<ReviewDecision, { kind: 'reject' }>): Promise<PeriodHeld> {
    await database.holdInvoice({
      invoiceId: invoiceId ?? liveInvoiceId(target.customerId, target.period, rerun?.number),
      exceptionId: decision.exceptionId,
      reason: decision.reason,
      customerId: target.customerId,
      period: target.period,
    });
    return new PeriodHeld(decision.reason);
  }

  /**
   * Dual control, first reviewer: the adjust is recorded as a proposal on the exception (shown in the
   * console and `tally review list`) and the exception stays open until a second, different reviewer
   * sends the same adjust, or someone rejects.
   */
  async function propose(
    decision: Extract<ReviewDecision, { kind: 'adjust' }>,
    proposedAt: string,
  ): Promise<DecisionOutcome> {
    proposal = { decision, proposedAt };
    proposalRecorded = false;
    const recorded = await database.proposeDecision({ exceptionId: decision.exceptionId, decision, proposedAt });
    // The database's proposal stands (one may have been recorded before a worker crash).
    proposal = { decision: recorded.decision, proposedAt: recorded.proposedAt };
    proposalRecorded = true;
    showReviewState('awaiting_confirmation', undefined);
    setCurrentDetails(
      `adjust ${recorded.decision.amount} proposed by ${recorded.decision.reviewer} at ${recorded.proposedAt}: waits for a second, different reviewer`,
    );
    if (!sameReviewerAndDecision(recorded.decision, decision)) {
      throw ApplicationFailure.create({
        message: `adjust ${recorded.decision.amount} proposed by ${recorded.decision.reviewer} at ${recorded.proposedAt} waits for a second, different reviewer`,
        type: 'already_proposed',
        nonRetryable: true,
      });
    }
    return {
      exceptionId: decision.exceptionId,
      decision: 'adjust',
      repeated: false,
      awaitingConfirmation: true,
      decidedBy: recorded.decision.reviewer,
      decidedAt: recorded.proposedAt,
    };
  }

  /** The review's state as search attributes, so the Temporal UI lists the periods that wait for a person. */
  function showReviewState(state: ReviewState, kind: string | undefined): void {
    if (!dualControl) return;
    upsertSearchAttributes({ ReviewState: [state], ...(kind === undefined ? {} : { ExceptionKind: [kind] }) });
  }

  /**
   * Opens an exception and waits for a person's decision. `recheck`, when given, looks every
   * `recheckMs` whether the cause went away by itself (then the exception is resolved, and
   * undefined returned). A review timeout escalates; nothing is ever approved by timeout.
   */
  function askPerson(kind: CloseExceptionKind, breaches: readonly ReviewBreach[]): Promise<ReviewDecision>;
  function askPerson(
    kind: CloseExceptionKind,
    breaches: readonly ReviewBreach[],
    recheck: (() => Promise<string | undefined>) | undefined,
  ): Promise<ReviewDecision | undefined>;
  async function askPerson(
    kind: CloseExceptionKind,
    breaches: readonly ReviewBreach[],
    recheck?: () => Promise<string | undefined>,
  ): Promise<ReviewDecision | undefined> {
    const exception = await database.openException({
      customerId: target.customerId,
      period: target.period,
      invoiceId,
      workflowId,
      kind,
      sequence: exceptionIds.length + 1,
      breaches,
      ...(rerun === undefined ? {} : { rerun: rerun.number }),
    });
    openExceptionId = exception.exceptionId;
    exceptionIds.push(exception.exceptionId);
    pendingDecision = undefined;
    openDualControlAbove = dualControl ? exception.dualControlAbove : undefined;
    proposal = undefined;
    proposalRecorded = false;
    const resumeStage = stage;
    stage = 'awaiting_review';
    showReviewState('awaiting_review', kind);
    setCurrentDetails(
      `awaiting review since ${new Date(Date.now()).toISOString()} (${kind}: ${breaches.map((breach) => breach.detail).join('; ')})`,
    );
    const timeoutMs = input.reviewTimeoutMs ?? exception.reviewTimeoutMs;
    const startedMs = Date.now();
    let escalated = false;
    const decisionArrived = () => pendingDecision !== undefined;
    for (;;) {
      const untilEscalation = escalated ? Number.POSITIVE_INFINITY : timeoutMs - (Date.now() - startedMs);
      const waitMs = Math.min(untilEscalation, recheck === undefined ? Number.POSITIVE_INFINITY : recheckMs);
      if (!Number.isFinite(waitMs)) {
        await condition(decisionArrived);
        break;
      }
      if (await condition(decisionArrived, Math.max(waitMs, 1))) break;
      if (!escalated && Date.now() - startedMs >= timeoutMs) {
        await database.escalateException({ exceptionId: exception.exceptionId, waitedMs: timeoutMs });
        escalated = true;
        stage = 'escalated';
        if (proposal === undefined) showReviewState('escalated', undefined);
      }
      if (recheck !== undefined && recording === undefined && pendingDecision === undefined) {
        const resolved = await recheck();
        if (resolved !== undefined && recording === undefined && pendingDecision === undefined) {
          await database.resolveException({ exceptionId: exception.exceptionId, detail: resolved });
          openExceptionId = undefined;
          stage = resumeStage;
          showReviewState('resolved', undefined);
          setCurrentDetails('');
          return undefined;
        }
      }
    }
    const decision = (pendingDecision as StandingDecision | undefined)?.decision;
    openExceptionId = undefined;
    pendingDecision = undefined;
    openDualControlAbove = undefined;
    proposal = undefined;
    stage = resumeStage;
    showReviewState('decided', undefined);
    setCurrentDetails('');
    return decision;
  }

  /** The close as it was first released (and patched since): kept so that workflows started then replay unchanged. */
  async function closeAsFirstReleased(): Promise<CustomerPeriodResult> {
    // Workflows started before the quick steps became local activities replay them as regular ones.
    const quick = patched(LOCAL_DATABASE_STEPS) ? localDatabase : database;
    upsertSearchAttributes({ CustomerId: [input.customerId], BillingPeriod: [input.period], RunMode: [input.mode] });
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
    // The first release's snapshot result has no status (it could only succeed); without `checks` it cannot wait.
    if (snapshot.status !== undefined && snapshot.status !== 'snapshotted')
      throw ApplicationFailure.nonRetryable(`snapshot ${snapshot.status}`, 'internal');

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
          customerId: target.customerId,
          period: target.period,
          invoiceId,
          workflowId,
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

    // 4. Draw down, 5. issue.
    await quick.drawDownCredits({ invoiceId });
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
          customerId: target.customerId,
          period: target.period,
          invoiceId,
          workflowId,
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

    // 7. Journal.
    stage = 'journaling';
    await quick.postJournal({ invoiceId });
    stage = 'completed';
    await condition(allHandlersFinished);
    return { stage, invoiceId, invoiceNumber: issued.invoiceNumber, total: issued.total, exceptionIds };
  }

  /** The first release's wait for a decision (one timeout, then escalation). */
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
    const decision = (pendingDecision as StandingDecision | undefined)?.decision;
    if (decision === undefined) throw ApplicationFailure.nonRetryable('decision missing after wait', 'internal');
    openExceptionId = undefined;
    pendingDecision = undefined;
    return decision;
  }
}

function sameReviewerAndDecision(a: ReviewDecision, b: ReviewDecision): boolean {
  return a.reviewer === b.reviewer && sameDecision(a, b);
}

function describeDecision(decision: ReviewDecision): string {
  return decision.kind === 'adjust' ? `adjust ${decision.amount}` : decision.kind;
}
