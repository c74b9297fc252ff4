import path from 'node:path';
import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillActivities } from '../../activities/backfill-activities.ts';
import { publishedTerms } from '../../terms/index.ts';
import { backfillWorkflowId, type BackfillProgress } from '../../workflows/backfill-definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { BROWSER_ARTIFACTS, launchChromium } from '../harness/browser.ts';
import { addTestUser, createTestConsole, signInPage } from '../harness/console-testbed.ts';

// The backfills pages in Debian's Chromium: the list with each run's progress, and a run's detail
// (customer-periods, adjustment lines and where they are billed, Δ total, failures, who and why).
let testbed: BillingTestbed;
let files: RateCardFiles;
let app: FastifyInstance;
let baseUrl: string;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('console_backfills', { ratecardsDir: files.root });
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

describe('the backfills pages in a browser', () => {
  it('lists a run with its progress and Δ, and shows its customer-periods, lines, failures, who and why', async () => {
    const card = `cbf${process.pid}`;
    await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    const customers = ['a', 'b'].map((suffix) => `console-bf-${suffix}-${process.pid}`);
    for (const customerId of customers)
      await testbed.publishContract(
        buildContract({
          customer_id: customerId,
          ratecard: card,
          starts_at: '2026-10-01T00:00:00Z',
          provider: { kind: 'ledger', customer: customerId },
        }),
      );
    await testbed.storeEvents(
      customers.map((customerId) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-1`,
          timestamp: '2026-10-05T10:00:00.000Z',
          quantity: '100000',
          metadata: { sku: 'llm.tokens' },
        }),
      ),
    );
    const reason = 'October tokens were priced at half the published rate';
    const progress = await testbed.withWorker(async () => {
      for (const customerId of customers)
        expect((await (await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'))).result()).stage).toBe(
          'completed',
        );
      await files.publish(testbed.pool, await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.002' }));
      const plan = await createBackfillActivities({
        pool: testbed.pool,
        terms: publishedTerms(testbed.pool),
      }).planBackfill({
        from: '2026-10',
        to: '2026-10',
        customers,
        reason,
        createdBy: 'ops-ana',
        now: new Date().toISOString(),
        concurrency: 2,
      });
      const handle = await testbed.client.workflow.start('backfillWorkflow', {
        taskQueue: testbed.taskQueue,
        workflowId: backfillWorkflowId(plan.planId),
        args: [
          { backfillId: plan.planId, planId: plan.planId, startedBy: 'ops-ana', concurrency: 2, stepTimeoutMs: 5_000 },
        ],
      });
      return (await handle.result()) as BackfillProgress;
    });
    expect(progress).toMatchObject({ state: 'completed', total: 2, done: 2, adjusted: 2 });
    expect(progress.adjustmentTotals).toEqual({ USD: '200' });
    const planId = progress.backfillId;

    const page = await (await browser.newContext()).newPage();
    await signInPage(page, baseUrl, 'vic');
    await page.goto(`${baseUrl}/backfills`);
    const row = page.locator('table[aria-label="Backfills"] tr', { hasText: planId });
    await expect.poll(() => row.count()).toBe(1);
    const rowText = await row.innerText();
    expect(rowText).toContain('2026-10..2026-10');
    expect(rowText).toContain('completed');
    expect(rowText).toContain('2 / 2');
    expect(rowText).toContain('ops-ana');
    expect(rowText).toContain(reason);
    expect(await row.locator('progress').getAttribute('value')).toBe('2');
    await page.screenshot({ path: path.join(BROWSER_ARTIFACTS, 'backfills.png'), fullPage: true });

    await row.locator('a', { hasText: planId }).click();
    await page.waitForURL((url) => url.pathname === `/backfills/${planId}`);
    const facts = await page.locator('dl[aria-label="Backfill"]').innerText();
    expect(facts).toContain(reason);
    expect(facts).toContain('ops-ana');
    expect(facts).toMatch(/2 \/ 2 · 2 adjusted · Δ\s*200\.00 USD written of 200\.00 USD planned · 0 failures/);
    const periods = await page.locator('table[aria-label="Customer-periods"] tbody tr').allInnerTexts();
    expect(periods).toHaveLength(2);
    for (const [index, customerId] of customers.entries()) {
      expect(periods[index]).toContain(customerId);
      expect(periods[index]).toContain(`inv:${customerId}:2026-10`);
      expect(periods[index]).toContain('adjusted');
      expect(periods[index]).toMatch(/rate cards/);
    }
    const lines = await page.locator('table[aria-label="Adjustment lines"] tbody tr').allInnerTexts();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).toContain(`:backfill:${planId}`);
      expect(line).toContain("pending: the customer's next invoice");
    }
    expect(await page.locator('h2:has-text("Failures") + p').innerText()).toBe('None.');
    await page.screenshot({ path: path.join(BROWSER_ARTIFACTS, 'backfill-detail.png'), fullPage: true });

    // An unknown plan is a 404, not an empty page.
    const missing = await page.goto(`${baseUrl}/backfills/bf-none`);
    expect(missing?.status()).toBe(404);
  }, 180_000);
});
