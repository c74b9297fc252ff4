/**
 * What clients need to talk to the marketplace-metering workflows (SPEC §12): ids, inputs, results.
 * Importable from workers, the CLI, activities and tests without pulling in workflow code.
 */
import type { MarketplaceKind } from '../contracts/contract.ts';

export const MARKETPLACE_KINDS: readonly MarketplaceKind[] = ['aws', 'azure', 'gcp'];

/** The hourly Temporal Schedule of a deployment (one per task queue). */
export function marketplaceScheduleId(taskQueue: string): string {
  return `marketplace-hourly:${taskQueue}`;
}

/**
 * The send of one hour: a deterministic id, so the schedule's launcher, a manual trigger and a retry
 * in the same hour find one send rather than start several (Temporal 1.29 suffixes the ids of
 * scheduled workflows with their time, so the schedule starts a launcher that starts this).
 */
export function marketplaceSendWorkflowId(taskQueue: string, hour: string): string {
  return `marketplace-send:${taskQueue}:${hour}`;
}

/** One waiting workflow per marketplace exception: decisions reach it through the `decide` update, like every exception. */
export function marketplaceExceptionWorkflowId(exceptionId: string): string {
  return `marketplace-exception:${exceptionId}`;
}

export interface MarketplaceLauncherInput {
  readonly taskQueue: string;
  /** Per-step timeout of the send it starts (default 2 minutes; tests use seconds). */
  readonly stepTimeoutMs?: number;
}

export interface MarketplaceSendInput {
  /** The instant the send works as of: hours ending (plus the settle time) before it are sealed and sent. */
  readonly asOf: string;
  readonly stepTimeoutMs?: number;
}

export interface MarketplaceSendSummary {
  readonly asOf: string;
  readonly sealed: number;
  readonly overReports: number;
  readonly sent: Partial<Record<MarketplaceKind, MarketplacePassSummary>>;
  readonly atRisk: number;
  readonly failures: readonly string[];
}

/** One marketplace's send pass. */
export interface MarketplacePassSummary {
  readonly marketplace: MarketplaceKind;
  /** `sent`: the pass ran; `not_configured`: no adapter (only expiry ran); `busy`: another sender held the lock. */
  readonly status: 'sent' | 'not_configured' | 'busy';
  readonly calls: number;
  readonly accepted: number;
  readonly duplicate: number;
  readonly rejected: number;
  readonly expired: number;
  readonly unknown: number;
  /** Still without an outcome after the pass (throttled, unprocessed, in doubt). */
  readonly pending: number;
  readonly exceptionIds: readonly string[];
}

export interface MarketplaceExceptionInput {
  readonly exceptionId: string;
  /** Escalate (never decide) after this long without a decision; default 72 h. */
  readonly reviewTimeoutMs?: number;
}
