import type pg from 'pg';
import { findInvoice, type InvoiceRecord } from '../db/queries/invoices.ts';
import { loadSnapshot } from '../db/queries/period-snapshots.ts';
import { customerEventsNearPeriodEdges } from '../db/queries/usage-events.ts';
import { openReviewException, recordReviewDecision } from '../db/queries/review-exceptions.ts';
import {
  contractCustomersActiveIn,
  decideShadowException,
  insertShadowRun,
  insertShadowRunWithCustomers,
  latestLegacyImport,
  legacyCustomersOf,
  legacyLinesOf,
  markShadowRunCompleted,
  saveShadowResult,
  shadowRunCustomerPage,
} from '../db/queries/shadow.ts';
import { withTransaction } from '../db/pool.ts';
import { billingPeriod } from '../domain/period.ts';
import {
  BOUNDARY_WINDOW_MINUTES,
  boundaryUsageFromEvents,
  compareCustomerPeriod,
  summarizeComparisons,
  type BoundaryUsage,
  type CustomerComparison,
} from '../domain/shadow/index.ts';
import { UnknownCustomerError, UnpublishedRateCardError, type TermsSource } from '../terms/index.ts';
import type { ReviewDecision } from '../workflows/definitions.ts';
import { invoiceIdFor } from './billing-activities.ts';

export interface ShadowRunDependencies {
  readonly pool: pg.Pool;
  readonly terms: TermsSource;
}

/** Who a shadow run covers: customers to rate (a published contract) and customers only the legacy biller knows. */
export interface ShadowRunPlan {
  readonly runId: string;
  readonly legacyImportId: string | undefined;
  /** Rated in shadow by the customer-period workflow, then compared. */
  readonly rated: readonly string[];
  /** Legacy lines but no contract active in the period: compared as `only_legacy` without a close. */
  readonly legacyOnly: readonly string[];
}

/**
 * The shadow-run workflow's steps. Each is idempotent: the run is recorded once under its id (with
 * the legacy version it chose, so a retry compares against the same one), a comparison rewrites
 * the same numbers and keeps a decision already taken.
 */
