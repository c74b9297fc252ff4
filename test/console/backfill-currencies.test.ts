import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackfillPlan, listBackfillPlans } from '../../db/queries/backfills.ts';
import { backfillWorkflowId, type BackfillProgress } from '../../workflows/backfill-definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { runTallyAsOperator } from '../cli/run-tally.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { launchChromium } from '../harness/browser.ts';
import { addTestUser, createTestConsole, signInPage } from '../harness/console-testbed.ts';

// A backfill over customers billed in two currencies: every total it shows is per currency (a USD
// adjustment and a EUR one are never added into one number): the plan (stored, `tally backfill plan`
// and its --json), the run's progress (`tally backfill status` and --json) and the console's pages.
let testbed: BillingTestbed;
let files: RateCardFiles;
let app: FastifyInstance;
let baseUrl: string;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('backfill_currencies', { ratecardsDir: files.root });
  app = await createTestConsole(testbed);
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  await addTestUser(testbed, 'vic', 'viewer');
  ({ browser, close: closeBrowser } = await launchChromium());
}, 120_000);
afterAll(async () => {
  await closeBrowser?.();
  await app?.close();
  await testbed?.close();
  await rm(files.root, { recursive: true, force: true });
});

function tally(...args: string[]) {
  return runTallyAsOperator(testbed, {}, ...args);
}

