import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContract } from '../builders/rating.ts';
import { runTallyAsOperator } from '../cli/run-tally.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { BROWSER_ARTIFACTS, launchChromium } from '../harness/browser.ts';
import { addTestUser, createTestConsole, TEST_PASSWORD } from '../harness/console-testbed.ts';

// The console's shadow pages in Debian's Chromium, on the real stack: a shadow run made with the
// CLI, then a viewer reads the list of runs with their counts, a run's customers, a customer's line
// diff with its probable cause, and the readiness verdict of the source.
let testbed: BillingTestbed;
let app: FastifyInstance;
let baseUrl: string;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  testbed = await BillingTestbed.create('console_shadow');
  app = await createTestConsole(testbed);
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  await addTestUser(testbed, 'vic', 'viewer');
  ({ browser, close: closeBrowser } = await launchChromium());
}, 120_000);
afterAll(async () => {
  await closeBrowser?.();
  await app?.close();
  await testbed?.close();
});

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(BROWSER_ARTIFACTS, `${name}.png`), fullPage: true });

describe('the shadow pages in a browser', () => {
  it('list the runs with counts, a run’s customers, a customer’s line diff with its cause, and readiness', async () => {
    for (const customerId of ['shp-same', 'shp-old-rate'])
      await testbed.publishContract({
        ...buildContract({ customer_id: customerId, starts_at: '2026-01-01T00:00:00Z' }),
        provider: { kind: 'ledger', customer: customerId },
      });
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-shadow-pages-'));
    const file = path.join(directory, 'legacy.csv');
    // The legacy biller has no line for the first customer and charges the second an old platform fee.
    await writeFile(
      file,
      'customer_id,period,price_id,quantity,amount,currency\nshp-old-rate,2026-10,platform,,1.00,USD\n',
    );
    const tally = (...args: string[]) => runTallyAsOperator(testbed, {}, ...args);
    expect((await tally('shadow', 'import', file, '--source', 'pages')).status).toBe(0);
    const ran = await testbed.withWorker(() => tally('shadow', 'run', '--source', 'pages', '--period', '2026-10'));
    expect(ran.status, ran.stderr).toBe(0);

    const page = await (await browser.newContext()).newPage();
    await page.goto(`${baseUrl}/shadow`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#username', 'vic');
    await page.fill('#password', TEST_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${baseUrl}/shadow`);
    const runsTable = page.getByRole('table', { name: 'Shadow runs' });
    const row = runsTable.locator('tbody tr').first();
    await expect.poll(() => row.textContent()).toMatch(/pages:2026-10:\S+\s*pages\s*2026-10/);
    // Two customers: both only Tally's or diff, each an exception (no thresholds), none decided.
    const cells = await row.locator('td').allTextContents();
    expect(cells[4]).toBe('2');
    expect(cells[9]).toBe('2 (2)');
    expect(cells[10]).toBe('pages:2026-10:v1');
    await shot(page, 'shadow-runs');

    await page.selectOption('select[name="source"]', 'pages');
    await page.click('form[aria-label="Readiness of a source"] button[type="submit"]');
    await expect.poll(() => page.locator('#readiness-verdict').textContent()).toContain('pages: NOT READY');
    expect(await page.getByRole('table', { name: 'Readiness by period' }).textContent()).toMatch(
      /shp-old-rate: diff, variance .*exception not accepted/,
    );

    await row.locator('a').first().click();
    await page.waitForURL(/\/shadow\/runs\//);
    expect(await page.locator('#run-summary').textContent()).toMatch(
      /1 diff, 0 only legacy,\s*1 only Tally, 2 exceptions/,
    );
    const customers = page.getByRole('table', { name: 'Customers of the run' });
    expect(await customers.locator('tbody tr').count()).toBe(2);
    const oldRate = customers.locator('tbody tr', { hasText: 'shp-old-rate' });
    expect(await oldRate.textContent()).toMatch(/diff.*1\.00\s*USD/s);
    expect(await oldRate.textContent()).toContain('tally');
    // Customer, Status, Legacy total, Tally total, Variance: every amount with its currency.
    const oldRateCells = (await oldRate.locator('td').allTextContents()).map((cell) =>
      cell.replace(/\s+/g, ' ').trim(),
    );
    for (const cell of oldRateCells.slice(2, 5)) expect.soft(cell).toMatch(/^-?\d+\.\d{2} USD$/);
    await shot(page, 'shadow-run');

    await oldRate.locator('a').click();
    await page.waitForURL(/\/customers\/shp-old-rate$/);
    const platform = page.getByRole('table', { name: 'Line diff' }).locator('tbody tr', { hasText: 'platform' });
    expect(await platform.textContent()).toMatch(/platform\s*diff/);
    expect(await platform.locator('td').last().textContent()).toMatch(/^(price|proration|unexplained)/);
    // Legacy amount, Tally amount, Delta, Quantity effect, Price effect: money with its currency.
    const platformCells = (await platform.locator('td').allTextContents()).map((cell) =>
      cell.replace(/\s+/g, ' ').trim(),
    );
    for (const cell of platformCells.slice(4, 9))
      if (cell !== '—') expect.soft(cell, platformCells.join(' | ')).toMatch(/^-?\d+\.\d{2,} USD$/);
    expect.soft(await page.locator('main p').first().textContent()).toMatch(/variance\s+-?\d+\.\d{2} USD/);
    await shot(page, 'shadow-customer');
    // The shadow_variance exception in the queue shows the same line diff, linked to the run.
    const { rows } = await testbed.pool.query<{ exception_id: string }>(
      `SELECT exception_id FROM review_exceptions WHERE customer_id = 'shp-old-rate' AND kind = 'shadow_variance'`,
    );
    await page.goto(`${baseUrl}/exceptions/${encodeURIComponent(rows[0]?.exception_id ?? '')}`);
    const shadowSection = page.locator('section', { has: page.locator('#shadow-heading') });
    expect(await shadowSection.getByRole('table', { name: 'Line diff' }).textContent()).toMatch(/platform\s*diff/);
    await shadowSection.getByRole('link', { name: /In shadow run pages:2026-10:/ }).click();
    await page.waitForURL(/\/customers\/shp-old-rate$/);
    // A run that does not exist is the console's not-found page.
    expect((await page.goto(`${baseUrl}/shadow/runs/nope`))?.status()).toBe(404);
    await page.context().close();
  }, 180_000);
});
