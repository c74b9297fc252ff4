import { describeMoney } from '../money.ts';

/** What readiness needs to know of one completed shadow run. */
export interface RunFacts {
  readonly runId: string;
  readonly period: string;
  /** The legacy import version it compared against (undefined: the source had no lines then). */
  readonly legacyImportId: string | undefined;
  readonly customers: readonly {
    readonly customerId: string;
    readonly status: 'match' | 'diff' | 'only_legacy' | 'only_new';
    readonly exception: boolean;
    readonly exceptionState: 'none' | 'open' | 'accepted' | 'rejected';
    /** Tally's invoice currency: the variance's. */
    readonly currency: string;
    readonly variance: string | null;
    readonly variancePct: string | null;
  }[];
}

export interface PeriodReadiness {
  readonly period: string;
  readonly ready: boolean;
  /** The run that makes the period ready, or the newest one looked at. */
  readonly runId: string | undefined;
  /** Why not, per customer (or for the whole period: `customerId` undefined). */
  readonly reasons: readonly { readonly customerId: string | undefined; readonly reason: string }[];
}

export interface ReadinessVerdict {
  readonly ready: boolean;
  readonly periods: readonly PeriodReadiness[];
}

/** The `count` consecutive periods ending with `last` (YYYY-MM), oldest first. */
export function consecutivePeriods(last: string, count: number): string[] {
  const [yearText, monthText] = last.split('-') as [string, string];
  let months = Number.parseInt(yearText, 10) * 12 + Number.parseInt(monthText, 10) - 1;
  const periods: string[] = [];
  for (let index = 0; index < count; index += 1, months -= 1) {
    periods.unshift(`${Math.floor(months / 12)}-${String((months % 12) + 1).padStart(2, '0')}`);
  }
  return periods;
}

/**
 * Cutover readiness of SPEC §6: ready only when each of the periods has a completed run in which
 * every customer matches, is within tolerance (no exception) or has its exception accepted. A run
 * that compared against a legacy version since superseded does not count: the legacy biller's
 * numbers changed after it (docs/decisions/shadow.md). Runs are given newest first.
 */
export function cutoverReadiness(input: {
  readonly periods: readonly string[];
  readonly runs: readonly RunFacts[];
  /** The latest legacy import per period (undefined: none). */
  readonly latestImportOf: (period: string) => string | undefined;
}): ReadinessVerdict {
  const periods = input.periods.map((period): PeriodReadiness => {
    const runs = input.runs.filter((run) => run.period === period);
    if (runs.length === 0)
      return {
        period,
        ready: false,
        runId: undefined,
        reasons: [{ customerId: undefined, reason: 'no completed shadow run' }],
      };
    const latestImport = input.latestImportOf(period);
    const current = runs.filter((run) => run.legacyImportId === latestImport);
    if (current.length === 0) {
      const newest = runs[0] as RunFacts;
      return {
        period,
        ready: false,
        runId: newest.runId,
        reasons: [
          {
            customerId: undefined,
            reason: `every run compared against a superseded legacy import (${newest.legacyImportId ?? 'none'}; latest ${latestImport ?? 'none'}): run again`,
          },
        ],
      };
    }
    const judged = current.map((run) => ({ run, reasons: notReadyReasons(run) }));
    const ready = judged.find((entry) => entry.reasons.length === 0);
    if (ready !== undefined) return { period, ready: true, runId: ready.run.runId, reasons: [] };
    const newest = judged[0] as { run: RunFacts; reasons: PeriodReadiness['reasons'] };
    return { period, ready: false, runId: newest.run.runId, reasons: newest.reasons };
  });
  return { ready: periods.length > 0 && periods.every((period) => period.ready), periods };
}

/** Why a run does not make its period ready: one reason per customer over the thresholds and not accepted. */
export function notReadyReasons(run: RunFacts): PeriodReadiness['reasons'] {
  const reasons: { customerId: string | undefined; reason: string }[] = [];
  for (const customer of run.customers) {
    if (!customer.exception || customer.exceptionState === 'accepted') continue;
    const variance =
      customer.variance === null
        ? 'variance not comparable'
        : `variance ${describeMoney(customer.variance, customer.currency)}${customer.variancePct === null ? '' : ` (${customer.variancePct} %)`}`;
    const state =
      customer.exceptionState === 'rejected' ? 'exception rejected: Tally is wrong' : 'exception not accepted';
    reasons.push({ customerId: customer.customerId, reason: `${customer.status}, ${variance}, ${state}` });
  }
  return reasons;
}
