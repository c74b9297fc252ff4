import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillActivities } from '../../activities/index.ts';
import type { Contract } from '../../contracts/contract.ts';
import type { AdjustmentLine, IssuedInvoice } from '../../contracts/invoice.ts';
import { signCorrection } from '../../contracts/event-correction.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { ADVISORY_LOCKS } from '../../db/advisory-locks.ts';
import type { BackfillPlan } from '../../db/queries/backfills.ts';
import { findInvoice, type InvoiceRecord } from '../../db/queries/invoices.ts';
import { amendEvents } from '../../ingest/event-corrections.ts';
import { describeProgress } from '../../cli/backfill-commands.ts';
import { publishedTerms } from '../../terms/index.ts';
import { invoiceLineage } from '../../views/invoice-lineage.ts';
import {
  backfillItemWorkflowId,
  backfillProgressQuery,
  backfillWorkflowId,
  cancelBackfillSignal,
  pauseBackfillSignal,
  resumeBackfillSignal,
  type BackfillInput,
  type BackfillProgress,
} from '../../workflows/backfill-definitions.ts';
import { buildContract } from '../builders/rating.ts';
import type { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent, TEST_SOURCE_KEYS } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

/**
 * Backfills (issue 14, SPEC §5) on the real stack: a plan writes nothing but itself; a run writes each
 * customer-period's adjustment once, on the next invoice, whatever is repeated, raced or killed.
 */

let testbed: BillingTestbed;
let files: RateCardFiles;
const run = `${process.pid}`;
const OCTOBER = '2026-10';
const NOVEMBER = '2026-11';

beforeAll(async () => {
  ({ testbed, files } = await BillingTestbed.createWithRateCardFiles('backfill'));
});
afterAll(async () => {
  await testbed?.close();
});

function contract(customerId: string, ratecard: string, overrides: Partial<Record<keyof Contract, unknown>> = {}) {
  return buildContract({
    customer_id: customerId,
    ratecard,
    starts_at: '2026-09-01T00:00:00Z',
    provider: { kind: 'ledger', customer: customerId },
    ...overrides,
  });
}

function tokens(customerId: string, id: string, timestamp: string, quantity: string): UsageEvent {
  return buildUsageEvent({
    customer_id: customerId,
    event_id: `${customerId}-${id}`,
    timestamp,
    unit: 'tokens',
    quantity,
    metadata: { sku: 'llm.tokens' },
  });
}

function backfills() {
  return createBackfillActivities({ pool: testbed.pool, terms: publishedTerms(testbed.pool) });
}

async function plan(customers: readonly string[], reason = 'price correction'): Promise<BackfillPlan> {
  return backfills().planBackfill({
    from: OCTOBER,
    to: OCTOBER,
    customers,
    reason,
    createdBy: 'ops-ana',
    now: new Date().toISOString(),
  });
}

