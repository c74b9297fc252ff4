import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { BillingActivities, MarketplaceActivities } from '../activities/index.ts';
// utc-hours.ts directly: the domain's index also exports the operation ids, which hash with node:crypto.
import { hourOf } from '../domain/marketplace/utc-hours.ts';
import { decideUpdate, type DecisionOutcome, type ReviewDecision } from './definitions.ts';
import {
  MARKETPLACE_KINDS,
  marketplaceSendWorkflowId,
  type MarketplaceExceptionInput,
  type MarketplaceLauncherInput,
  type MarketplacePassSummary,
  type MarketplaceSendInput,
  type MarketplaceSendSummary,
} from './marketplace-definitions.ts';

/**
 * Marketplace metering (SPEC §12). The hourly Temporal Schedule starts `marketplaceLauncherWorkflow`
 * (Temporal 1.29 appends the schedule's time to the ids of the workflows it starts, so the schedule
 * cannot give the send a business id); the launcher starts this hour's `marketplaceSendWorkflow`
 * under a deterministic id: 1 seal the due hours → 2 send each marketplace's records → 3 raise an
 * exception for records past half of their window → 4 give every open marketplace exception its
 * waiting `marketplaceExceptionWorkflow`, which a person decides through the `decide` update.
 */

function profiles(stepTimeoutMs = 120_000) {
  return {
    database: proxyActivities<MarketplaceActivities>({
      startToCloseTimeout: stepTimeoutMs * 5,
      heartbeatTimeout: stepTimeoutMs,
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
    }),
    /**
     * A marketplace is a remote API: a lost answer fails the attempt with its records in doubt, and
     * the next attempt resends them first (the same records: the marketplace answers from what it
     * holds). Short backoffs, because Google's window is one hour.
     */
    marketplace: proxyActivities<MarketplaceActivities>({
      startToCloseTimeout: stepTimeoutMs * 5,
      // A heartbeat before every call: a worker that died mid-call is noticed after one step timeout.
      heartbeatTimeout: stepTimeoutMs,
      retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 8 },
    }),
    review: proxyActivities<BillingActivities>({
      startToCloseTimeout: stepTimeoutMs,
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
    }),
  };
}

/** Started by the hourly schedule: starts (and waits for) this hour's send, once. */
export async function marketplaceLauncherWorkflow(
  input: MarketplaceLauncherInput,
): Promise<MarketplaceSendSummary | { readonly alreadyRunning: string }> {
  const asOf = new Date(Date.now()).toISOString();
  const workflowId = marketplaceSendWorkflowId(input.taskQueue, hourOf(asOf));
  try {
    return await executeChild(marketplaceSendWorkflow, {
      workflowId,
      args: [{ asOf, ...(input.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: input.stepTimeoutMs }) }],
    });
  } catch (error) {
    // A send of this hour is still running (a manual trigger on top of the schedule): that one does the work.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { alreadyRunning: workflowId };
    throw error;
  }
}

/** One hour's send: every step idempotent, so a rerun of the hour (a trigger, a retry) repeats nothing. */
export async function marketplaceSendWorkflow(input: MarketplaceSendInput): Promise<MarketplaceSendSummary> {
  const { database, marketplace } = profiles(input.stepTimeoutMs);
  const failures: string[] = [];
  const failed = (step: string, error: unknown): void => {
    if (!(error instanceof ActivityFailure)) throw error;
    failures.push(`${step}: ${error.cause?.message ?? error.message}`);
  };

  // 1. Seal: the hours that ended (plus the settle time) before asOf become buckets.
  let sealed = 0;
  let overReports = 0;
  try {
    const seal = await database.sealMarketplaceHours({ asOf: input.asOf });
    sealed = seal.sealed;
    overReports = seal.overReportExceptionIds.length;
    failures.push(...seal.problems);
  } catch (error) {
    failed('seal', error);
  }

  // 2. Send, each marketplace on its own (one failing does not hold back the others).
  const sent: Partial<Record<(typeof MARKETPLACE_KINDS)[number], MarketplacePassSummary>> = {};
  await Promise.all(
    MARKETPLACE_KINDS.map(async (kind) => {
      try {
        sent[kind] = await marketplace.sendMarketplaceRecords({ asOf: input.asOf, marketplace: kind });
      } catch (error) {
        failed(`send ${kind}`, error);
      }
    }),
  );

  // 3. Records still unsent past half of their window: an exception before it is too late.
  let atRisk = 0;
  try {
    atRisk = (await database.checkMarketplaceWindows({ asOf: input.asOf })).atRisk;
  } catch (error) {
    failed('window check', error);
  }

  // 4. Every open marketplace exception waits for its decision in a workflow of its own.
  try {
    await database.startMarketplaceExceptionWorkflows();
  } catch (error) {
    failed('exception workflows', error);
  }
  return { asOf: input.asOf, sealed, overReports, sent, atRisk, failures };
}

/**
 * Waits for a person's decision on one marketplace exception (an over-report to refund, a record at
 * risk or lost). The decision arrives as the `decide` update, validated synchronously like the
 * period workflow's; a timeout escalates and keeps waiting, it never decides.
 */
export async function marketplaceExceptionWorkflow(input: MarketplaceExceptionInput): Promise<ReviewDecision> {
  const { review } = profiles();
  let decision: ReviewDecision | undefined;
  setHandler(
    decideUpdate,
    async (incoming): Promise<DecisionOutcome> => {
      if (decision !== undefined) return { exceptionId: incoming.exceptionId, decision: incoming.kind, repeated: true };
      await review.recordDecision({ exceptionId: input.exceptionId, decision: incoming });
      decision = incoming;
      return { exceptionId: incoming.exceptionId, decision: incoming.kind, repeated: false };
    },
    {
      // Synchronous on purpose: an async validator's result is ignored by the SDK.
      validator: (incoming) => {
        if (incoming.exceptionId !== input.exceptionId)
          throw new Error(
            `exception ${incoming.exceptionId} is not the one this workflow waits on (${input.exceptionId})`,
          );
        if (decision !== undefined && decision.kind !== incoming.kind)
          throw new Error(`exception ${input.exceptionId} is already decided: ${decision.kind}`);
        if (decision !== undefined) return;
        if (!incoming.reviewer.trim()) throw new Error('a decision names its reviewer');
        if (incoming.kind !== 'approve' && !incoming.reason.trim()) throw new Error(`${incoming.kind} needs a reason`);
        if (incoming.kind === 'adjust' && !/^-?\d{1,20}(\.\d{1,12})?$/.test(incoming.amount))
          throw new Error('adjust amount is a decimal string');
      },
    },
  );
  const timeoutMs = input.reviewTimeoutMs ?? 72 * 3_600_000;
  if (!(await condition(() => decision !== undefined, timeoutMs))) {
    await review.escalateException({ exceptionId: input.exceptionId, waitedMs: timeoutMs });
    await condition(() => decision !== undefined);
  }
  await condition(allHandlersFinished);
  if (decision === undefined)
    throw ApplicationFailure.nonRetryable(`no decision on ${workflowInfo().workflowId}`, 'internal');
  return decision;
}
