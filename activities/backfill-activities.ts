import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { RateCardVersionRef } from '../contracts/invoice.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { ADVISORY_LOCKS } from '../db/advisory-locks.ts';
import { withTransaction } from '../db/pool.ts';
import {
  adjustmentsOf,
  backfillRunTotals,
  claimLateEventsForBackfill,
  closedPeriodsInRange,
  correctionsOfPeriod,
  customerHasCorrections,
  findBackfillItemResult,
  insertBackfillAdjustments,
  insertBackfillItemResult,
  insertBackfillPlan,
  lastCorrectionSeq,
  lateEventCount,
  loadBackfillPlan,
  loadBackfillPlanHeader,
  backfillPlanItemPage,
  countBackfillPlanItems,
  type BackfillItemKey,
  loadBackfillPlanItem,
  recordBackfillRunEnd,
  recordBackfillRunStart,
  unbilledLateEvents,
  type BackfillItemResult,
  type BackfillPlan,
  type BackfillPlanInputs,
  type BackfillPlanItem,
  type ClosedPeriod,
} from '../db/queries/backfills.ts';
import { findInvoice } from '../db/queries/invoices.ts';
import { loadUsageAggregatesWithEventSet } from '../db/queries/usage-aggregates.ts';
import {
  backfillAdjustmentLine,
  backfillCauses,
  backfillDifferences,
  billedSoFar,
  toLineAmounts,
  totalOf,
  usageDrivenAmounts,
} from '../domain/backfill/index.ts';
import { Decimal, formatMoney, sumByCurrency, sumDecimals, type AmountsByCurrency } from '../domain/money.ts';
import { billingPeriod } from '../domain/period.ts';
import { ratePeriod, usageAggregationPlan } from '../domain/rating/index.ts';
import { recordedTermsOf, type CustomerTerms, type TermsSource } from '../terms/index.ts';
import { CALCULATION_VERSION } from '../workflows/definitions.ts';

export interface BackfillDependencies {
  readonly pool: pg.Pool;
  /** The published contracts and rate cards: a backfill rates under what is in force now. */
  readonly terms: TermsSource;
}

/** A backfill request that cannot be planned or run as asked (bad range, unknown calculation version, stale plan). */
class BackfillRefusedError extends TallyError {
  constructor(code: 'backfill_invalid' | 'backfill_plan_stale' | 'backfill_plan_missing', message: string) {
    super(code, message, { permanent: true });
  }
}

export interface PlanRequest {
  readonly from: string;
  readonly to: string;
  readonly customers?: readonly string[] | undefined;
  /** The calculation to re-rate under: the one this code runs (the default) is the only one it can run. */
  readonly calculationVersion?: string | undefined;
  readonly reason: string;
  readonly createdBy: string;
  /** When the plan is made (the clock is passed in). */
  readonly now: string;
  /** How many customer-periods are re-rated at once (each is one Postgres read); default 4. */
  readonly concurrency?: number;
}

