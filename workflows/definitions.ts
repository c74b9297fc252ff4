/**
 * Everything a client needs to talk to the billing workflows: ids, task queue, inputs, messages.
 * Importable from workers, the CLI and tests without pulling in workflow code.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { Decimal } from '../domain/money.ts';
import type { ReviewDecision } from '../contracts/review-decision.ts';
import { rerunSuffix } from '../domain/period-rerun.ts';

/** What the calculation does today: one version, kept in domain/ beside the engine it names. */
export { CALCULATION_VERSION } from '../domain/calculation-version.ts';

/** `live` issues, syncs and journals; `shadow` rates and compares only (no provider, no journal, no credit movements). */
export type RunMode = 'live' | 'shadow';

export interface CustomerPeriodInput {
  readonly customerId: string;
  /** `YYYY-MM`. */
  readonly period: string;
  readonly mode: RunMode;
  readonly calculationVersion: string;
  /**
   * Shadow mode only: the shadow run this close belongs to. Its snapshot, draft and workflow id are
   * then the run's own, so a later run rates what is stored and published then (docs/decisions/shadow.md).
   */
  readonly shadowRunId?: string;
  /**
   * Waits, as workflow inputs so tests and the demo use seconds (there is no time skipping offline).
   * Unset: the contract's grace and review timeout apply.
   */
  readonly graceMs?: number;
  readonly reviewTimeoutMs?: number;
  /** How long one attempt of a database step may take (default 2 minutes); tests use seconds. */
  readonly stepTimeoutMs?: number;
  /**
   * How often a waiting close looks again: for earlier periods of the customer to be final, for
   * ingest to catch up, for a contract to be published (default 30 s).
   */
  readonly recheckMs?: number;
  /** How long the close waits for a lagging ingest consumer before it asks a person (default 15 minutes). */
  readonly ingestWaitMs?: number;
  /**
   * Live only: this close re-rates a held period (`tally period rerun`, SPEC §5) as re-run `number`,
   * with its own workflow id, snapshot and draft (`inv:<customer>:<period>:r<number>`).
   */
  readonly rerun?: PeriodRerun;
}

/** A re-run of a held period: which one, who asked and why (recorded with the held draft it voids). */
export interface PeriodRerun {
  /** 1 for the first re-run of the period, n + 1 after re-run n was held in turn. */
  readonly number: number;
  /** The held draft this re-run voids; absent when the period was held before it had a draft. */
  readonly heldInvoiceId?: string;
  readonly reason: string;
  /** Who asked (`cli:<name>` in the audit log). */
  readonly requestedBy: string;
}

/**
 * Business ids as workflow ids: one live workflow per customer and period, so starting it twice
 * finds the running one. A deliberate recalculation or a shadow run runs under its own id.
 */
export function customerPeriodWorkflowId(
  input: Pick<CustomerPeriodInput, 'customerId' | 'period' | 'mode' | 'calculationVersion' | 'shadowRunId'> & {
    readonly rerun?: Pick<PeriodRerun, 'number'> | undefined;
  },
): string {
  const base = `billing:${input.customerId}:${input.period}`;
  if (input.mode === 'live') return `${base}${rerunSuffix(input.rerun?.number)}`;
  const shadow = `${base}:shadow:${input.calculationVersion}`;
  return input.shadowRunId === undefined ? shadow : `${shadow}:run:${input.shadowRunId}`;
}

/** A reviewer's decision (SPEC §9): the contract lives in contracts/review-decision.ts. */
export type { ReviewDecision };

export type PeriodStage =
  | 'open'
  /** A customer's periods draw credits and issue in period order: an earlier one is not final yet. */
  | 'waiting_for_earlier_period'
  /** The ingest consumer has not committed everything the stream received before the cut-off. */
  | 'waiting_for_ingest'
  | 'snapshotting'
  | 'rating'
  | 'awaiting_review'
  | 'escalated'
  | 'issuing'
  | 'syncing'
  | 'journaling'
  | 'completed'
  | 'held'
  /** Rated all zero under `invoice_when_zero: false`: no invoice issued. */
  | 'skipped'
  /** Rated while the legacy biller had the customer's billing authority: it invoices; Tally issued nothing. */
  | 'legacy';

export interface PeriodStatus {
  readonly customerId: string;
  readonly period: string;
  readonly stage: PeriodStage;
  readonly closesAt: string | undefined;
  readonly invoiceId: string | undefined;
  readonly openExceptionId: string | undefined;
  readonly decisions: readonly ReviewDecision[];
  /** What a waiting close waits for, in words. */
  readonly waitingFor?: string | undefined;
}

export interface DecisionOutcome {
  readonly exceptionId: string;
  readonly decision: ReviewDecision['kind'];
  /** True when this exact decision had already been applied: a repeat is a no-op. */
  readonly repeated: boolean;
  /** Who made the decision that stands, and when (a repeat names the first decider, not the repeater). */
  readonly decidedBy?: string;
  readonly decidedAt?: string;
  /**
   * Dual control: the adjust is recorded as a proposal and applies only once a second, different
   * reviewer sends the same adjust (`decidedBy` is then the proposer, `confirmedBy` the second).
   */
  readonly awaitingConfirmation?: boolean;
  readonly confirmedBy?: string;
}

