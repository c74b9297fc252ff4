/**
 * Everything a client needs to talk to the billing workflows: ids, task queue, inputs, messages.
 * Importable from workers, the CLI and tests without pulling in workflow code.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** What the calculation does today. Bump it when rating changes meaning: recalculations under a new version adjust. */
export const CALCULATION_VERSION = 'calc-2026.11.1';

/** `live` issues, syncs and journals; `shadow` rates and compares only (no provider, no journal, no credit movements). */
export type RunMode = 'live' | 'shadow';

export interface CustomerPeriodInput {
  readonly customerId: string;
  /** `YYYY-MM`. */
  readonly period: string;
  readonly mode: RunMode;
  readonly calculationVersion: string;
  /**
   * Waits, as workflow inputs so tests and the demo use seconds (there is no time skipping offline).
   * Unset: the contract's grace and review timeout apply.
   */
  readonly graceMs?: number;
  readonly reviewTimeoutMs?: number;
  /** How long one attempt of a database step may take (default 2 minutes); tests use seconds. */
  readonly stepTimeoutMs?: number;
}

/**
 * Business ids as workflow ids: one live workflow per customer and period, so starting it twice
 * finds the running one. A deliberate recalculation or a shadow run runs under its own id.
 */
export function customerPeriodWorkflowId(
  input: Pick<CustomerPeriodInput, 'customerId' | 'period' | 'mode' | 'calculationVersion'>,
): string {
  const base = `billing:${input.customerId}:${input.period}`;
  return input.mode === 'shadow' ? `${base}:shadow:${input.calculationVersion}` : base;
}

export type ReviewDecision =
  | { readonly kind: 'approve'; readonly exceptionId: string; readonly reviewer: string; readonly note?: string }
  | { readonly kind: 'reject'; readonly exceptionId: string; readonly reviewer: string; readonly reason: string }
  | {
      readonly kind: 'adjust';
      readonly exceptionId: string;
      readonly reviewer: string;
      readonly reason: string;
      readonly amount: string;
    };

export type PeriodStage =
  | 'open'
  | 'snapshotting'
  | 'rating'
  | 'awaiting_review'
  | 'escalated'
  | 'issuing'
  | 'syncing'
  | 'journaling'
  | 'completed'
  | 'held';

export interface PeriodStatus {
  readonly customerId: string;
  readonly period: string;
  readonly stage: PeriodStage;
  readonly closesAt: string | undefined;
  readonly invoiceId: string | undefined;
  readonly openExceptionId: string | undefined;
  readonly decisions: readonly ReviewDecision[];
}

export interface DecisionOutcome {
  readonly exceptionId: string;
  readonly decision: ReviewDecision['kind'];
  /** True when this exact decision had already been applied: a repeat is a no-op. */
  readonly repeated: boolean;
}

/** Close the period now instead of at period end + grace (ops, the demo, backfills). */
export const closeNowSignal = defineSignal('closeNow');
/** A person's decision on the open exception. Validated synchronously before it is accepted. */
export const decideUpdate = defineUpdate<DecisionOutcome, [ReviewDecision]>('decide');
export const statusQuery = defineQuery<PeriodStatus>('status');
