import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContract } from '../builders/rating.ts';
import { findReviewException } from '../../db/queries/review-exceptions.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { statusQuery } from '../../workflows/definitions.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { BROWSER_ARTIFACTS, launchChromium } from '../harness/browser.ts';
import {
  addTestUser,
  createTestConsole,
  reviewedContract,
  reviewedUsage,
  TEST_PASSWORD,
} from '../harness/console-testbed.ts';
import { waitFor } from '../harness/wait-for.ts';

// The console in a real browser (Debian's Chromium through playwright-core), on the real stack:
// sign-in from the keyboard, a viewer refused, a reviewer's decision reaching the workflow, the
// invoice lineage page. Screenshots of the main pages land in test-artifacts/console/.
let testbed: BillingTestbed;
let app: FastifyInstance;
let baseUrl: string;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  testbed = await BillingTestbed.create('console_browser');
  app = await createTestConsole(testbed);
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  await addTestUser(testbed, 'rita', 'reviewer');
  await addTestUser(testbed, 'rex', 'reviewer');
  await addTestUser(testbed, 'vera', 'viewer');
  ({ browser, close: closeBrowser } = await launchChromium());
}, 120_000);
afterAll(async () => {
  await closeBrowser?.();
  await app?.close();
  await testbed?.close();
});

async function signInWithKeyboard(page: Page, username: string): Promise<void> {
  // The sign-in form takes the focus by itself: a person types straight away.
  await expect.poll(() => page.locator('#username:focus').count()).toBe(1);
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(TEST_PASSWORD);
  await page.keyboard.press('Enter');
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(BROWSER_ARTIFACTS, `${name}.png`), fullPage: true });