/** Runs `work` over `items` with at most `limit` at once, results in input order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Rate-card versions compared by what identifies them (jsonb does not keep key order). */
function versionsKey(versions: readonly RateCardVersionRef[]): string {
  return versions.map((version) => `${version.ratecard}@${version.effective_from}#${version.content_hash}`).join(',');
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Backfills (SPEC §5): plan (re-rate closed customer-periods under what is in force now and write
 * only the plan), then run (one child workflow per customer-period writes its adjustment once).
 * `planBackfill` runs in the CLI's process; the rest are the backfill workflows' activities.
 */
export function createBackfillActivities(deps: BackfillDependencies) {
  const { pool } = deps;

  async function currentTerms(cache: Map<string, Promise<CustomerTerms>>, customerId: string): Promise<CustomerTerms> {
    let terms = cache.get(customerId);
    if (terms === undefined) {
      terms = deps.terms.current(customerId);
      cache.set(customerId, terms);
    }
    return terms;
  }

  /** Re-rates one closed customer-period, corrections and every late event included, credits aside. */
  async function planItem(
    closed: ClosedPeriod,
    terms: CustomerTerms,
    calculationVersion: string,
    corrected: boolean,
  ): Promise<BackfillPlanItem> {
    const period = billingPeriod(closed.period);
    const { aggregates, eventSet } = await loadUsageAggregatesWithEventSet(
      pool,
      usageAggregationPlan(terms.versions, period),
      // Every event of the period, late ones too; through the corrected view only when there is a
      // correction to apply (the same rows otherwise, read without the view's anti-join).
      { customerId: closed.customerId, ...(corrected ? { table: 'corrected_usage_events' } : {}) },
    );
    let rerated;
    try {
      rerated = ratePeriod({
        customerId: closed.customerId,
        period,
        contract: terms.contract,
        versions: terms.versions,
        aggregates,
        counters: { read: eventSet.eventCount, duplicates: 0, outside_period: 0 },
        credits: [],
        calculationVersion,
      });
    } catch (error) {
      throw new BackfillRefusedError(
        'backfill_invalid',
        `${closed.customerId} ${closed.period} cannot be re-rated: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const currency = closed.document.currency;
    const adjustments = (await adjustmentsOf(pool, closed.customerId, [closed.invoiceId])).get(closed.invoiceId) ?? [];
    const billed = billedSoFar({
      correctedPeriod: closed.period,
      correctedLines: closed.document.lines,
      adjustments,
    });
    const reratedAmounts = toLineAmounts(usageDrivenAmounts(rerated.lines));
    const differences = backfillDifferences(billed, reratedAmounts, currency);
    const lateEvents = await unbilledLateEvents(pool, {
      customerId: closed.customerId,
      periodStart: period.start,
      periodEnd: period.end,
    });
    const corrections = corrected
      ? await correctionsOfPeriod(pool, {
          customerId: closed.customerId,
          periodStart: period.start,
          periodEnd: period.end,
          since: closed.snapshotCreatedAt,
        })
      : [];
    const recorded = recordedTermsOf(terms);
    const issuedTotal = closed.document.total;
    const adjustmentTotal = totalOf(differences, currency);
    return {
      customerId: closed.customerId,
      period: closed.period,
      correctedInvoiceId: closed.invoiceId,
      currency,
      issuedTotal,
      billed,
      rerated: reratedAmounts,
      // What the invoice would total with this backfill's adjustment (and every earlier one).
      reratedTotal: formatMoney(
        sumDecimals([
          new Decimal(issuedTotal),
          ...adjustments
            .filter((line) => line.line_key.startsWith(`adjustment:${closed.period}:`))
            .map((line) => new Decimal(line.amount)),
          new Decimal(adjustmentTotal),
        ]),
        currency,
      ),
      adjustmentTotal,
      causes: backfillCauses({
        billed: {
          contractHash: closed.contractHash,
          ratecardVersions: closed.ratecardVersions,
          calculationVersion: closed.calculationVersion,
        },
        now: { ...recorded, calculationVersion },
        periodEnd: period.end,
        unbilledLateEvents: lateEvents.length,
        corrections,
      }),
      lateEvents,
      eventFingerprint: eventSet.fingerprint,
    };
  }

  /** What a plan depends on beyond its items, read now: compared at run time. */
  async function planInputs(
    customers: readonly string[],
    range: { from: string; to: string; customers?: readonly string[] | undefined },
    cache: Map<string, Promise<CustomerTerms>>,
  ): Promise<BackfillPlanInputs> {
    const terms: Record<
      string,
      { contractHash: string; ratecardVersions: BackfillPlanInputs['terms'][string]['ratecardVersions'] }
    > = {};
    for (const customerId of customers) terms[customerId] = recordedTermsOf(await currentTerms(cache, customerId));
    return {
      terms,
      lastCorrectionSeq: await lastCorrectionSeq(pool),
      lateEventCount: await lateEventCount(pool, {
        start: billingPeriod(range.from).start,
        end: billingPeriod(range.to).end,
        customers: range.customers,
      }),
    };
  }

  function staleReasons(planned: BackfillPlanInputs, now: BackfillPlanInputs): string[] {
    const reasons: string[] = [];
    for (const [customerId, terms] of Object.entries(planned.terms)) {
      const current = now.terms[customerId];
      if (current === undefined || current.contractHash !== terms.contractHash)
        reasons.push(`${customerId}'s contract was published again`);
      else if (versionsKey(current.ratecardVersions) !== versionsKey(terms.ratecardVersions))
        reasons.push(`${customerId}'s rate card has a new published version`);
    }
    if (now.lastCorrectionSeq !== planned.lastCorrectionSeq)
      reasons.push(`events were corrected since (correction #${now.lastCorrectionSeq})`);
    if (now.lateEventCount !== planned.lateEventCount)
      reasons.push(`${now.lateEventCount - planned.lateEventCount} late events arrived in the range since`);
    return reasons;
  }

  /** The run recorded, and its plan checked against what is in force now (refused and recorded so when stale). */
  async function checkRunStart(input: {
    backfillId: string;
    planId: string;
    startedBy: string;
  }): Promise<{ status: 'ready'; plan: Omit<BackfillPlan, 'items'> } | { status: 'refused'; reasons: string[] }> {
    const plan = await loadBackfillPlanHeader(pool, input.planId);
    if (plan === undefined)
      throw new BackfillRefusedError('backfill_plan_missing', `no backfill plan ${input.planId} (tally backfill list)`);
    await recordBackfillRunStart(pool, input);
    const customers = Object.keys(plan.inputs.terms);
    const now = await planInputs(customers, plan, new Map());
    const reasons = staleReasons(plan.inputs, now);
    if (reasons.length > 0) {
      await recordBackfillRunEnd(pool, {
        backfillId: input.backfillId,
        status: 'refused',
        results: { refused: reasons },
      });
      return { status: 'refused', reasons };
    }
    return { status: 'ready', plan };
  }

  return {
    /**
     * Step 1 of SPEC §5: re-rates each closed customer-period in range under the terms in force now
     * and the corrected event set (late events included), and records the plan: per customer-period
     * the issued total, the re-rated total, the adjustment and its causes. Writes nothing else.
     */
    async planBackfill(request: PlanRequest): Promise<BackfillPlan> {
      const from = billingPeriod(request.from).name;
      const to = billingPeriod(request.to).name;
      if (from > to) throw new BackfillRefusedError('backfill_invalid', `--from ${from} is after --to ${to}`);
      if (request.reason.trim() === '')
        throw new BackfillRefusedError('backfill_invalid', 'a backfill needs a reason (--reason)');
      const calculationVersion = request.calculationVersion ?? CALCULATION_VERSION;
      if (calculationVersion !== CALCULATION_VERSION)
        throw new BackfillRefusedError(
          'backfill_invalid',
          `calculation version ${calculationVersion} is not the one this Tally runs (${CALCULATION_VERSION}): deploy it first`,
        );
      const range = { from, to, customers: request.customers };
      const closed = await closedPeriodsInRange(pool, range);
      const cache = new Map<string, Promise<CustomerTerms>>();
      const customers = [...new Set(closed.map((period) => period.customerId))];
      const withCorrections = new Set<string>();
      for (const customerId of customers)
        if (await customerHasCorrections(pool, customerId)) withCorrections.add(customerId);
      const items = await mapBounded(closed, request.concurrency ?? 4, async (period) =>
        planItem(
          period,
          await currentTerms(cache, period.customerId),
          calculationVersion,
          withCorrections.has(period.customerId),
        ),
      );
      const inputs = await planInputs(customers, range, cache);
      const inputsFingerprint = sha256Hex(
        JSON.stringify({
          calculationVersion,
          inputs,
          items: items.map((item) => [item.customerId, item.period, item.eventFingerprint, item.billed, item.rerated]),
        }),
      );
      // Per currency: a plan over USD and EUR customers never adds dollars to euros.
      const sum = (amountOf: (item: BackfillPlanItem) => string) =>
        sumByCurrency(items.map((item) => ({ currency: item.currency, amount: amountOf(item) })));
      const plan: BackfillPlan = {
        planId: `bf-${sha256Hex(`${inputsFingerprint}:${request.now}:${request.createdBy}:${request.reason}`).slice(0, 16)}`,
        from,
        to,
        customers: request.customers,
        calculationVersion,
        reason: request.reason,
        createdBy: request.createdBy,
        createdAt: request.now,
        inputs,
        inputsFingerprint,
        issuedTotals: sum((item) => item.issuedTotal),
        reratedTotals: sum((item) => item.reratedTotal),
        adjustmentTotals: sum((item) => item.adjustmentTotal),
        items,
      };
      await withTransaction(pool, (client) => insertBackfillPlan(client, plan));
      return plan;
    },

    /**
     * Step 1 of a run: the plan must still describe what is in force (no contract or rate card
     * published since, no correction, no late event in its range): else it is refused, plan again.
     * Records the run (who, when) and returns the customer-periods to adjust. Runs started before
     * the paged run (`startPagedBackfillRun`) call it; it lists every item in its result.
     */
    async startBackfillRun(input: {
      backfillId: string;
      planId: string;
      startedBy: string;
    }): Promise<
      | { status: 'ready'; reason: string; items: { customerId: string; period: string; currency: string }[] }
      | { status: 'refused'; reasons: string[] }
    > {
      const checked = await checkRunStart(input);
      if (checked.status === 'refused') return checked;
      const plan = (await loadBackfillPlan(pool, input.planId)) as BackfillPlan;
      return {
        status: 'ready',
        reason: plan.reason,
        // Each with its currency: the run's progress totals the adjustments per currency.
        items: plan.items.map((item) => ({
          customerId: item.customerId,
          period: item.period,
          currency: item.currency,
        })),
      };
    },

    /**
     * Step 1 of a paged run: the same check and record as `startBackfillRun`, but only the number of
     * customer-periods comes back; the run reads them a page at a time (`listBackfillItemPage`), so
     * its result stays small however large the plan.
     */
    async startPagedBackfillRun(input: {
      backfillId: string;
      planId: string;
      startedBy: string;
    }): Promise<{ status: 'ready'; reason: string; total: number } | { status: 'refused'; reasons: string[] }> {
      const checked = await checkRunStart(input);
      if (checked.status === 'refused') return checked;
      return { status: 'ready', reason: checked.plan.reason, total: await countBackfillPlanItems(pool, input.planId) };
    },

    /** A page of a plan's customer-periods (with each one's currency), in (customer, period) order after `after`. */
    async listBackfillItemPage(input: {
      planId: string;
      after: BackfillItemKey | null;
      limit: number;
    }): Promise<{ items: { customerId: string; period: string; currency: string }[]; next: BackfillItemKey | null }> {
      return backfillPlanItemPage(pool, input);
    },

    /**
     * One customer-period of a run, exactly once: under the customer-period's lock, the adjustment is
     * the plan's re-rated amounts minus what is billed so far now (so a second backfill of the same
     * inputs, or this one run again, writes nothing), written with the run's result in one
     * transaction. The late events the plan re-rated are claimed by the backfill, so no invoice
     * bills them again.
     */
    async applyBackfillItem(input: {
      backfillId: string;
      planId: string;
      customerId: string;
      period: string;
      reason: string;
    }): Promise<BackfillItemResult> {
      const key = { backfillId: input.backfillId, customerId: input.customerId, period: input.period };
      return withTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
          ADVISORY_LOCKS.BACKFILL_PERIOD,
          `${input.customerId}:${input.period}`,
        ]);
        const done = await findBackfillItemResult(client, key);
        if (done !== undefined) return done;
        const item = await loadBackfillPlanItem(client, input);
        if (item === undefined)
          throw new BackfillRefusedError(
            'backfill_plan_missing',
            `plan ${input.planId} has no ${input.customerId} ${input.period}`,
          );
        const corrected = await findInvoice(client, item.correctedInvoiceId);
        if (corrected === undefined)
          throw new BackfillRefusedError('backfill_plan_missing', `invoice ${item.correctedInvoiceId} does not exist`);
        await claimLateEventsForBackfill(client, {
          backfillId: input.backfillId,
          correctedInvoiceId: item.correctedInvoiceId,
          events: item.lateEvents,
        });
        const adjustments =
          (await adjustmentsOf(client, input.customerId, [item.correctedInvoiceId])).get(item.correctedInvoiceId) ?? [];
        const billed = billedSoFar({
          correctedPeriod: item.period,
          correctedLines: corrected.document.lines,
          adjustments,
        });
        const differences = backfillDifferences(billed, item.rerated, item.currency);
        const lines = differences.map((difference) => ({
          backfillId: input.backfillId,
          customerId: input.customerId,
          period: input.period,
          originalLineKey: difference.originalKey,
          line: backfillAdjustmentLine({
            backfillId: input.backfillId,
            correctedPeriod: item.period,
            correctedInvoiceId: item.correctedInvoiceId,
            difference,
            reason: `backfill ${input.backfillId}: ${input.reason}`,
          }),
        }));
        await insertBackfillAdjustments(client, lines);
        const result: BackfillItemResult = {
          outcome: lines.length > 0 ? 'adjusted' : 'unchanged',
          adjustmentTotal: totalOf(differences, item.currency),
        };
        await insertBackfillItemResult(client, key, result);
        return result;
      });
    },

    /** The run's end, with its results as the database holds them (each item's result written once). */
    async finishBackfillRun(input: {
      backfillId: string;
      status: 'completed' | 'cancelled';
      failures: readonly { customerId: string; period: string; error: string }[];
      total: number;
      /** A paged run lists its first failures only; this counts them all (absent: every failure is listed). */
      failed?: number;
    }): Promise<{ done: number; adjusted: number; adjustmentTotals: AmountsByCurrency }> {
      const totals = await backfillRunTotals(pool, input.backfillId);
      await recordBackfillRunEnd(pool, {
        backfillId: input.backfillId,
        status: input.status,
        results: {
          ...totals,
          total: input.total,
          failures: input.failures,
          ...(input.failed === undefined ? {} : { failed: input.failed }),
        },
      });
      return totals;
    },
  };
}

export type BackfillActivities = ReturnType<typeof createBackfillActivities>;