describe('a backfill over USD and EUR customers', () => {
  it('keeps issued, re-rated and adjustment totals per currency in the plan, the CLI, the run and the console', async () => {
    const usd = `cur-usd-${process.pid}`;
    const eur = `cur-eur-${process.pid}`;
    // October: 100,000 tokens for the USD customer, 30,000 for the EUR one, at 0.001 each.
    for (const [customerId, currency, card] of [
      [usd, 'USD', `cardusd${process.pid}`],
      [eur, 'EUR', `cardeur${process.pid}`],
    ] as const) {
      await files.publish(
        testbed.pool,
        await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001', currency }),
      );
      await testbed.publishContract(
        buildContract({
          customer_id: customerId,
          ratecard: card,
          currency,
          starts_at: '2026-10-01T00:00:00Z',
          provider: { kind: 'ledger', customer: customerId },
        }),
      );
    }
    await testbed.storeEvents([
      buildUsageEvent({
        customer_id: usd,
        event_id: `${usd}-1`,
        timestamp: '2026-10-05T10:00:00.000Z',
        quantity: '100000',
        metadata: { sku: 'llm.tokens' },
      }),
      buildUsageEvent({
        customer_id: eur,
        event_id: `${eur}-1`,
        timestamp: '2026-10-05T10:00:00.000Z',
        quantity: '30000',
        metadata: { sku: 'llm.tokens' },
      }),
    ]);
    await testbed.withWorker(async () => {
      for (const customerId of [usd, eur])
        expect((await (await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'))).result()).stage).toBe(
          'completed',
        );
    });
    // The price was published at half what it should have been: both cards double from October.
    for (const [currency, card] of [
      ['USD', `cardusd${process.pid}`],
      ['EUR', `cardeur${process.pid}`],
    ] as const)
      await files.publish(
        testbed.pool,
        await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.002', currency }),
      );

    const issued = { USD: '100.00', EUR: '30.00' };
    const rerated = { USD: '200.00', EUR: '60.00' };
    const adjustment = { USD: '100.00', EUR: '30.00' };

    // 1. The plan as `tally backfill plan` prints it, and its --json.
    const planned = await tally(
      'backfill',
      'plan',
      '--from',
      '2026-10',
      '--to',
      '2026-10',
      '--customers',
      `${usd},${eur}`,
      '--reason',
      'October tokens were priced at half the published rate',
      '--by',
      'ops-ana',
    );
    expect(planned.status, planned.stderr).toBe(0);
    expect
      .soft(planned.stdout)
      .toContain(
        '2 customer-periods, 2 to adjust; issued 30.00 EUR, 100.00 USD; re-rated 60.00 EUR, 200.00 USD; adjustment 30.00 EUR, 100.00 USD',
      );
    const planId = /run it with: tally backfill run (\S+)/.exec(planned.stdout)?.[1] as string;
    expect(planId).toBeDefined();

    const json = await tally(
      'backfill',
      'plan',
      '--from',
      '2026-10',
      '--to',
      '2026-10',
      '--customers',
      `${usd},${eur}`,
      '--reason',
      'the same, as JSON',
      '--json',
    );
    expect(json.status, json.stderr).toBe(0);
    const jsonPlan = JSON.parse(json.stdout) as Record<string, unknown>;
    expect.soft(jsonPlan).toMatchObject({ issuedTotals: issued, reratedTotals: rerated, adjustmentTotals: adjustment });
    expect.soft(jsonPlan).not.toHaveProperty('adjustmentTotal');

    // 2. The plan as stored (its columns), as loaded and as listed.
    const stored = await testbed.pool.query<Record<string, unknown>>(
      'SELECT * FROM backfill_plans WHERE plan_id = $1',
      [planId],
    );
    expect
      .soft(stored.rows[0])
      .toMatchObject({ issued_totals: issued, rerated_totals: rerated, adjustment_totals: adjustment });
    expect.soft(await loadBackfillPlan(testbed.pool, planId)).toMatchObject({
      issuedTotals: issued,
      reratedTotals: rerated,
      adjustmentTotals: adjustment,
    });
    expect
      .soft((await listBackfillPlans(testbed.pool)).find((plan) => plan.planId === planId))
      .toMatchObject({ adjustmentTotals: adjustment });
    const list = await tally('backfill', 'list');
    expect
      .soft(list.stdout)
      .toMatch(new RegExp(`${planId}\\s+2026-10\\.\\.2026-10\\s+2\\s+30\\.00 EUR, 100\\.00 USD\\s+not run`));

    // 3. The run: its progress (the workflow's result and query) and `tally backfill status`.
    const progress = await testbed.withWorker(async () => {
      const handle = await testbed.client.workflow.start('backfillWorkflow', {
        taskQueue: testbed.taskQueue,
        workflowId: backfillWorkflowId(planId),
        args: [{ backfillId: planId, planId, startedBy: 'ops-ana', concurrency: 2, stepTimeoutMs: 5_000 }],
      });
      return (await handle.result()) as BackfillProgress;
    });
    expect(progress).toMatchObject({ state: 'completed', total: 2, done: 2, adjusted: 2 });
    expect.soft(progress).toMatchObject({ adjustmentTotals: { USD: '100', EUR: '30' } });
    expect.soft(progress).not.toHaveProperty('adjustmentTotal');
    const status = await tally('backfill', 'status', planId);
    expect(status.status, status.stderr).toBe(0);
    // The workflow's exact sums, shown in each currency's minor units.
    expect.soft(status.stdout).toMatch(/2\/2 completed, 2 adjusted, Δ 30\.00 EUR, 100\.00 USD, 0 failed/);
    const statusJson = await tally('backfill', 'status', planId, '--json');
    expect(statusJson.status, statusJson.stderr).toBe(0);
    expect.soft(JSON.parse(statusJson.stdout)).toMatchObject({ adjustmentTotals: { USD: '100.00', EUR: '30.00' } });
    // The run's recorded results (tally backfill show) are per currency too.
    const run = await testbed.pool.query<{ results: Record<string, unknown> }>(
      'SELECT results FROM backfill_runs WHERE backfill_id = $1',
      [planId],
    );
    expect.soft(run.rows[0]?.results).toMatchObject({ done: 2, adjusted: 2, adjustmentTotals: adjustment });

    // 4. The console: the list's planned and written Δ, the detail's progress line.
    const page = await (await browser.newContext()).newPage();
    await signInPage(page, baseUrl, 'vic');
    await page.goto(`${baseUrl}/backfills`);
    const row = page.locator('table[aria-label="Backfills"] tr', { hasText: planId });
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator('td').allInnerTexts();
    // Plan, Range, Run, Progress, Planned Δ, Written Δ, …
    expect.soft(cells[4]?.replace(/\s+/g, ' ').trim()).toBe('30.00 EUR, 100.00 USD');
    expect.soft(cells[5]?.replace(/\s+/g, ' ').trim()).toBe('30.00 EUR, 100.00 USD');
    await page.goto(`${baseUrl}/backfills/${planId}`);
    const facts = (await page.locator('dl[aria-label="Backfill"]').innerText()).replace(/\s+/g, ' ');
    expect
      .soft(facts)
      .toContain('2 / 2 · 2 adjusted · Δ 30.00 EUR, 100.00 USD written of 30.00 EUR, 100.00 USD planned · 0 failures');
    expect.soft(facts).not.toContain('130');
  }, 240_000);
});
