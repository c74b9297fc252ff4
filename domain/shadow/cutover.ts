import type { BillingAuthority } from '../../contracts/contract.ts';
import { notReadyReasons, type RunFacts } from './readiness.ts';

/**
 * Cutover by cohort (docs/decisions/shadow.md): which biller invoices a customer, and whether a
 * cohort of customers may move to Tally.
 */

/** Where a period's authority came from: a recorded flip, the contract's field, or the default (Tally). */
export type AuthoritySource = 'flip' | 'contract' | 'default';

/**
 * The authority in force for a customer: its newest flip (`tally shadow cutover | rollback`) when one
 * was ever recorded, else the contract's `billing_authority`, else `tally`. A flip outranks the
 * contract: republishing a contract that still says `legacy` must not undo a cutover.
 *
 * @example authorityInForce(undefined, 'legacy') → { authority: 'legacy', decidedFrom: 'contract', flipId: undefined }
 * @example authorityInForce({ flipId: '7', authority: 'tally' }, 'legacy') → { authority: 'tally', decidedFrom: 'flip', flipId: '7' }
 */
export function authorityInForce(
  latestFlip: { readonly flipId: string; readonly authority: BillingAuthority } | undefined,
  contractAuthority: BillingAuthority | undefined,
): { authority: BillingAuthority; decidedFrom: AuthoritySource; flipId: string | undefined } {
  if (latestFlip !== undefined)
    return { authority: latestFlip.authority, decidedFrom: 'flip', flipId: latestFlip.flipId };
  if (contractAuthority !== undefined)
    return { authority: contractAuthority, decidedFrom: 'contract', flipId: undefined };
  return { authority: 'tally', decidedFrom: 'default', flipId: undefined };
}

export interface CustomerReadiness {
  readonly customerId: string;
  readonly ready: boolean;
  /** The run of each period that makes the customer ready there (empty when not ready). */
  readonly runs: readonly { readonly period: string; readonly runId: string }[];
  /** Why not, per period. */
  readonly reasons: readonly { readonly period: string; readonly reason: string }[];
}

/**
 * SPEC §6 readiness for each customer of a cohort: for every one of the periods, a completed run
 * against the period's latest legacy import in which the customer matches, is within tolerance or has
 * its exception accepted. Other customers' differences do not hold a cohort back (that is what
 * cutting over by cohort is for); a customer no current run compared is not ready. Runs newest first.
 */
export function cohortReadiness(input: {
  readonly customerIds: readonly string[];
  readonly periods: readonly string[];
  readonly runs: readonly RunFacts[];
  readonly latestImportOf: (period: string) => string | undefined;
}): CustomerReadiness[] {
  return input.customerIds.map((customerId) => {
    const runs: { period: string; runId: string }[] = [];
    const reasons: { period: string; reason: string }[] = [];
    if (input.periods.length === 0) reasons.push({ period: '', reason: 'no completed shadow run' });
    for (const period of input.periods) {
      const ofPeriod = input.runs.filter((run) => run.period === period);
      if (ofPeriod.length === 0) {
        reasons.push({ period, reason: 'no completed shadow run' });
        continue;
      }
      const latestImport = input.latestImportOf(period);
      const current = ofPeriod.filter((run) => run.legacyImportId === latestImport);
      if (current.length === 0) {
        reasons.push({
          period,
          reason: `every run compared against a superseded legacy import (latest ${latestImport ?? 'none'}): run again`,
        });
        continue;
      }
      const comparing = current.filter((run) => run.customers.some((customer) => customer.customerId === customerId));
      if (comparing.length === 0) {
        reasons.push({ period, reason: 'no shadow run against the latest legacy import compared this customer' });
        continue;
      }
      const ready = comparing.find((run) => customerReasons(run, customerId).length === 0);
      if (ready !== undefined) {
        runs.push({ period, runId: ready.runId });
        continue;
      }
      const newest = comparing[0] as RunFacts;
      for (const reason of customerReasons(newest, customerId))
        reasons.push({ period, reason: `${reason} (run ${newest.runId})` });
    }
    return { customerId, ready: reasons.length === 0, runs: reasons.length === 0 ? runs : [], reasons };
  });
}

function customerReasons(run: RunFacts, customerId: string): string[] {
  return notReadyReasons({
    ...run,
    customers: run.customers.filter((customer) => customer.customerId === customerId),
  }).map((reason) => reason.reason);
}
