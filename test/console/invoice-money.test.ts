import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillActivities } from '../../activities/backfill-activities.ts';
import { insertReviewException } from '../../db/queries/review-exceptions.ts';
import { publishedTerms } from '../../terms/index.ts';
import { backfillWorkflowId, type BackfillProgress } from '../../workflows/backfill-definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { addTestUser, createTestConsole, signIn } from '../harness/console-testbed.ts';

// Every money figure billing ops read on an invoice page names its currency, in its minor units at
// least (docs/decisions/console.md, "Money on the pages"): the lines and their tiers, the subtotal
// and total, the lineage's line amounts, the journal's debits and credits, and an adjustment line
// that corrects another invoice, and the same adjustment on the backfill that wrote it ("Adjustment
// lines") and on the invoice it corrects ("Adjustments pointing at this invoice"). The invoice page
// once printed them bare (`30.00`), only the footer said "Total (EUR)". The ops page's reconciliation money the same. Pages fetched over HTTP as a
// signed-in viewer, for a EUR customer (a bare amount reads as dollars). The exception page's
// reconciliation sides and contract terms (commit, credits, the review rules that are amounts) too.
let testbed: BillingTestbed;
let files: RateCardFiles;
let app: FastifyInstance;
let cookie: string;

beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('console_invoice_money', { ratecardsDir: files.root });
  app = await createTestConsole(testbed);
  await addTestUser(testbed, 'vic', 'viewer');
  ({ cookie } = await signIn(app, 'vic'));
}, 120_000);
afterAll(async () => {
  await app?.close();
  await testbed?.close();
  await rm(files.root, { recursive: true, force: true });
});

const text = (fragment: string): string =>
  fragment
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

/** Each body row of the first table in `fragment`, as the text of its cells (`td` and `th`). */
function tableRows(fragment: string, part: 'tbody' | 'tfoot' = 'tbody'): string[][] {
  const table = /<table[\s\S]*?<\/table>/.exec(fragment)?.[0] ?? '';
  const body = new RegExp(`<${part}>([\\s\\S]*?)</${part}>`).exec(table)?.[1] ?? '';
  return [...body.matchAll(/<tr[\s\S]*?<\/tr>/g)].map((row) =>
    [...row[0].matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((cell) => text(cell[1] ?? '')),
  );
}

/** Every `<table>` inside the `<section>` whose heading has id `headingId`. */
function sectionTables(page: string, headingId: string): string[] {
  const start = page.indexOf(`id="${headingId}"`);
  expect(start, headingId).toBeGreaterThan(0);
  const section = page.slice(start, page.indexOf('</section>', start));
  return [...section.matchAll(/<table[\s\S]*?<\/table>/g)].map((match) => match[0]);
}

async function pageHtml(url: string): Promise<string> {
  const response = await app.inject({ url, headers: { cookie } });
  expect(response.statusCode, response.body).toBe(200);
  return response.body;
}

const EUR_AMOUNT = /^-?\d+\.\d{2,} EUR$/;

describe('money on the invoice page', () => {
  it('names the currency of every amount: lines, tiers, totals, lineage, journal, adjustments, reconciliation', async () => {
    const customerId = `money-eur-${process.pid}`;
    const card = `moneyeur${process.pid}`;
    await files.publish(
      testbed.pool,
      await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001', fee: '49', currency: 'EUR' }),
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
      // October's tokens were priced at half the published rate: a backfill adjusts 30.00 EUR, billed
      // on November's invoice as a line correcting October's.
      await files.publish(
        testbed.pool,
        await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.002', fee: '49', currency: 'EUR' }),
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
      expect((await (await testbed.startPeriod(testbed.periodInput(customerId, '2026-11'))).result()).stage).toBe(
        'completed',
      );
      return plan.planId;
    });

    const october = await pageHtml(`/invoices/${encodeURIComponent(`inv:${customerId}:2026-10`)}`);
    const [octoberLines] = sectionTables(october, 'lines-heading');
    const lines = tableRows(octoberLines ?? '');
    // fee, usage and its tier: Kind, Line, Quantity, Amount.
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const row of lines) expect.soft(row[3], row.join(' | ')).toMatch(EUR_AMOUNT);
    const tier = lines.find((row) => row[1]?.startsWith('tier'));
    expect.soft(tier?.[1]).toMatch(/30000 × 0\.001 EUR/);
    expect.soft(tier?.[3]).toBe('30.00 EUR');
    const footer = tableRows(octoberLines ?? '', 'tfoot');
    expect.soft(footer).toEqual([
      ['Subtotal', '79.00 EUR'],
      ['Total', '79.00 EUR'],
    ]);

    // Lineage: each line's summary, key then amount.
    const summaries = [...october.matchAll(/<summary>([\s\S]*?)<\/summary>/g)].map((match) => text(match[1] ?? ''));
    expect(summaries.length).toBeGreaterThan(0);
    for (const summary of summaries) expect.soft(summary).toMatch(/^\S+ -?\d+\.\d{2} EUR$/);

    // Journal entries: Account, Debit, Credit (a side left empty when zero).
    const journal = sectionTables(october, 'journal-heading');
    expect(journal.length).toBeGreaterThan(0);
    for (const table of journal)
      for (const row of tableRows(table))
        for (const cell of row.slice(1)) if (cell !== '') expect.soft(cell, row.join(' | ')).toMatch(EUR_AMOUNT);

    // November bills the adjustment correcting October.
    const november = await pageHtml(`/invoices/${encodeURIComponent(`inv:${customerId}:2026-11`)}`);
    const [novemberLines] = sectionTables(november, 'lines-heading');
    const adjustment = tableRows(novemberLines ?? '').find((row) => row[0] === 'adjustment');
    expect(adjustment, novemberLines).toBeDefined();
    expect.soft(adjustment?.[3]).toBe('30.00 EUR');

    // October's "Adjustments pointing at this invoice": On invoice, Period, Line, Reason, Amount.
    const pointing = tableRows(october.slice(october.indexOf('id="adjustments-heading"')));
    expect(pointing).toHaveLength(1);
    expect.soft(pointing[0]?.[1]).toBe('2026-11');
    expect.soft(pointing[0]?.[4]).toBe('30.00 EUR');

    // The backfill's "Adjustment lines": Customer, Period, Line, Amount, Billed on.
    const backfill = await pageHtml(`/backfills/${encodeURIComponent(planId)}`);
    const adjustmentLines = tableRows(backfill.slice(backfill.indexOf('aria-label="Adjustment lines"') - 30));
    expect(adjustmentLines).toHaveLength(1);
    expect.soft(adjustmentLines[0]?.[3]).toBe('30.00 EUR');
    expect.soft(adjustmentLines[0]?.[4]).toBe(`inv:${customerId}:2026-11`);

    // The ops page's reconciliation: usage billed, usage revenue posted, their difference.
    const ops = await pageHtml('/ops');
    const reconciliation = tableRows(ops.slice(ops.indexOf('id="reconciliation"') - 40));
    const octoberRow = reconciliation.find((row) => row[0] === '2026-10' && row[1] === 'EUR');
    expect(octoberRow, JSON.stringify(reconciliation)).toBeDefined();
    for (const cell of octoberRow?.slice(-3) ?? []) expect.soft(cell, octoberRow?.join(' | ')).toMatch(EUR_AMOUNT);
  }, 240_000);
});