export function createShadowRunActivities(deps: ShadowRunDependencies) {
  const { pool } = deps;

  /** Tally's usage near the edges of a shadow draft's period, priced under the terms its snapshot recorded. */
  async function boundaryUsageOf(invoice: InvoiceRecord): Promise<BoundaryUsage[]> {
    const snapshot = await loadSnapshot(pool, invoice.snapshotId);
    if (snapshot?.contractHash === undefined || snapshot.ratecardVersions === undefined) return [];
    const terms = await deps.terms.recorded(invoice.customerId, {
      contractHash: snapshot.contractHash,
      ratecardVersions: snapshot.ratecardVersions,
    });
    const period = billingPeriod(invoice.period);
    const events = await customerEventsNearPeriodEdges(pool, {
      customerId: invoice.customerId,
      period: invoice.period,
      periodStart: period.start,
      periodEnd: period.end,
      windowMinutes: BOUNDARY_WINDOW_MINUTES,
    });
    return boundaryUsageFromEvents(events, terms.versions, period);
  }

  /** Who a run covers: customers with a contract active in the period, and the legacy version's others (each sorted). */
  async function cohortOf(input: { source: string; period: string; customers?: readonly string[] }) {
    const period = billingPeriod(input.period);
    const chosen = await latestLegacyImport(pool, input.source, input.period);
    const only = input.customers === undefined ? undefined : new Set(input.customers);
    const cohort = (customerIds: string[]) =>
      only === undefined ? customerIds : customerIds.filter((customerId) => only.has(customerId));
    const contracted = cohort(await contractCustomersActiveIn(pool, period.start, period.end));
    const legacy = chosen === undefined ? [] : cohort(await legacyCustomersOf(pool, chosen.importId));
    const contractedSet = new Set(contracted);
    return { chosen, contracted, legacyOnly: legacy.filter((customerId) => !contractedSet.has(customerId)) };
  }

  return {
    /** Records the run (once) and lists its customers: those with a contract active in the period, and the legacy lines' customers. */
    async planShadowRun(input: {
      runId: string;
      source: string;
      period: string;
      calculationVersion: string;
      customers?: readonly string[];
    }): Promise<ShadowRunPlan> {
      const { chosen, contracted, legacyOnly } = await cohortOf(input);
      const run = await insertShadowRun(pool, {
        runId: input.runId,
        source: input.source,
        period: input.period,
        calculationVersion: input.calculationVersion,
        legacyImportId: chosen?.importId,
        customerCount: contracted.length + legacyOnly.length,
      });
      return { runId: run.runId, legacyImportId: run.legacyImportId, rated: contracted, legacyOnly };
    },

    /**
     * The paged run's plan: records the run and its customers once (a retry finds both as first
     * recorded) and says how many there are; the run reads them a page at a time
     * (`listShadowRunCustomerPage`), so its results stay small however many customers there are.
     */
    async planPagedShadowRun(input: {
      runId: string;
      source: string;
      period: string;
      calculationVersion: string;
      customers?: readonly string[];
    }): Promise<{ runId: string; legacyImportId: string | undefined; rated: number; legacyOnly: number }> {
      const { chosen, contracted, legacyOnly } = await cohortOf(input);
      const recorded = await withTransaction(pool, (client) =>
        insertShadowRunWithCustomers(
          client,
          {
            runId: input.runId,
            source: input.source,
            period: input.period,
            calculationVersion: input.calculationVersion,
            legacyImportId: chosen?.importId,
          },
          { rated: contracted, legacyOnly },
        ),
      );
      return {
        runId: recorded.run.runId,
        legacyImportId: recorded.run.legacyImportId,
        rated: recorded.rated,
        legacyOnly: recorded.legacyOnly,
      };
    },

    /** A page of a paged run's customers in customer order after `after`: those it rates, or all of them. */
    async listShadowRunCustomerPage(input: {
      runId: string;
      ratedOnly: boolean;
      after: string | null;
      limit: number;
    }): Promise<{ customerIds: string[]; next: string | null }> {
      return shadowRunCustomerPage(pool, input);
    },

    /** Compares a batch of the run's customers (their shadow drafts against the run's legacy version) and records each. */
    async compareShadowCustomers(input: {
      runId: string;
      period: string;
      calculationVersion: string;
      legacyImportId: string | undefined;
      customerIds: readonly string[];
      /** The run's workflow: a shadow_variance exception is decided there, through `decide`. */
      workflowId?: string;
    }): Promise<{
      compared: number;
      exceptions: number;
      matches: number;
      /** The shadow_variance exceptions opened (or found open) for this batch. */
      openExceptions?: { exceptionId: string; customerId: string }[];
    }> {
      const legacy =
        input.legacyImportId === undefined ? [] : await legacyLinesOf(pool, input.legacyImportId, input.customerIds);
      const results: CustomerComparison[] = [];
      const openExceptions: { exceptionId: string; customerId: string }[] = [];
      for (const customerId of input.customerIds) {
        const invoice = await findInvoice(
          pool,
          invoiceIdFor({
            customerId,
            period: input.period,
            mode: 'shadow',
            calculationVersion: input.calculationVersion,
            shadowRunId: input.runId,
          }),
        );
        const review = invoice === undefined ? undefined : await contractReview(customerId);
        const compareWith = (boundaryUsage: BoundaryUsage[] | undefined) =>
          compareCustomerPeriod({
            customerId,
            legacy: legacy
              .filter((line) => line.customerId === customerId)
              .map((line) => ({
                customer_id: customerId,
                period: input.period,
                price_id: line.priceId,
                quantity: line.quantity,
                amount: line.amount,
                currency: line.currency,
              })),
            invoice: invoice?.document,
            thresholds: {
              variancePctAbove: review?.shadow_variance_pct,
              varianceAbsAbove: review?.shadow_variance_abs,
            },
            boundaryUsage,
          });
        let comparison = compareWith(undefined);
        // Quantities that differ at one unit price may be a month cut in another time zone: only then
        // read the usage near the period's edges (most customers never need it).
        if (invoice !== undefined && comparison.lines.some((line) => line.cause === 'missing_or_duplicate_events'))
          comparison = compareWith(await boundaryUsageOf(invoice));
        await saveShadowResult(pool, {
          runId: input.runId,
          customerId,
          status: comparison.status,
          currency: comparison.currency,
          legacyTotal: comparison.legacy_total,
          newTotal: comparison.new_total,
          variance: comparison.variance,
          variancePct: comparison.variance_pct,
          exception: comparison.exception,
          comparison,
        });
        results.push(comparison);
        if (comparison.exception && input.workflowId !== undefined) {
          const exceptionId = shadowExceptionId(input.runId, customerId);
          const stored = await openReviewException(pool, {
            exceptionId,
            invoiceId: invoice?.invoiceId ?? null,
            customerId,
            period: input.period,
            kind: 'shadow_variance',
            breaches: comparison.exception_reasons.map((reason) => ({ rule: 'shadow_variance', detail: reason })),
            // Both sides line by line, and what they were compared under.
            context: { shadowRun: input.runId, legacyImportId: input.legacyImportId ?? null, comparison },
            workflowId: input.workflowId,
          });
          if (stored.status === 'open' || stored.status === 'escalated')
            openExceptions.push({ exceptionId, customerId });
        }
      }
      const summary = summarizeComparisons(results);
      return { compared: results.length, exceptions: summary.exceptions, matches: summary.match, openExceptions };
    },

    async completeShadowRun(input: { runId: string }): Promise<void> {
      await markShadowRunCompleted(pool, input.runId);
    },

    /**
     * A person's decision on a shadow_variance exception, in the review queue and on the run's result
     * (approve = accepted as explained, reject = Tally is wrong). The first recorded decision stands.
     */
    async recordShadowDecision(input: {
      runId: string;
      customerId: string;
      exceptionId: string;
      decision: ReviewDecision;
      decidedAt: string;
    }): Promise<{ decision: ReviewDecision; decidedAt: string }> {
      const recorded = await recordReviewDecision(pool, input.exceptionId, input.decision, input.decidedAt);
      const standing = recorded.decision;
      await decideShadowException(pool, {
        runId: input.runId,
        customerId: input.customerId,
        state: standing.kind === 'approve' ? 'accepted' : 'rejected',
        decidedBy: standing.reviewer,
        note: standing.kind === 'approve' ? (standing.note ?? '') : standing.kind === 'reject' ? standing.reason : '',
      });
      return { decision: standing, decidedAt: recorded.decidedAt };
    },
  };

  /** The contract's review thresholds (a customer without a readable contract: none, i.e. 0). */
  async function contractReview(customerId: string) {
    try {
      return (await deps.terms.current(customerId)).contract.review;
    } catch (error) {
      if (error instanceof UnknownCustomerError || error instanceof UnpublishedRateCardError) return undefined;
      throw error;
    }
  }
}

export type ShadowRunActivities = ReturnType<typeof createShadowRunActivities>;

/** One shadow_variance exception per run and customer. */
function shadowExceptionId(runId: string, customerId: string): string {
  return `exc:shadow:${runId}:${customerId}`;
}
