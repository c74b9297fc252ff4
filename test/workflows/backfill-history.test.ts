import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillActivities } from '../../activities/index.ts';
import { ADVISORY_LOCKS } from '../../db/advisory-locks.ts';
import type { BackfillPlan } from '../../db/queries/backfills.ts';
import { Decimal } from '../../domain/money.ts';
import { publishedTerms } from '../../terms/index.ts';
import {
  backfillProgressQuery,
  backfillWorkflowId,
  cancelBackfillSignal,
  pauseBackfillSignal,
  resumeBackfillSignal,
  type BackfillInput,
  type BackfillProgress,
} from '../../workflows/backfill-definitions.ts';
import type { backfillWorkflow } from '../../workflows/backfill.ts';
import { buildContract } from '../builders/rating.ts';
import type { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

// A backfill run starts one child per customer-period (≈ 6–7 history events each). Its history must
// not grow with the plan (Temporal terminates a workflow at 50,000 events: a plan of ~7,000
// customer-periods would be lost mid-run): the run reads the plan a page at a time and continues as
// new past a history budget, carrying its progress, totals and a pause.

let testbed: BillingTestbed;
let files: RateCardFiles;
const run = `${process.pid}`;
const OCTOBER = '2026-10';
const CUSTOMERS = 16;
const card = `bfhist${run}`;
const ids = Array.from({ length: CUSTOMERS }, (_, index) => `bf-hist-${run}-${String(index).padStart(2, '0')}`);

beforeAll(async () => {
  ({ testbed, files } = await BillingTestbed.createWithRateCardFiles('backfill_history'));
  await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
  for (const customerId of ids)
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        ratecard: card,
        starts_at: '2026-09-01T00:00:00Z',
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
  await testbed.storeEvents(
    ids.map((customerId, index) =>
      buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-1`,
        timestamp: '2026-10-05T10:00:00.000Z',
        unit: 'tokens',
        quantity: String(100_000 * (index + 1)),
        metadata: { sku: 'llm.tokens' },
      }),
    ),
  );
  // A few closes at a time (the machine is shared): each issues the customer's October.
  await testbed.withWorker(async () => {
    for (let start = 0; start < ids.length; start += 4) {
      const handles = await Promise.all(
        ids
          .slice(start, start + 4)
          .map(async (customerId) => testbed.startPeriod(testbed.periodInput(customerId, OCTOBER))),
      );
      for (const handle of handles) expect((await handle.result()).stage).toBe('completed');
    }
  });
}, 480_000);

afterAll(async () => {
  await testbed?.close();
});

/** A new price for October and a plan of every customer's October under it. */
async function planAt(tokenPrice: string, effectiveFrom: string, reason: string): Promise<BackfillPlan> {
  await files.publish(testbed.pool, await files.write(card, effectiveFrom, { tokenPrice }));
  const plan = await createBackfillActivities({ pool: testbed.pool, terms: publishedTerms(testbed.pool) }).planBackfill(
    { from: OCTOBER, to: OCTOBER, customers: ids, reason, createdBy: 'ops-ana', now: new Date().toISOString() },
  );
  expect(plan.items).toHaveLength(CUSTOMERS);
  return plan;
}

async function start(
  plan: BackfillPlan,
  overrides: Partial<BackfillInput>,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof backfillWorkflow>> {
  return testbed.client.workflow.start<typeof backfillWorkflow>('backfillWorkflow', {
    taskQueue: testbed.taskQueue,
    workflowId: backfillWorkflowId(plan.planId),
    args: [{ backfillId: plan.planId, planId: plan.planId, startedBy: 'ops-ana', stepTimeoutMs: 5_000, ...overrides }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
}

/** Each customer's adjustments written by a backfill: exactly one each, the plan's amount. */
async function expectWrittenOnce(plan: BackfillPlan): Promise<void> {
  const { rows } = await testbed.pool.query<{ customer_id: string; n: number; amount: string }>(
    `SELECT customer_id, count(*)::int AS n, sum(amount)::text AS amount FROM backfill_adjustments
      WHERE backfill_id = $1 GROUP BY customer_id ORDER BY customer_id`,
    [plan.planId],
  );
  expect(rows).toEqual(
    plan.items.map((item) => ({ customer_id: item.customerId, n: 1, amount: item.adjustmentTotal })),
  );
  const results = await testbed.pool.query('SELECT 1 FROM backfill_item_results WHERE backfill_id = $1', [plan.planId]);
  expect(results.rowCount).toBe(CUSTOMERS);
}

/** Exact per-currency equality of two totals (`1200` and `1200.00` are the same amount). */
function expectSameTotals(actual: Record<string, string>, expected: Record<string, string>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [currency, amount] of Object.entries(expected))
    expect(new Decimal(actual[currency] ?? 'NaN').equals(amount)).toBe(true);
}

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; !(await probe()); tries += 1) {
    if (tries > 600) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts a run of one page of 2 per run (a budget of 1 event: every run continues as new after its
 * first page), holds the second customer-period's lock, lets the first finish (the run reads no
 * further page then), sends `signal` while the run drains and lets the second go: the run continues
 * as new, and the run after it must have the signal's effect.
 */
async function pausedWhileDraining(
  plan: BackfillPlan,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof backfillWorkflow>> {
  const holder = await testbed.pool.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [
      ADVISORY_LOCKS.BACKFILL_PERIOD,
      `${ids[1] as string}:${OCTOBER}`,
    ]);
    const handle = await start(plan, { concurrency: 2, pageSize: 2, historyBudget: 1 });
    await until('the first customer-period', async () => (await handle.query(backfillProgressQuery)).done >= 1);
    await handle.signal(pauseBackfillSignal);
    await holder.query('SELECT pg_advisory_unlock_all()');
    await until(
      'the run to continue as new',
      async () => (await handle.describe()).runId !== handle.firstExecutionRunId,
    );
    return handle;
  } finally {
    await holder.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    holder.release();
  }
}

describe('a backfill over many customer-periods', () => {
  it('keeps every run under its history budget, writes each adjustment once and carries the totals', async () => {
    const plan = await planAt('0.002', '2026-10-01T00:00:00Z', 'history budget');
    await testbed.withWorker(async () => {
      const handle = await start(plan, { concurrency: 3, pageSize: 4, historyBudget: 30 });
      const progress = (await handle.result()) as BackfillProgress;
      expect(progress).toMatchObject({ state: 'completed', total: CUSTOMERS, done: CUSTOMERS, adjusted: CUSTOMERS });
      expect(progress.failures).toEqual([]);
      expectSameTotals(progress.adjustmentTotals, plan.adjustmentTotals);
      // One run of ≈ 110 events before; a page of 4 customer-periods (≈ 40 events) a run after.
      const lengths = await testbed.runHistoryLengths(handle.workflowId, handle.firstExecutionRunId);
      expect(lengths.length).toBeGreaterThan(1);
      for (const length of lengths) expect(length).toBeLessThanOrEqual(80);
      // The first run (ends continuing as new) and the last (resumed, finishes) for the replay corpus.
      await recordHistory(
        testbed.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId),
        'backfill-continued-first',
      );
      await recordHistory(testbed.client.workflow.getHandle(handle.workflowId), 'backfill-continued-last');
    });
    await expectWrittenOnce(plan);
  }, 240_000);
});

describe('pause, resume and cancel across a continue-as-new', () => {
  it('a pause sent while a run drains holds the run it continues as; resumed, it finishes with the same totals', async () => {
    const plan = await planAt('0.003', '2026-10-02T00:00:00Z', 'pause across runs');
    await testbed.withWorker(async () => {
      const handle = await pausedWhileDraining(plan);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // The run after it starts paused: nothing new started, the counts carried.
      expect(await handle.query(backfillProgressQuery)).toMatchObject({ state: 'paused', done: 2, total: CUSTOMERS });
      await handle.signal(resumeBackfillSignal);
      const progress = (await handle.result()) as BackfillProgress;
      expect(progress).toMatchObject({ state: 'completed', total: CUSTOMERS, done: CUSTOMERS, adjusted: CUSTOMERS });
      expectSameTotals(progress.adjustmentTotals, plan.adjustmentTotals);
      const lengths = await testbed.runHistoryLengths(handle.workflowId, handle.firstExecutionRunId);
      expect(lengths.length).toBeGreaterThanOrEqual(CUSTOMERS / 2);
    });
    await expectWrittenOnce(plan);
  }, 240_000);

  it('a run that continued as new is cancelled: it keeps what it wrote and says so; running the plan again finishes the rest once', async () => {
    const plan = await planAt('0.004', '2026-10-03T00:00:00Z', 'cancel across runs');
    await testbed.withWorker(async () => {
      const handle = await pausedWhileDraining(plan);
      await handle.signal(cancelBackfillSignal);
      const cancelled = (await handle.result()) as BackfillProgress;
      expect(cancelled).toMatchObject({ state: 'cancelled', total: CUSTOMERS, done: 2, adjusted: 2 });
      const written = await testbed.pool.query('SELECT 1 FROM backfill_adjustments WHERE backfill_id = $1', [
        plan.planId,
      ]);
      expect(written.rowCount).toBe(2);
      const again = (await (await start(plan, { concurrency: 4 })).result()) as BackfillProgress;
      expect(again).toMatchObject({ state: 'completed', total: CUSTOMERS, done: CUSTOMERS, adjusted: CUSTOMERS });
    });
    await expectWrittenOnce(plan);
  }, 240_000);
});