describe('money on the exception page', () => {
  it('names the currency of a reconciliation’s sides and of the contract’s amounts', async () => {
    const customerId = `money-exc-${process.pid}`;
    const reconciliationId = `reconciliation:2026-10:invoice_to_revenue:amount_mismatch:inv:${customerId}:2026-10:usage:tokens`;
    await insertReviewException(testbed.pool, {
      exceptionId: reconciliationId,
      invoiceId: null,
      customerId: '*',
      period: '2026-10',
      kind: 'reconciliation',
      breaches: [
        { rule: 'usage_revenue_mismatch', detail: '2026-10: usage billed 13.1 ≠ usage revenue recognized 14.1' },
      ],
      context: {
        reconciliation: {
          stage: 'invoice_to_revenue',
          reason: 'amount_mismatch',
          customer_id: customerId,
          invoice_id: null,
          line_key: 'usage:tokens',
          sku: 'llm.tokens',
          currency: 'EUR',
          expected: '13.1',
          actual: '14.10',
          detail: '2026-10: usage billed 13.1 ≠ usage revenue recognized 14.1',
        },
      },
      workflowId: 'reconciliation:2026-10',
    });
    const reconciliation = await pageHtml(`/exceptions/${encodeURIComponent(reconciliationId)}`);
    const [sides] = sectionTables(reconciliation, 'reconciliation-heading');
    // Stage, SKU, Currency, Expected, Actual.
    expect.soft(tableRows(sides ?? '')[0]?.slice(3)).toEqual(['13.10 EUR', '14.10 EUR']);

    const thresholdId = `exc:${customerId}:2026-10:threshold:1`;
    await insertReviewException(testbed.pool, {
      exceptionId: thresholdId,
      invoiceId: null,
      customerId,
      period: '2026-10',
      kind: 'threshold',
      breaches: [{ rule: 'total_above', detail: 'total 1200.00 EUR is above 1000.00' }],
      workflowId: `billing:${customerId}:2026-10`,
      context: {
        contract: buildContract({
          customer_id: customerId,
          currency: 'EUR',
          commit: { amount: '500' },
          credits: [{ id: 'welcome', kind: 'promotional', amount: '25', granted_at: '2026-10-01T00:00:00Z' }],
          review: { total_above: '1000', change_pct_above: '50' },
        }),
        previousInvoices: [],
        priorDecisions: [],
      },
    });
    const threshold = await pageHtml(`/exceptions/${encodeURIComponent(thresholdId)}`);
    const start = threshold.indexOf('id="contract-heading"');
    const terms = text(threshold.slice(start, threshold.indexOf('<details', start)));
    expect.soft(terms).toContain('Minimum commit 500.00 EUR');
    expect.soft(terms).toContain('welcome (promotional) 25.00 EUR');
    expect.soft(terms).toMatch(/total_above 1000\.00 EUR/);
    expect.soft(terms).toMatch(/change_pct_above 50(;|\s|$)/);
  }, 60_000);
});