describe('the console in a browser', () => {
  it('signs in, refuses a viewer, records a reviewer decision in the workflow, and traces an invoice to its events', async () => {
    const reviewed = reviewedContract('browser-review');
    const plain = {
      ...buildContract({ customer_id: 'browser-lineage', starts_at: '2026-01-01T00:00:00Z' }),
      provider: { kind: 'ledger' as const, customer: 'browser-lineage' },
    };
    await testbed.publishContract(reviewed);
    await testbed.publishContract(plain);
    await testbed.storeEvents([...reviewedUsage(reviewed.customer_id), ...reviewedUsage(plain.customer_id)]);

    await testbed.withWorker(async () => {
      const review = await testbed.startPeriod(testbed.periodInput(reviewed.customer_id, '2026-10'));
      const lineage = await testbed.startPeriod(testbed.periodInput(plain.customer_id, '2026-10'));
      expect((await lineage.result()).stage).toBe('completed');
      const exceptionId = await waitFor(
        'an open exception',
        async () => (await review.query(statusQuery)).openExceptionId,
      );
      const exceptionUrl = `${baseUrl}/exceptions/${encodeURIComponent(exceptionId)}`;

      // A viewer: reads the exception, is offered no decision, and the API refuses one anyway.
      const viewer = await (await browser.newContext()).newPage();
      await viewer.goto(exceptionUrl);
      expect(new URL(viewer.url()).pathname).toBe('/login');
      await signInWithKeyboard(viewer, 'vera');
      await viewer.waitForURL(exceptionUrl);
      await expect.poll(() => viewer.locator('#decision-refusal').textContent()).toContain('needs the reviewer role');
      expect(await viewer.locator('#decision-form').count()).toBe(0);
      const csrf = (await viewer.locator('meta[name="csrf-token"]').getAttribute('content')) ?? '';
      const refused = await viewer.evaluate(
        async ({ id, token }) => {
          const response = await fetch(`/api/v1/exceptions/${encodeURIComponent(id)}/decisions`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token },
            body: JSON.stringify({ kind: 'approve' }),
          });
          return { status: response.status, body: (await response.json()) as { error: { code: string } } };
        },
        { id: exceptionId, token: csrf },
      );
      expect(refused).toEqual({ status: 403, body: { error: expect.objectContaining({ code: 'forbidden' }) } });
      await viewer.goto(`${baseUrl}/users`);
      expect(await viewer.locator('#error-message').textContent()).toContain('may not');
      await viewer.context().close();

      // A reviewer: the queue, the detail with its chart, then a decision from the keyboard.
      const reviewer = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      await reviewer.goto(`${baseUrl}/exceptions`);
      await signInWithKeyboard(reviewer, 'rita');
      await reviewer.waitForURL(`${baseUrl}/exceptions`);
      await reviewer.locator('body[data-ready="true"]').waitFor();
      await shot(reviewer, 'exceptions-queue');
      await reviewer.getByRole('link', { name: exceptionId }).click();
      await reviewer.waitForURL(exceptionUrl);
      await reviewer.locator('body[data-ready="true"]').waitFor();
      expect(await reviewer.locator('#usage-chart').getAttribute('width')).not.toBeNull();
      await shot(reviewer, 'exception-detail');
      await reviewer.getByLabel('Approve: issue and sync the invoice').focus();
      await reviewer.keyboard.press('Space');
      await reviewer.getByLabel('Reason (required to reject or adjust)').fill('usage matches the signed contract ramp');
      await reviewer.getByRole('button', { name: 'Record decision' }).press('Enter');
      await expect
        .poll(() => reviewer.locator('#flash').textContent())
        .toContain(`Recorded: ${exceptionId}: approve by rita`);
      expect((await review.result()).stage).toBe('completed');
      expect(await findReviewException(testbed.pool, exceptionId)).toMatchObject({
        status: 'approved',
        reviewer: 'rita',
      });
      await reviewer.goto(exceptionUrl);
      await shot(reviewer, 'exception-decided');

      // The invoice, down to its events, with its journal entries and provider sync.
      const invoiceId = 'inv:browser-lineage:2026-10';
      expect((await findInvoice(testbed.pool, invoiceId))?.status).toBe('issued');
      await reviewer.goto(`${baseUrl}/invoices?customer=browser-lineage`);
      await shot(reviewer, 'invoices-list');
      await reviewer.getByRole('link', { name: invoiceId }).click();
      await reviewer.waitForURL(`${baseUrl}/invoices/${encodeURIComponent(invoiceId)}`);
      await expect.poll(() => reviewer.locator('#lineage-heading').textContent()).toContain('Lineage');
      await reviewer.locator('details.lineage-line summary').first().click();
      expect(await reviewer.locator('details.lineage-line').first().textContent()).toContain(
        'browser-lineage-2026-10-1',
      );
      expect(await reviewer.locator('#journal-heading + table, #journal-heading ~ table').count()).toBeGreaterThan(0);
      expect(await reviewer.locator('section:has(#sync-heading)').textContent()).toContain('ledger');
      await shot(reviewer, 'invoice-lineage');

      await reviewer.goto(`${baseUrl}/ops`);
      await reviewer.locator('body[data-ready="true"]').waitFor();
      await shot(reviewer, 'ops');
      expect(await reviewer.locator('#reconciliation').count(), await reviewer.locator('main').innerText()).toBe(1);
      await reviewer.goto(`${baseUrl}/audit`);
      await reviewer.getByRole('button', { name: 'Verify the chain' }).click();
      await expect.poll(() => reviewer.locator('#audit-verify-result').textContent()).toContain('The chain holds');
      await shot(reviewer, 'audit');
      await reviewer.context().close();
    });
  }, 180_000);

  it('applies a large adjust only when a second, different reviewer confirms it in the browser', async () => {
    const contract = reviewedContract('browser-dual', { dual_control_above: '100.00' });
    await testbed.publishContract(contract);
    await testbed.storeEvents(reviewedUsage(contract.customer_id));
    await testbed.withWorker(async () => {
      const review = await testbed.startPeriod(testbed.periodInput(contract.customer_id, '2026-10'));
      const exceptionId = await waitFor(
        'an open exception',
        async () => (await review.query(statusQuery)).openExceptionId,
      );
      const exceptionUrl = `${baseUrl}/exceptions/${encodeURIComponent(exceptionId)}`;
      const signedIn = async (username: string): Promise<Page> => {
        const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
        await page.goto(exceptionUrl);
        await signInWithKeyboard(page, username);
        await page.waitForURL(exceptionUrl);
        await page.locator('body[data-ready="true"]').waitFor();
        return page;
      };

      // The first reviewer proposes a credit above the contract's dual-control amount.
      const first = await signedIn('rita');
      await first.getByLabel('Adjust: add an adjustment line, then issue').check();
      await first.getByLabel('Reason (required to reject or adjust)').fill('meter double-counted on the 2nd');
      await first.getByLabel('Adjustment amount (signed, invoice currency)').fill('-250.00');
      // The page reloads itself 800 ms after a decision is recorded: wait for that instead of
      // navigating on top of it (a navigation during the reload is aborted).
      let reloaded = first.waitForEvent('load');
      await first.getByRole('button', { name: 'Record decision' }).press('Enter');
      await expect.poll(() => first.locator('#flash').textContent()).toContain('adjust -250.00 USD proposed by rita');
      await reloaded;
      await expect.poll(() => first.locator('#decision-proposal').textContent()).toContain('waits for a second');
      // The proposed amount names its currency (the invoice's), like every money figure on the pages.
      expect
        .soft((await first.locator('#decision-proposal').textContent())?.replace(/\s+/g, ' '))
        .toMatch(/Adjust -250\.00 USD proposed by rita/);
      await shot(first, 'exception-dual-control-proposed');
      expect((await review.query(statusQuery)).stage).toBe('awaiting_review');
      await first.context().close();

      // The second reviewer sees the proposal, prefilled, and confirms it.
      const second = await signedIn('rex');
      expect(await second.locator('#decision-proposal').textContent()).toContain('proposed by rita');
      // The invoice is a link (its markup is not shown as text).
      expect(await second.locator('dl.facts').getByRole('link', { name: 'inv:browser-dual:2026-10' }).count()).toBe(1);
      expect(await second.getByLabel('Adjustment amount (signed, invoice currency)').inputValue()).toBe('-250.00');
      reloaded = second.waitForEvent('load');
      await second.getByRole('button', { name: 'Record decision' }).press('Enter');
      await expect.poll(() => second.locator('#flash').textContent()).toContain('by rita, confirmed by rex');
      expect((await review.result()).stage).toBe('completed');
      expect(await findReviewException(testbed.pool, exceptionId)).toMatchObject({
        status: 'adjusted',
        reviewer: 'rita',
        decision: expect.objectContaining({ confirmedBy: 'rex', amount: '-250.00' }),
      });
      await reloaded;
      await second.locator('body[data-ready="true"]').waitFor();
      await shot(second, 'exception-dual-control-confirmed');
      await second.context().close();
    });
  }, 180_000);
});
