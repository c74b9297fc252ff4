import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillActivities } from '../../activities/backfill-activities.ts';
import { publishedTerms } from '../../terms/index.ts';
import { backfillWorkflowId, type BackfillProgress } from '../../workflows/backfill-definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { addTestUser, createTestConsole, signIn } from '../harness/console-testbed.ts';
import { testStack } from '../harness/services.ts';
import { runTallyAsOperator } from './run-tally.ts';

// A backfill run that was in flight when the per-currency totals (migration 0820) were deployed. Its
// history holds what startBackfillRun returned then: items without their currency (a recorded
// local-activity result, as test/replay/histories/backfill-adjusted-checked-close.json shows), and
// the workflow replays that result, so its progress sums every adjustment under `undefined`. The
// read side resolves the currency from the plan's stored items: `tally backfill status` never prints
// `undefined`, nor adds dollars to euros.
let testbed: BillingTestbed;
let files: RateCardFiles;
beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('backfill_inflight_currency', { ratecardsDir: files.root });
});
afterAll(async () => {
  await testbed?.close();
  await rm(files.root, { recursive: true, force: true });
});

/** Runs `work` while a worker polls whose item reads answer as the release before 0820 did: items without their currency. */
async function withPre0820Worker<T>(work: () => Promise<T>): Promise<T> {
  const activities = createBackfillActivities({ pool: testbed.pool, terms: publishedTerms(testbed.pool) });
  const connection = await NativeConnection.connect({ address: testStack().endpoints.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      namespace: testStack().endpoints.temporalNamespace,
      taskQueue: testbed.taskQueue,
      workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
      activities: {
        ...activities,
        async startBackfillRun(input: Parameters<typeof activities.startBackfillRun>[0]) {
          const start = await activities.startBackfillRun(input);
          if (start.status !== 'ready') return start;
          return { ...start, items: start.items.map(({ customerId, period }) => ({ customerId, period })) };
        },
        // A run started today reads its items a page at a time (patched 'backfill-paged'); the run in
        // flight across 0820 replays the single list above. Both answered without currencies give the
        // workflow the same items, so the same progress.
        async listBackfillItemPage(input: Parameters<typeof activities.listBackfillItemPage>[0]) {
          const page = await activities.listBackfillItemPage(input);
          return { ...page, items: page.items.map(({ customerId, period }) => ({ customerId, period })) };
        },
      },
    });
    return await worker.runUntil(work());
  } finally {
    await connection.close();
  }
}

describe('a backfill run started before per-currency totals', () => {
  it('shows its Δ per currency from the plan’s stored items, never under `undefined`', async () => {
    const usd = `inflight-usd-${process.pid}`;
    const eur = `inflight-eur-${process.pid}`;
    const cards = { USD: `ifusd${process.pid}`, EUR: `ifeur${process.pid}` } as const;
    for (const [customerId, currency] of [
      [usd, 'USD'],
      [eur, 'EUR'],
    ] as const) {
      await files.publish(
        testbed.pool,
        await files.write(cards[currency], '2026-09-01T00:00:00Z', { tokenPrice: '0.001', currency }),
      );
      await testbed.publishContract(
        buildContract({
          customer_id: customerId,
          ratecard: cards[currency],
          currency,
          starts_at: '2026-10-01T00:00:00Z',
          provider: { kind: 'ledger', customer: customerId },
        }),
      );
    }
    await testbed.storeEvents(
      [
        [usd, '100000'],
        [eur, '30000'],
      ].map(([customerId, quantity]) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-1`,
          timestamp: '2026-10-05T10:00:00.000Z',
          quantity,
          metadata: { sku: 'llm.tokens' },
        }),
      ),
    );
    await testbed.withWorker(async () => {
      for (const customerId of [usd, eur])
        expect((await (await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'))).result()).stage).toBe(
          'completed',
        );
    });
    for (const currency of ['USD', 'EUR'] as const)
      await files.publish(
        testbed.pool,
        await files.write(cards[currency], '2026-10-01T00:00:00Z', { tokenPrice: '0.002', currency }),
      );
    const plan = await createBackfillActivities({
      pool: testbed.pool,
      terms: publishedTerms(testbed.pool),
    }).planBackfill({
      from: '2026-10',
      to: '2026-10',
      customers: [usd, eur],
      reason: 'October tokens were priced at half the published rate',
      createdBy: 'ops-ana',
      now: new Date().toISOString(),
      concurrency: 2,
    });
    expect(plan.adjustmentTotals).toEqual({ EUR: '30.00', USD: '100.00' });

    const progress = await withPre0820Worker(async () => {
      const handle = await testbed.client.workflow.start('backfillWorkflow', {
        taskQueue: testbed.taskQueue,
        workflowId: backfillWorkflowId(plan.planId),
        args: [{ backfillId: plan.planId, planId: plan.planId, startedBy: 'ops-ana', stepTimeoutMs: 5_000 }],
      });
      return (await handle.result()) as BackfillProgress;
    });
    // The workflow's own sum, as such a run reports it: one number over two currencies, under `undefined`.
    expect(progress).toMatchObject({
      state: 'completed',
      done: 2,
      adjusted: 2,
      adjustmentTotals: { undefined: '130' },
    });

    const status = await runTallyAsOperator(testbed, {}, 'backfill', 'status', plan.planId);
    expect(status.status, status.stderr).toBe(0);
    expect.soft(status.stdout).toMatch(/2\/2 completed, 2 adjusted, Δ 30\.00 EUR, 100\.00 USD, 0 failed/);
    expect.soft(status.stdout).not.toContain('undefined');
    const json = await runTallyAsOperator(testbed, {}, 'backfill', 'status', plan.planId, '--json');
    expect(json.status, json.stderr).toBe(0);
    expect
      .soft((JSON.parse(json.stdout) as BackfillProgress).adjustmentTotals)
      .toEqual({ EUR: '30.00', USD: '100.00' });

    // The console's backfill pages read the run's written results with each plan item's currency:
    // such a run shows its Δ per currency there as well.
    const app = await createTestConsole(testbed);
    try {
      await addTestUser(testbed, 'vic', 'viewer');
      const { cookie } = await signIn(app, 'vic');
      for (const url of ['/backfills', `/backfills/${encodeURIComponent(plan.planId)}`]) {
        const page = await app.inject({ url, headers: { cookie } });
        expect(page.statusCode).toBe(200);
        const text = page.body.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ');
        expect.soft(text, url).toContain('30.00 EUR, 100.00 USD');
        expect.soft(text, url).not.toContain('undefined');
      }
    } finally {
      await app.close();
    }
  }, 240_000);
});
