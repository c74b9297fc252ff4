import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillActivities } from '../../activities/backfill-activities.ts';
import { publishedTerms } from '../../terms/index.ts';
import { backfillWorkflowId, type BackfillProgress } from '../../workflows/backfill-definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { addTestUser, createTestConsole, signIn } from '../harness/console-testbed.ts';

// Every money cell in the console says its currency. An invoice's adjustment lines are shown in two
// places: the backfill that wrote them (its "Adjustment lines" table) and the invoice they correct
// ("Adjustments pointing at this invoice"). Both once printed the bare amount (`30.00`), for a EUR
// customer as for a USD one. Pages fetched over HTTP as a signed-in viewer.
let testbed: BillingTestbed;
let files: RateCardFiles;
let app: FastifyInstance;
let cookie: string;

beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('console_adjustment_currency', { ratecardsDir: files.root });
  app = await createTestConsole(testbed);
  await addTestUser(testbed, 'vic', 'viewer');
  ({ cookie } = await signIn(app, 'vic'));
}, 120_000);
afterAll(async () => {
  await app?.close();
  await testbed?.close();
  await rm(files.root, { recursive: true, force: true });
});

/** The text of each cell of each body row of the first table in `fragment` (tags dropped, spaces collapsed). */
function tableRows(fragment: string): string[][] {
  const table = /<table[\s\S]*?<\/table>/.exec(fragment)?.[0] ?? '';
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table)?.[1] ?? '';
  return [...body.matchAll(/<tr[\s\S]*?<\/tr>/g)].map((row) =>
    [...row[0].matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) =>
      (cell[1] ?? '')
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    ),
  );
}

async function pageHtml(url: string): Promise<string> {
  const response = await app.inject({ url, headers: { cookie } });
  expect(response.statusCode, response.body).toBe(200);
  return response.body;
}

describe('adjustment lines in the console', () => {
  it('show each amount with its currency on the backfill page and on the invoice they correct', async () => {
    const customerId = `adj-eur-${process.pid}`;
    const card = `adjeur${process.pid}`;
    await files.publish(
      testbed.pool,
      await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001', currency: 'EUR' }),
    );
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        ratecard: card,
        currency: 'EUR',
        starts_at: '2026-10-01T00:00:00Z',
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    await testbed.storeEvents([
      buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-1`,
        timestamp: '2026-10-05T10:00:00.000Z',
        quantity: '30000',
        metadata: { sku: 'llm.tokens' },
      }),
    ]);
    const planId = await testbed.withWorker(async () => {
      expect((await (await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'))).result()).stage).toBe(
        'completed',
      );
      // October's price was published at half what it should have been: a backfill adjusts 30.00 EUR.
      await files.publish(
        testbed.pool,
        await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.002', currency: 'EUR' }),
      );
      const plan = await createBackfillActivities({
        pool: testbed.pool,
        terms: publishedTerms(testbed.pool),
      }).planBackfill({
        from: '2026-10',
        to: '2026-10',
        customers: [customerId],
        reason: 'October tokens were priced at half the published rate',
        createdBy: 'ops-ana',
        now: new Date().toISOString(),
        concurrency: 1,
      });
      const handle = await testbed.client.workflow.start('backfillWorkflow', {
        taskQueue: testbed.taskQueue,
        workflowId: backfillWorkflowId(plan.planId),
        args: [{ backfillId: plan.planId, planId: plan.planId, startedBy: 'ops-ana', stepTimeoutMs: 5_000 }],
      });
      expect(((await handle.result()) as BackfillProgress).adjustmentTotals).toEqual({ EUR: '30' });
      // November's invoice bills the adjustment line.
      expect((await (await testbed.startPeriod(testbed.periodInput(customerId, '2026-11'))).result()).stage).toBe(
        'completed',
      );
      return plan.planId;
    });

    // The backfill's "Adjustment lines": Customer, Period, Line, Amount, Billed on.
    const backfill = await pageHtml(`/backfills/${encodeURIComponent(planId)}`);
    const adjustmentLines = tableRows(backfill.slice(backfill.indexOf('aria-label="Adjustment lines"') - 30));
    expect(adjustmentLines).toHaveLength(1);
    expect.soft(adjustmentLines[0]?.[3]).toBe('30.00 EUR');
    expect.soft(adjustmentLines[0]?.[4]).toBe(`inv:${customerId}:2026-11`);

    // October's invoice, "Adjustments pointing at this invoice": On invoice, Period, Line, Reason, Amount.
    const october = await pageHtml(`/invoices/${encodeURIComponent(`inv:${customerId}:2026-10`)}`);
    const pointing = tableRows(october.slice(october.indexOf('id="adjustments-heading"')));
    expect(pointing).toHaveLength(1);
    expect.soft(pointing[0]?.[1]).toBe('2026-11');
    expect.soft(pointing[0]?.[4]).toBe('30.00 EUR');
  }, 180_000);
});