/** Where a period's review stands, as the `ReviewState` search attribute shows it in the Temporal UI. */
export type ReviewState = 'awaiting_review' | 'escalated' | 'awaiting_confirmation' | 'decided' | 'resolved';

/**
 * Whether an adjust needs a second reviewer: its amount (either sign: a credit moves money as much as
 * a charge) above the contract's `review.dual_control_above`.
 */
export function needsSecondReviewer(decision: ReviewDecision, dualControlAbove: string | undefined): boolean {
  return (
    decision.kind === 'adjust' &&
    dualControlAbove !== undefined &&
    new Decimal(decision.amount).abs().gt(new Decimal(dualControlAbove))
  );
}

/**
 * Two decisions are the same decision when they decide the same exception the same way: the same
 * kind and, for an adjustment, the same amount. Anything else on an exception already decided is
 * refused: exactly one decision wins.
 */
export function sameDecision(a: ReviewDecision, b: ReviewDecision): boolean {
  if (a.exceptionId !== b.exceptionId || a.kind !== b.kind) return false;
  return a.kind !== 'adjust' || b.kind !== 'adjust' || sameDecimal(a.amount, b.amount);
}

/** Decimal strings equal in value ("10" and "10.00"). */
function sameDecimal(a: string, b: string): boolean {
  return new Decimal(a).eq(new Decimal(b));
}

/** Close the period now instead of at period end + grace (ops, the demo, backfills). */
export const closeNowSignal = defineSignal('closeNow');
/** A person's decision on the open exception. Validated synchronously before it is accepted. */
export const decideUpdate = defineUpdate<DecisionOutcome, [ReviewDecision]>('decide');
export const statusQuery = defineQuery<PeriodStatus>('status');

/** A shadow run of one legacy source and period (SPEC §6); see workflows/shadow-run.ts. */
export interface ShadowRunInput {
  readonly source: string;
  /** `YYYY-MM`; absent (a scheduled run): the month before the run started, the period that just closed. */
  readonly period?: string;
  /** Absent: the workflow id (a scheduled run's id is unique per firing). */
  readonly runId?: string;
  readonly calculationVersion: string;
  /** Only these customers (a cohort; the demo's own); absent: every customer with a contract or a legacy line. */
  readonly customers?: readonly string[];
  /** Customers closed in shadow at once (default 20). */
  readonly concurrency?: number;
  /** The task queue of the shadow closes (default: the run's own). */
  readonly taskQueue?: string;
  readonly stepTimeoutMs?: number;
  /** Waits of each shadow close (tests and the demo use seconds). */
  readonly closeOptions?: Pick<CustomerPeriodInput, 'graceMs' | 'reviewTimeoutMs' | 'stepTimeoutMs' | 'recheckMs'>;
  /** Customers read from the run's list per page (default 200; a comparison page is at most 100). */
  readonly pageSize?: number;
  /**
   * History events after which a run continues as new at its next page (default 10,000; Temporal
   * ends a workflow at 50,000); tests use a few dozen.
   */
  readonly historyBudget?: number;
  /** Set by the run that continued as new: where it stopped and what the run had come to. */
  readonly resume?: ShadowRunResume;
}

/** What a shadow run carries into the run it continues as. */
export interface ShadowRunResume {
  readonly stage: 'rating' | 'comparing' | 'awaiting_review';
  /** The last customer of the stage handed out (every one up to it is closed or compared); null: none yet. */
  readonly after: string | null;
  readonly legacyImportId?: string;
  readonly counts: Pick<ShadowRunProgress, 'customers' | 'rated' | 'compared' | 'matches' | 'exceptions'>;
  /** shadow_variance exceptions waiting for a person: [exception id, customer]. */
  readonly open: readonly (readonly [string, string])[];
  /** Those decided through this run's workflow so far: [exception id, customer]. */
  readonly decided: readonly (readonly [string, string])[];
}

export interface ShadowRunProgress {
  readonly runId: string;
  readonly source: string;
  readonly period: string;
  /** `awaiting_review`: compared and recorded; shadow_variance exceptions wait for a person (`tally review`). */
  readonly stage: 'planning' | 'rating' | 'comparing' | 'awaiting_review' | 'completed';
  readonly customers: number;
  readonly rated: number;
  readonly compared: number;
  readonly matches: number;
  readonly exceptions: number;
  readonly openExceptions: number;
}

export const shadowRunProgressQuery = defineQuery<ShadowRunProgress>('shadowRunProgress');

/** The workflow id of a shadow run started by hand (a schedule's runs get the schedule's ids). */
export function shadowRunWorkflowId(runId: string): string {
  return `shadow-run:${runId}`;
}

/** The month before the one `instant` falls in (UTC): the period that just closed. */
export function previousPeriodName(instant: string): string {
  const year = Number.parseInt(instant.slice(0, 4), 10);
  const month = Number.parseInt(instant.slice(5, 7), 10);
  return month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, '0')}`;
}
