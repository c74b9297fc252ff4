import { TallyError } from '../contracts/tally-error.ts';
import type pg from 'pg';
import { latestLegacyImport, listShadowRuns, shadowResultsOf, type ShadowRunRecord } from '../db/queries/shadow.ts';
import {
  consecutivePeriods,
  cutoverReadiness,
  shadowReport,
  type CustomerComparison,
  type ReadinessVerdict,
  type RunFacts,
  type ShadowReport,
} from '../domain/shadow/index.ts';

/** A run's SPEC §6 report, each customer with the state of its exception. */
export interface RunReport extends ShadowReport {
  readonly run: ShadowRunRecord;
  readonly customers: readonly (CustomerComparison & {
    readonly exception_state: string;
    readonly decided_by?: string;
    readonly decision_note?: string;
  })[];
}

export class ShadowRunMissingError extends TallyError {
  constructor(message: string) {
    super('shadow_run_missing', message, { permanent: true });
  }
}

/** The report of one run (by id), or of the newest run (of a source, when given). */
export async function loadRunReport(
  pool: pg.Pool,
  selector: { runId?: string | undefined; source?: string | undefined },
): Promise<RunReport> {
  const runs = await listShadowRuns(pool, selector.source === undefined ? {} : { source: selector.source });
  const run = selector.runId === undefined ? runs[0] : runs.find((candidate) => candidate.runId === selector.runId);
  if (run === undefined)
    throw new ShadowRunMissingError(
      selector.runId === undefined ? 'no shadow run yet (tally shadow run)' : `no shadow run ${selector.runId}`,
    );
  const results = await shadowResultsOf(pool, run.runId);
  const customers = results.map((result) => ({
    ...(result.comparison as CustomerComparison),
    exception_state: result.exceptionState,
    ...(result.decidedBy === undefined ? {} : { decided_by: result.decidedBy }),
    ...(result.decisionNote === undefined ? {} : { decision_note: result.decisionNote }),
  }));
  const report = shadowReport(run.period, customers);
  return { ...report, customers: report.customers as RunReport['customers'], run };
}

/**
 * `tally shadow readiness`: the verdict over the `count` consecutive periods ending with `through`
 * (default: the newest period the source has a completed run for).
 */
export async function loadReadiness(
  pool: pg.Pool,
  options: { source: string; periods: number; through?: string | undefined },
): Promise<ReadinessVerdict & { through: string | undefined }> {
  const facts = await loadReadinessFacts(pool, options);
  if (facts.through === undefined) return { ready: false, periods: [], through: undefined };
  return { ...cutoverReadiness(facts), through: facts.through };
}

/**
 * What readiness is judged on: the periods (the `periods` consecutive ones ending with `through`, by
 * default the newest with a completed run of the source), their completed runs newest first, and
 * each period's latest legacy import. No periods when the source has no completed run.
 */
export async function loadReadinessFacts(
  pool: pg.Pool,
  options: { source: string; periods: number; through?: string | undefined },
): Promise<{
  through: string | undefined;
  periods: string[];
  runs: RunFacts[];
  latestImportOf: (period: string) => string | undefined;
}> {
  const runs = (await listShadowRuns(pool, { source: options.source })).filter((run) => run.status === 'completed');
  const through = options.through ?? [...runs.map((run) => run.period)].sort().at(-1);
  if (through === undefined) return { through, periods: [], runs: [], latestImportOf: () => undefined };
  const periods = consecutivePeriods(through, options.periods);
  const facts: RunFacts[] = [];
  for (const run of runs.filter((candidate) => periods.includes(candidate.period))) {
    const results = await shadowResultsOf(pool, run.runId);
    facts.push({
      runId: run.runId,
      period: run.period,
      legacyImportId: run.legacyImportId,
      customers: results.map((result) => {
        const comparison = result.comparison as CustomerComparison;
        return {
          customerId: result.customerId,
          status: result.status,
          exception: result.exception,
          exceptionState: result.exceptionState,
          currency: comparison.currency,
          variance: comparison.variance,
          variancePct: comparison.variance_pct,
        };
      }),
    });
  }
  const latest = new Map<string, string | undefined>();
  for (const period of periods) latest.set(period, (await latestLegacyImport(pool, options.source, period))?.importId);
  return { through, periods, runs: facts, latestImportOf: (period) => latest.get(period) };
}
