import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUsageAlerts } from '../../activities/index.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { createWebhookNotifier } from '../../providers/webhook-notifier.ts';
import { publishedTerms } from '../../terms/index.ts';
import { insertAnomaly } from '../../db/queries/anomalies.ts';
import { periodOf } from '../../domain/period.ts';
import type { AccountView } from '../../finops/account-view.ts';
import type { ExecutiveView } from '../../finops/executive-view.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { BROWSER_ARTIFACTS, launchChromium } from '../harness/browser.ts';
import { addTestUser, createTestConsole, signIn, TEST_PASSWORD } from '../harness/console-testbed.ts';

// The executive and account views (SPEC §9–10): their API under the console's read rules (inject),
// then the pages in Debian's Chromium, on a stack with an issued October, usage over the last 28
// days, a prepaid credit, a ramp, product signals and a recorded anomaly.
let testbed: BillingTestbed;
let app: FastifyInstance;

const DAY_MS = 86_400_000;
const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
const anomalyDay = new Date(today - 3 * DAY_MS).toISOString().slice(0, 10);

beforeAll(async () => {
  testbed = await BillingTestbed.create('console_finops');
  app = await createTestConsole(testbed);
  await addTestUser(testbed, 'eve', 'viewer');
  const now = periodOf(new Date());
  await testbed.publishContract(
    buildContract({
      customer_id: 'exec-big',
      starts_at: '2026-01-01T00:00:00Z',
      commit: { amount: '100.00' },
      credits: [
        {
          id: 'prepaid-1',
          kind: 'prepaid',
          amount: '5000.00',
          granted_at: '2026-09-15T00:00:00Z',
          expires_at: '2030-01-01T00:00:00Z',
        },
      ],
      ramp: [{ period: now.name, amount: '4000.00' }],
    }),
  );
  await testbed.publishContract(buildContract({ customer_id: 'exec-small', starts_at: '2026-01-01T00:00:00Z' }));
  const events: UsageEvent[] = [];
  const tokens = (customerId: string, at: Date, quantity: string, key: string) =>
    buildUsageEvent({
      customer_id: customerId,
      event_id: `${customerId}-${key}`,
      timestamp: at.toISOString(),
      quantity,
    });
  for (let day = 1; day <= 31; day += 1) {
    const at = new Date(Date.UTC(2026, 9, day, 9));
    events.push(tokens('exec-big', at, '1000000', `oct-${day}`), tokens('exec-small', at, '100000', `oct-${day}`));
  }
  for (let back = 28; back >= 1; back -= 1) {
    const at = new Date(today - back * DAY_MS + 9 * 3_600_000);
    events.push(
      tokens('exec-big', at, '1000000', `recent-${back}`),
      tokens('exec-small', at, '100000', `recent-${back}`),
      buildUsageEvent({
        customer_id: 'exec-big',
        event_id: `exec-big-integrations-${back}`,
        source: 'job-runner',
        timestamp: at.toISOString(),
        unit: 'integrations',
        quantity: back <= 7 ? '2' : '6',
        metadata: { sku: 'signals.integrations_enabled' },
      }),
    );
  }
  await testbed.storeEvents(events);
  await testbed.withWorker(async () => {
    for (const customerId of ['exec-big', 'exec-small'])
      await (await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'))).result();
  });
  // This period's month-to-date valuation, as the worker's usage-alert loop makes it (commit and ramp read it).
  const check = await checkUsageAlerts(
    { pool: testbed.pool, terms: publishedTerms(testbed.pool), notifier: createWebhookNotifier(undefined) },
    { customerId: 'exec-big', period: now.name },
  );
  expect(check.status).toBe('checked');
  await insertAnomaly(testbed.pool, {
    anomalyId: `usage:exec-big:llm.tokens:${anomalyDay}`,
    metric: 'usage',
    customerId: 'exec-big',
    sku: 'llm.tokens',
    day: anomalyDay,
    kind: 'spike',
    value: '9000000',
    expected: '1000000',
    lower: '800000',
    upper: '1250000',
    score: 18.5,
    severity: 'high',
    currency: null,
  });
}, 300_000);
afterAll(async () => {
  await app?.close();
  await testbed?.close();
});

const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string } }).error;