async function runPlan(planId: string, overrides: Partial<BackfillInput> = {}): Promise<BackfillProgress> {
  const handle = await testbed.client.workflow.start('backfillWorkflow', {
    taskQueue: testbed.taskQueue,
    workflowId: backfillWorkflowId(planId),
    args: [{ backfillId: planId, planId, startedBy: 'ops-ana', stepTimeoutMs: 5_000, ...overrides }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  return (await handle.result()) as BackfillProgress;
}

async function closePeriod(customerId: string, period: string): Promise<IssuedInvoice> {
  const result = await (await testbed.startPeriod(testbed.periodInput(customerId, period))).result();
  expect(result.stage).toBe('completed');
  const record = await findInvoice(testbed.pool, `inv:${customerId}:${period}`);
  return record?.document as IssuedInvoice;
}

async function backfillRows(customerId: string): Promise<{ backfill_id: string; amount: string }[]> {
  const { rows } = await testbed.pool.query<{ backfill_id: string; amount: string }>(
    'SELECT backfill_id, amount::text FROM backfill_adjustments WHERE customer_id = $1 ORDER BY backfill_id',
    [customerId],
  );
  return rows;
}

describe('backfill plan and run', () => {
  it('plans a re-rating under the rate card in force now with the late events, writing only the plan; runs it once; bills it on the next invoice', async () => {
    const card = `bfprice${run}`;
    await files.publish(
      testbed.pool,
      await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001', fee: '300.00' }),
    );
    const customer = contract(`bf-price-${run}`, card);
    await testbed.publishContract(customer);
    await testbed.storeEvents([tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', '1000000')]);
    await testbed.withWorker(async () => {
      expect((await closePeriod(customer.customer_id, OCTOBER)).total).toBe('1300.00');
    });
    const octoberId = `inv:${customer.customer_id}:${OCTOBER}`;

    // Finance corrects October's price after it was invoiced; late October usage arrives too.
    await files.publish(
      testbed.pool,
      await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.0008', fee: '300.00' }),
    );
    expect(
      (await testbed.storeEvents([tokens(customer.customer_id, 'late-1', '2026-10-20T10:00:00.000Z', '100000')])).late,
    ).toBe(1);

    const first = await plan([customer.customer_id]);
    expect(first.items).toHaveLength(1);
    const item = first.items[0];
    // 1,100,000 tokens at 0.0008 = 880.00 against 1,000.00 billed: −120.00.
    expect(item).toMatchObject({
      correctedInvoiceId: octoberId,
      issuedTotal: '1300.00',
      billed: { 'usage:tokens': '1000' },
      rerated: { 'usage:tokens': '880' },
      reratedTotal: '1180.00',
      adjustmentTotal: '-120.00',
    });
    expect(item?.causes.map((cause) => cause.kind)).toEqual(['ratecard_versions', 'late_events']);
    // The plan wrote nothing but itself: no adjustment, no claim of the late event.
    expect(await backfillRows(customer.customer_id)).toEqual([]);
    const claims = await testbed.pool.query('SELECT 1 FROM late_event_adjustments WHERE corrected_invoice_id = $1', [
      octoberId,
    ]);
    expect(claims.rowCount).toBe(0);

    await testbed.withWorker(async () => {
      const progress = await runPlan(first.planId);
      expect(progress).toMatchObject({
        state: 'completed',
        total: 1,
        done: 1,
        adjusted: 1,
        adjustmentTotals: { USD: '-120' },
      });
      await recordHistory(testbed.client.workflow.getHandle(backfillWorkflowId(first.planId)), 'backfill-adjusted');
      await recordHistory(
        testbed.client.workflow.getHandle(backfillItemWorkflowId(first.planId, customer.customer_id, OCTOBER)),
        'backfill-item-adjusted',
      );
      // The same plan run again writes nothing more.
      expect(await runPlan(first.planId)).toMatchObject({ state: 'completed', done: 1, adjusted: 1 });
      expect(await backfillRows(customer.customer_id)).toEqual([{ backfill_id: first.planId, amount: '-120.00' }]);
      // A second backfill over the same range without new inputs: nothing to adjust, nothing written.
      const second = await plan([customer.customer_id], 'again');
      expect(second.items[0]?.adjustmentTotal).toBe('0.00');
      expect(second.items[0]?.causes.map((cause) => cause.kind)).toEqual(['ratecard_versions']);
      expect(await runPlan(second.planId)).toMatchObject({
        state: 'completed',
        adjusted: 0,
        adjustmentTotals: { USD: '0' },
      });
      expect(await backfillRows(customer.customer_id)).toHaveLength(1);

      // November's invoice carries the backfill's line, and no second line for the late event it billed.
      const november = await closePeriod(customer.customer_id, NOVEMBER);
      const adjustments = november.lines.filter((line): line is AdjustmentLine => line.kind === 'adjustment');
      expect(adjustments.map((line) => [line.line_key, line.amount, line.corrects_invoice_id])).toEqual([
        [`adjustment:${OCTOBER}:usage:tokens:backfill:${first.planId}`, '-120.00', octoberId],
      ]);
      expect(adjustments[0]?.reason).toBe(`backfill ${first.planId}: price correction`);
      // November: 300.00 fee, no usage, −120.00 for October.
      expect(november.total).toBe('180.00');
    });
  }, 180_000);

  it('a backfill after a second change writes only the new difference; two runs raced over the same range adjust once; a stale plan is refused', async () => {
    const card = `bfrace${run}`;
    await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    const customer = contract(`bf-race-${run}`, card);
    await testbed.publishContract(customer);
    await testbed.storeEvents([tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', '1000000')]);
    await testbed.withWorker(async () => {
      expect((await closePeriod(customer.customer_id, OCTOBER)).total).toBe('1000.00');
      await files.publish(testbed.pool, await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.0009' }));
      const first = await plan([customer.customer_id]);
      expect(await runPlan(first.planId)).toMatchObject({
        state: 'completed',
        adjusted: 1,
        adjustmentTotals: { USD: '-100' },
      });

      // A second correction: only the new difference.
      await files.publish(testbed.pool, await files.write(card, '2026-10-02T00:00:00Z', { tokenPrice: '0.0007' }));
      // Two plans made before either runs, started at once.
      const [a, b] = [await plan([customer.customer_id], 'a'), await plan([customer.customer_id], 'b')];
      expect(a.items[0]?.adjustmentTotal).toBe(b.items[0]?.adjustmentTotal);
      const results = await Promise.all([runPlan(a.planId), runPlan(b.planId)]);
      expect(results.map((result) => result.adjusted).sort()).toEqual([0, 1]);
      // The events are on 5 October: all at 0.0007 now, 700.00 against 900.00 billed so far.
      expect((await backfillRows(customer.customer_id)).map((row) => row.amount).sort()).toEqual([
        '-100.00',
        '-200.00',
      ]);
      const fresh = await plan([customer.customer_id], 'check');
      expect(fresh.items[0]).toMatchObject({ adjustmentTotal: '0.00', reratedTotal: '700.00' });

      // A plan made, then a new correction published: refused, nothing written.
      const stale = await plan([customer.customer_id], 'stale');
      await files.publish(testbed.pool, await files.write(card, '2026-10-03T00:00:00Z', { tokenPrice: '0.0005' }));
      const refused = await runPlan(stale.planId);
      expect(refused.state).toBe('refused');
      expect(refused.refusedBecause?.join(' ')).toMatch(/rate card has a new published version/);
      expect(await backfillRows(customer.customer_id)).toHaveLength(2);
    });
  }, 180_000);
});

describe('a backfill and late usage together', () => {
  it("a late event a backfill billed is never billed again: the next invoice's late-usage line is the new late event's effect alone", async () => {
    const card = `bflate${run}`;
    await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    const customer = contract(`bf-late-${run}`, card);
    const id = customer.customer_id;
    await testbed.publishContract(customer);
    await testbed.storeEvents([tokens(id, '1', '2026-10-05T10:00:00.000Z', '1000000')]);
    await testbed.withWorker(async () => {
      expect((await closePeriod(id, OCTOBER)).total).toBe('1000.00');
      expect((await testbed.storeEvents([tokens(id, 'late-1', '2026-10-20T10:00:00.000Z', '100000')])).late).toBe(1);
      await files.publish(testbed.pool, await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.002' }));
      // 1,100,000 tokens at 0.002 against 1,000.00 billed; the backfill bills late-1 and claims it.
      const planned = await plan([id], 'price doubled');
      expect(planned.items[0]?.adjustmentTotal).toBe('1200.00');
      expect(await runPlan(planned.planId)).toMatchObject({ state: 'completed', adjusted: 1 });
      expect((await testbed.storeEvents([tokens(id, 'late-2', '2026-10-21T10:00:00.000Z', '50000')])).late).toBe(1);

      const november = await closePeriod(id, NOVEMBER);
      const adjustments = november.lines.filter((line): line is AdjustmentLine => line.kind === 'adjustment');
      // late-2 at October's recorded price (0.001): 50.00; late-1 is not in it a second time.
      expect(adjustments.map((line) => [line.line_key, line.amount])).toEqual([
        [`adjustment:${OCTOBER}:usage:tokens`, '50.00'],
        [`adjustment:${OCTOBER}:usage:tokens:backfill:${planned.planId}`, '1200.00'],
      ]);
      // A backfill now re-rates late-2 under the new price: 50,000 × (0.002 − 0.001).
      expect((await plan([id], 'after late-2')).items[0]?.adjustmentTotal).toBe('50.00');
    });
  }, 180_000);
});

describe('pause, resume and cancel', () => {
  async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
    for (let tries = 0; !(await probe()); tries += 1) {
      if (tries > 400) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  /** Holds a customer-period's backfill lock while `work` runs (`release` lets it go). */
  async function holdingLock(work: (release: () => Promise<void>) => Promise<void>, customerId: string): Promise<void> {
    const client = await testbed.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [
        ADVISORY_LOCKS.BACKFILL_PERIOD,
        `${customerId}:${OCTOBER}`,
      ]);
      await work(async () => {
        await client.query('SELECT pg_advisory_unlock_all()');
      });
    } finally {
      await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      client.release();
    }
  }
  it('a paused run starts nothing new; a cancelled one keeps what it wrote and says so; running the plan again finishes the rest once', async () => {
    const card = `bfpause${run}`;
    await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    const customers = Array.from({ length: 4 }, (_, index) => contract(`bf-pause-${run}-${index}`, card));
    for (const customer of customers) await testbed.publishContract(customer);
    await testbed.storeEvents(
      customers.map((customer) => tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', '100000')),
    );
    const ids = customers.map((customer) => customer.customer_id);
    await testbed.withWorker(async () => {
      for (const id of ids) await closePeriod(id, OCTOBER);
      await files.publish(testbed.pool, await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.002' }));
      const planned = await plan(ids, 'pause and cancel');
      // The first customer-period is held on its lock: the run (one lane) waits inside it.
      const holder = await testbed.pool.connect();
      try {
        await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [
          ADVISORY_LOCKS.BACKFILL_PERIOD,
          `${ids[0] as string}:${OCTOBER}`,
        ]);
        const handle = await testbed.client.workflow.start('backfillWorkflow', {
          taskQueue: testbed.taskQueue,
          workflowId: backfillWorkflowId(planned.planId),
          args: [
            {
              backfillId: planned.planId,
              planId: planned.planId,
              startedBy: 'ops-ana',
              concurrency: 1,
              stepTimeoutMs: 5_000,
            },
          ],
        });
        const progress = async () => handle.query(backfillProgressQuery);
        for (let tries = 0; (await progress()).state !== 'running'; tries += 1) {
          if (tries > 200) throw new Error('the run never started');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await handle.signal(pauseBackfillSignal);
        await holder.query('SELECT pg_advisory_unlock_all()');
        for (let tries = 0; (await progress()).done < 1; tries += 1) {
          if (tries > 400) throw new Error('the held customer-period never finished');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        // Paused: the one in flight finished, nothing new started.
        expect(await progress()).toMatchObject({ state: 'paused', done: 1, total: 4 });
        await handle.signal(cancelBackfillSignal);
        const cancelled = (await handle.result()) as BackfillProgress;
        expect(cancelled).toMatchObject({ state: 'cancelled', done: 1, total: 4, adjusted: 1 });
        expect(describeProgress(cancelled)).toContain(
          'cancelled: the 1 customer-periods done keep their adjustments; 3 were not done',
        );
      } finally {
        holder.release();
      }
      const rows = async () =>
        (
          await testbed.pool.query('SELECT customer_id FROM backfill_adjustments WHERE backfill_id = $1', [
            planned.planId,
          ])
        ).rowCount;
      expect(await rows()).toBe(1);
      // The cancelled plan run again: the rest, each once.
      expect(await runPlan(planned.planId)).toMatchObject({ state: 'completed', done: 4, adjusted: 4 });
      expect(await rows()).toBe(4);

      // Paused, then resumed: it goes on to the end.
      await files.publish(testbed.pool, await files.write(card, '2026-10-02T00:00:00Z', { tokenPrice: '0.003' }));
      const second = await plan(ids, 'pause and resume');
      await holdingLock(async (release) => {
        const handle = await testbed.client.workflow.start('backfillWorkflow', {
          taskQueue: testbed.taskQueue,
          workflowId: backfillWorkflowId(second.planId),
          args: [
            {
              backfillId: second.planId,
              planId: second.planId,
              startedBy: 'ops-ana',
              concurrency: 1,
              stepTimeoutMs: 5_000,
            },
          ],
        });
        const progress = async () => handle.query(backfillProgressQuery);
        await until('the run to start', async () => (await progress()).state === 'running');
        await handle.signal(pauseBackfillSignal);
        await release();
        await until('the held customer-period to finish', async () => (await progress()).done === 1);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        expect(await progress()).toMatchObject({ state: 'paused', done: 1 });
        await handle.signal(resumeBackfillSignal);
        expect(await handle.result()).toMatchObject({ state: 'completed', done: 4, adjusted: 4 });
      }, ids[0] as string);
    });
  }, 180_000);
});

describe('kill -9 of the billing worker mid-backfill', () => {
  it('the restarted worker finishes the run with each adjustment written exactly once', async () => {
    const card = `bfkill${run}`;
    await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    const customers = Array.from({ length: 12 }, (_, index) =>
      contract(`bf-kill-${run}-${index}`, card, { starts_at: '2026-10-01T00:00:00Z', ends_at: '2026-11-01T00:00:00Z' }),
    );
    for (const customer of customers) await testbed.publishContract(customer);
    await testbed.storeEvents(
      customers.map((customer, index) =>
        tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', String(100000 * (index + 1))),
      ),
    );
    await testbed.withWorker(async () => {
      for (const customer of customers) await closePeriod(customer.customer_id, OCTOBER);
    });
    await files.publish(testbed.pool, await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.002' }));
    const ids = customers.map((customer) => customer.customer_id);
    const killed = await plan(ids, 'doubled price');
    expect(killed.items.filter((item) => item.adjustmentTotal !== '0.00')).toHaveLength(12);

    // Hold one customer-period's write with the lock the step takes, so the kill lands inside it.
    const held = ids[5] as string;
    const holder = await testbed.pool.connect();
    let worker = await testbed.spawnWorker({ TALLY_PERIOD_OPENER_INTERVAL: '1h' });
    try {
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [
        ADVISORY_LOCKS.BACKFILL_PERIOD,
        `${held}:${OCTOBER}`,
      ]);
      const handle = await testbed.client.workflow.start('backfillWorkflow', {
        taskQueue: testbed.taskQueue,
        workflowId: backfillWorkflowId(killed.planId),
        args: [
          {
            backfillId: killed.planId,
            planId: killed.planId,
            startedBy: 'ops-ana',
            concurrency: 3,
            stepTimeoutMs: 3_000,
          },
        ],
      });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { rows } = await testbed.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1`,
          [ADVISORY_LOCKS.BACKFILL_PERIOD],
        );
        if ((rows[0]?.n ?? 0) > 0) break;
        if (Date.now() > deadline)
          throw new Error(
            `the held customer-period never started: ${JSON.stringify(await handle.describe().then((d) => d.raw.pendingActivities ?? d.status))}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.kill('SIGKILL');
      await exited;
      await holder.query('SELECT pg_advisory_unlock_all()');
      worker = await testbed.spawnWorker({ TALLY_PERIOD_OPENER_INTERVAL: '1h' });
      const progress = (await handle.result()) as BackfillProgress;
      expect(progress).toMatchObject({ state: 'completed', total: 12, done: 12, adjusted: 12, failures: [] });
    } finally {
      holder.release();
      worker.kill('SIGKILL');
    }
    const { rows } = await testbed.pool.query<{ customer_id: string; n: number; amount: string }>(
      `SELECT customer_id, count(*)::int AS n, sum(amount)::text AS amount FROM backfill_adjustments
        WHERE backfill_id = $1 GROUP BY customer_id ORDER BY customer_id`,
      [killed.planId],
    );
    expect(rows).toHaveLength(12);
    for (const item of killed.items) {
      const row = rows.find((candidate) => candidate.customer_id === item.customerId);
      expect(row).toEqual({ customer_id: item.customerId, n: 1, amount: item.adjustmentTotal });
    }
  }, 240_000);
});

describe('event corrections (tally events amend)', () => {
  it('records signed voids and replaces append-only, rejects what SPEC §5 rejects and keeps it; an open period sees them at close, a closed one at the next backfill', async () => {
    const card = `bfcorr${run}`;
    await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    const customer = contract(`bf-corr-${run}`, card);
    const id = customer.customer_id;
    await testbed.publishContract(customer);
    const october = [
      tokens(id, 'e1', '2026-10-05T10:00:00.000Z', '100000'),
      tokens(id, 'e2', '2026-10-06T10:00:00.000Z', '200000'),
      tokens(id, 'e3', '2026-10-07T10:00:00.000Z', '300000'),
    ];
    const november = tokens(id, 'n1', '2026-11-05T10:00:00.000Z', '50000');
    await testbed.storeEvents([...october, november]);
    await testbed.withWorker(async () => {
      expect((await closePeriod(id, OCTOBER)).total).toBe('600.00');
    });

    const secret = TEST_SOURCE_KEYS['api-gateway'];
    const sign = (correction: Record<string, unknown>) => JSON.stringify(signCorrection(correction, secret));
    const base = { schema_version: 1, source: 'api-gateway' };
    const replacement = (event: UsageEvent, quantity: string) => {
      const { signature: _signature, ...unsigned } = event;
      return signEvent({ ...unsigned, quantity }, secret);
    };
    const lines = [
      sign({ ...base, action: 'void', event_id: `${id}-e1`, reason: 'double-metered by gateway bug #812' }),
      sign({
        ...base,
        action: 'replace',
        event_id: `${id}-e2`,
        reason: 'in bytes, not GB',
        event: replacement(october[1] as UsageEvent, '20000'),
      }),
      sign({
        ...base,
        action: 'replace',
        event_id: `${id}-n1`,
        reason: 'in bytes, not GB',
        event: replacement(november, '5000'),
      }),
      // Rejected, and kept: a second correction of a voided event, an unknown event, a bad signature,
      // a replacement that fails the event contract, one naming another event, a line that is not JSON.
      sign({ ...base, action: 'void', event_id: `${id}-e1`, reason: 'again' }),
      sign({ ...base, action: 'void', event_id: `${id}-missing`, reason: 'no such event' }),
      JSON.stringify({
        ...signCorrection({ ...base, action: 'void', event_id: `${id}-e3`, reason: 'x' }, secret),
        reason: 'tampered',
      }),
      sign({
        ...base,
        action: 'replace',
        event_id: `${id}-e3`,
        reason: 'bad body',
        event: { ...october[2], quantity: 5 },
      }),
      sign({ ...base, action: 'replace', event_id: `${id}-e3`, reason: 'other id', event: october[0] }),
      '{ not json',
    ];
    const text = `${lines.join('\n')}\n`;
    const amend = () =>
      amendEvents(testbed.pool, { file: 'fix.jsonl', text, keys: TEST_SOURCE_KEYS, amendedBy: 'ops-ana' });
    const outcomes = await amend();
    expect(outcomes.map((outcome) => (outcome.status === 'accepted' ? 'accepted' : outcome.reason))).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'already_voided',
      'unknown_event',
      'bad_signature',
      'replacement_invalid',
      'replacement_mismatch',
      'malformed_json',
    ]);
    expect(outcomes.map((outcome) => outcome.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const invalid = outcomes[6];
    expect(invalid?.status === 'rejected' ? invalid.detail : '').toMatch(/^event: .*quantity/);
    // Amending the same file again records nothing new.
    const again = await amend();
    expect(again.every((outcome) => !outcome.created)).toBe(true);
    const stored = await testbed.pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM event_corrections WHERE file = 'fix.jsonl' AND (source IS NULL OR event_id LIKE $1)
        GROUP BY status ORDER BY status`,
      [`${id}-%`],
    );
    expect(stored.rows).toEqual([
      { status: 'accepted', n: 3 },
      { status: 'rejected', n: 6 },
    ]);
    // The raw history is untouched: every original event is still there, and cannot be changed.
    const history = await testbed.pool.query(
      'SELECT quantity::text FROM usage_events WHERE customer_id = $1 ORDER BY event_id',
      [id],
    );
    expect(history.rows.map((row) => row.quantity)).toEqual(['100000', '200000', '300000', '50000']);
    await expect(testbed.pool.query('UPDATE event_corrections SET reason = $1', ['edited'])).rejects.toThrow(
      /append-only/,
    );

    await testbed.withWorker(async () => {
      // November was open: its close rates the replacement (5,000 tokens), not the original 50,000.
      const invoice = await closePeriod(id, NOVEMBER);
      expect(invoice.lines.filter((line) => line.kind === 'usage').map((line) => line.amount)).toEqual(['5.00']);
      // Lineage names the corrections a line reflects, and the event set still checks out (through them).
      const lineageOf = async (period: string) =>
        invoiceLineage(
          testbed.pool,
          (await findInvoice(testbed.pool, `inv:${id}:${period}`)) as InvoiceRecord,
          5,
          (ratecard) => publishedTerms(testbed.pool).publishedVersions(ratecard),
        );
      const novemberLineage = await lineageOf(NOVEMBER);
      expect(novemberLineage.fingerprint.matches).toBe(true);
      const usageLine = novemberLineage.lines.find((line) => line.kind === 'usage');
      expect(usageLine?.corrections?.map((c) => [c.action, c.eventId, c.reflected])).toEqual([
        ['replace', `${id}-n1`, true],
      ]);
      // October's invoice was issued before its corrections: they wait for the next backfill.
      const octoberLineage = await lineageOf(OCTOBER);
      expect(octoberLineage.fingerprint.matches).toBe(true);
      expect(
        octoberLineage.lines.find((line) => line.kind === 'usage')?.corrections?.map((c) => [c.eventId, c.reflected]),
      ).toEqual([
        [`${id}-e1`, false],
        [`${id}-e2`, false],
      ]);

      // October was closed: the next backfill sees its corrections.
      const corrected = await plan([id], 'gateway bug #812');
      expect(corrected.items[0]).toMatchObject({ adjustmentTotal: '-280.00', reratedTotal: '320.00' });
      const causes = corrected.items[0]?.causes ?? [];
      expect(causes.map((cause) => cause.kind)).toEqual(['corrections']);
      expect(causes[0]?.kind === 'corrections' ? causes[0].corrections.map((c) => [c.action, c.eventId]) : []).toEqual([
        ['void', `${id}-e1`],
        ['replace', `${id}-e2`],
      ]);
      expect(await runPlan(corrected.planId)).toMatchObject({
        state: 'completed',
        adjusted: 1,
        adjustmentTotals: { USD: '-280' },
      });
      expect((await plan([id], 'again')).items[0]?.adjustmentTotal).toBe('0.00');
    });
  }, 180_000);
});
