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
  /** Customer-periods read from the plan per page (default 200). */
  readonly pageSize?: number;
  /**
   * History events after which a run continues as new at its next page (default 10,000; Temporal
   * ends a workflow at 50,000); tests use a few dozen.
   */
  readonly historyBudget?: number;
  /** Set by the run that continued as new: where it stopped and what the run had come to. */
  readonly resume?: BackfillResume;
}

/** What a run carries into the run it continues as: the plan's cursor and the progress so far. */
export interface BackfillResume {
  /** The last customer-period handed out (every one up to it is done). */
  readonly after: { readonly customerId: string; readonly period: string };
  /** The plan's reason (read once, by the stale-plan check of the first run). */
  readonly reason: string;
  readonly total: number;
  readonly done: number;
  readonly adjusted: number;
  readonly adjustmentTotals: AmountsByCurrency;
  /** The first failures; `failed` counts them all. */
  readonly failures: readonly BackfillFailure[];
  readonly failed: number;
  /** Paused when it continued as new: the next run starts paused. */
  readonly paused: boolean;
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
  /** The failed customer-periods; a paged run lists the first 200 and counts the rest in `failed`. */
  readonly failures: readonly BackfillFailure[];
  /** How many failed, when more than `failures` lists (absent: every failure is listed). */
  readonly failed?: number;
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
