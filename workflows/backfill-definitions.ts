/**
 * Everything a client needs to talk to the backfill workflows (SPEC §5): ids, inputs, messages.
 * Importable from workers, the CLI and tests without pulling in workflow code.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AmountsByCurrency } from '../domain/money.ts';

export interface BackfillInput {
  /** The run's id; one run per plan, so it is the plan's id. */
  readonly backfillId: string;
  readonly planId: string;
  /** Who started it (recorded with the run). */
  readonly startedBy: string;
  /** How many customer-periods are adjusted at once (child workflows in flight); default 8. */
  readonly concurrency?: number;
  /** How long one attempt of a database step may take (default 2 minutes); tests use seconds. */
  readonly stepTimeoutMs?: number;
}

export interface BackfillItemInput {
  readonly backfillId: string;
  readonly planId: string;
  readonly customerId: string;
  readonly period: string;
  /** The plan's reason, written on each adjustment line. */
  readonly reason: string;
  readonly stepTimeoutMs?: number;
}

export type BackfillState = 'starting' | 'running' | 'paused' | 'cancelling' | 'completed' | 'cancelled' | 'refused';

export interface BackfillFailure {
  readonly customerId: string;
  readonly period: string;
  readonly error: string;
}

export interface BackfillProgress {
  readonly backfillId: string;
  readonly state: BackfillState;
  readonly total: number;
  readonly done: number;
  readonly adjusted: number;
  /**
   * The adjustments written so far, summed per currency (currency → exact decimal string): a run
   * over USD and EUR customers never adds dollars to euros.
   */
  readonly adjustmentTotals: AmountsByCurrency;
  readonly failures: readonly BackfillFailure[];
  /** Why the plan was refused (stale inputs), when it was. */
  readonly refusedBecause?: readonly string[];
}

/** `backfill:<backfill_id>` (SPEC §5). */
export function backfillWorkflowId(backfillId: string): string {
  return `backfill:${backfillId}`;
}

/** One child per customer-period, its id derived from the run: a replayed or repeated start finds the same child. */
export function backfillItemWorkflowId(backfillId: string, customerId: string, period: string): string {
  return `backfill:${backfillId}:${customerId}:${period}`;
}

export const pauseBackfillSignal = defineSignal('pauseBackfill');
export const resumeBackfillSignal = defineSignal('resumeBackfill');
/** Stops starting customer-periods; those in flight finish. What was written stays written. */
export const cancelBackfillSignal = defineSignal('cancelBackfill');
export const backfillProgressQuery = defineQuery<BackfillProgress>('backfillProgress');