describe('the executive and account views: API', () => {
  it('answer 401 without a session and 404 for an unknown account; a viewer reads both', async () => {
    for (const url of ['/api/v1/executive', '/api/v1/accounts/exec-big']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(401);
      expect(errorOf(response.body).code).toBe('unauthenticated');
    }
    const pageWithout = await app.inject({ url: '/executive' });
    expect(pageWithout.statusCode).toBe(302);
    expect(pageWithout.headers.location).toBe('/login?next=%2Fexecutive');

    const { cookie } = await signIn(app, 'eve');
    const executive = await app.inject({ url: '/api/v1/executive', headers: { cookie } });
    expect(executive.statusCode, executive.body).toBe(200);
    const view = JSON.parse(executive.body) as ExecutiveView;
    const usd = view.currencies.find((entry) => entry.currency === 'USD');
    expect(usd?.trailing.map((row) => row.days)).toEqual([7, 28]);
    for (const row of usd?.trailing ?? []) {
      expect(Number(row.usage)).toBeGreaterThan(0);
      // Two platform fees of 500.00 a month, per day a twelfth of a year's over 365 days.
      expect(row.subscription).toBe(((1000 * 12 * row.days) / 365).toFixed(2));
    }
    expect(usd?.top_accounts.slice(0, 2).map((account) => [account.customer_id, account.outlook])).toEqual([
      // Its integrations fell (contraction) while its prepaid credit burns too fast (expansion).
      ['exec-big', 'mixed'],
      ['exec-small', 'steady'],
    ]);
    expect(usd?.margin.period).toBe('2026-10');
    expect(usd?.margin.by_product.map((row) => row.key)).toContain('llm');
    expect(usd?.margin.by_account.map((row) => row.key)).toEqual(expect.arrayContaining(['exec-big', 'exec-small']));
    const quarter = usd?.quarter;
    expect(quarter?.quarter).toMatch(/^\d{4}-Q[1-4]$/);
    expect(Number(quarter?.range.p10)).toBeLessThanOrEqual(Number(quarter?.range.p50));
    expect(Number(quarter?.range.p50)).toBeLessThanOrEqual(Number(quarter?.range.p90));
    expect(view.signals).toEqual(
      expect.arrayContaining([
        { customer_id: 'exec-big', outlook: expect.any(String), kinds: expect.arrayContaining(['signal_dropped']) },
      ]),
    );

    const account = await app.inject({ url: '/api/v1/accounts/exec-big', headers: { cookie } });
    expect(account.statusCode, account.body).toBe(200);
    const detail = JSON.parse(account.body) as AccountView;
    expect(detail.commit?.commit?.amount).toBe('100.00');
    expect(detail.commit?.prepaid?.burndown_on).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(detail.commit?.ramp.map((step) => step.planned)).toEqual(['4000.00']);
    expect(detail.commit?.alerts).toContain('prepaid_runs_out_early');
    expect(detail.signals.signals.map((signal) => signal.kind)).toContain('signal_dropped');
    expect(detail.anomalies.map((anomaly) => anomaly.day)).toEqual([anomalyDay]);
    expect(detail.usage_revenue.days).toHaveLength(28);

    const unknown = await app.inject({ url: '/api/v1/accounts/nobody', headers: { cookie } });
    expect(unknown.statusCode).toBe(404);
    expect(errorOf(unknown.body).code).toBe('not_found');
  });
});

describe('the executive and account views in a browser', () => {
  let browser: Browser;
  let closeBrowser: () => Promise<void>;
  beforeAll(async () => {
    ({ browser, close: closeBrowser } = await launchChromium());
  }, 120_000);
  afterAll(async () => {
    await closeBrowser?.();
  });
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(BROWSER_ARTIFACTS, `${name}.png`), fullPage: true });

  it('show revenue split, margin, top accounts and the quarter; an account its burndown, signals and anomalies', async () => {
    const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${baseUrl}/executive`);
    await page.waitForURL(/\/login/);
    await page.fill('#username', 'eve');
    await page.fill('#password', TEST_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${baseUrl}/executive`);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.getByRole('link', { name: 'Executive' }).getAttribute('aria-current')).toBe('page');
    expect(await page.locator('#trailing-usd tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/7 days/),
      expect.stringMatching(/28 days/),
    ]);
    expect(await page.locator('#quarter-range-usd').textContent()).toMatch(/p10 – p50 – p90/);
    expect(await page.locator('#top-accounts-usd tbody tr').first().textContent()).toMatch(/exec-big.*mixed/s);
    // Chart.js drew each chart (a canvas with a size), and each has its figures in a table.
    for (const chart of ['revenue-split', 'margin-by-product'])
      expect(
        await page
          .locator(`canvas[data-chart="${chart}"]`)
          .first()
          .evaluate((canvas) => (canvas as unknown as { width: number }).width),
      ).toBeGreaterThan(0);
    expect(await page.getByRole('table', { name: 'By product' }).textContent()).toContain('llm');
    await shot(page, 'executive');

    await page.locator('#top-accounts-usd').getByRole('link', { name: 'exec-big' }).click();
    await page.waitForURL(`${baseUrl}/accounts/exec-big`);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('#burndown-date').textContent()).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(await page.locator('#burn-alerts').textContent()).toContain('prepaid_runs_out_early');
    expect(await page.locator('#ramp tbody tr').first().textContent()).toMatch(/\(projected\).*4000\.00/s);
    expect(await page.locator('#account-signals').textContent()).toContain('Integrations enabled fell');
    expect(await page.locator('#account-anomalies tbody tr').first().textContent()).toMatch(
      new RegExp(`${anomalyDay}\\s*llm\\.tokens\\s*spike`),
    );
    await shot(page, 'account');
    expect((await page.goto(`${baseUrl}/accounts/nobody`))?.status()).toBe(404);
    await page.context().close();
  }, 120_000);
});
