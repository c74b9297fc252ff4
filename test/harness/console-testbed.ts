import type { Page } from 'playwright-core';
import { createWriteStream } from 'node:fs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { addUser } from '../../access/index.ts';
import type { Contract } from '../../contracts/contract.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import type { ConsoleDeps } from '../../console/console-deps.ts';
import { createConsoleServer } from '../../console/server.ts';
import { testLogFile } from './quiet-temporal.ts';
import { publishedRateCardVersions } from '../../views/ratecard-versions.ts';
import type { LoginThrottlePolicy } from '../../domain/access/login-throttle.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import type { BillingTestbed } from './billing-testbed.ts';

/** Short throttling for tests: 2 free failures, then a 2 s wait, locked at the 4th. */
const TEST_LOGIN_THROTTLE: LoginThrottlePolicy = {
  freeFailures: 2,
  baseDelayMs: 2_000,
  maxDelayMs: 4_000,
  lockoutAfter: 4,
  lockoutMs: 60_000,
};

import { TEST_PASSWORD } from '../builders/test-secrets.ts';

export { TEST_PASSWORD };

/** The console on a billing testbed's database and Temporal client (fastify's inject, or a real port). */
export async function createTestConsole(
  testbed: BillingTestbed,
  overrides: Partial<ConsoleDeps['settings']> = {},
): Promise<FastifyInstance> {
  return createConsoleServer({
    // The refusals the tests provoke (a missing CSRF token, …) are logged to a file, not the terminal.
    logStream: createWriteStream(testLogFile('console'), { flags: 'a' }),
    pool: testbed.pool,
    temporal: testbed.client,
    temporalNamespace: 'billing',
    settings: {
      sessionTtlMs: 60 * 60_000,
      secureCookie: false,
      sessionSecret: 'a-test-secret-that-is-at-least-32-characters',
      loginRatePerMinute: 10_000,
      temporalUiUrl: 'http://127.0.0.1:1/temporal-ui',
      ...overrides,
    },
    loadRateCardVersions: publishedRateCardVersions(testbed.pool),
    loginThrottle: TEST_LOGIN_THROTTLE,
  });
}

export async function addTestUser(testbed: BillingTestbed, username: string, role: 'viewer' | 'reviewer' | 'admin') {
  await addUser(testbed.pool, { operator: 'test' }, { username, role, password: TEST_PASSWORD });
}

/** Signs in through the API; returns the cookie header and the CSRF token to send back. */
export async function signIn(
  app: FastifyInstance,
  username: string,
  password = TEST_PASSWORD,
): Promise<{ cookie: string; csrf: string; response: LightMyRequestResponse }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password } });
  if (response.statusCode !== 204)
    throw new Error(`sign-in of ${username} answered ${response.statusCode}: ${response.body}`);
  const setCookie = String(response.headers['set-cookie'] ?? '');
  return { cookie: setCookie.split(';')[0] ?? '', csrf: String(response.headers['x-csrf-token']), response };
}

/** Signs in through the console's login page in the browser, as a person would. */
export async function signInPage(page: Page, baseUrl: string, username: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.fill('#username', username);
  await page.fill('#password', TEST_PASSWORD);
  await page.press('#password', 'Enter');
  await page.waitForURL((url) => url.pathname !== '/login');
}

/** A contract that sends any invoice above 1.00 to review, on the Postgres ledger sink. */
export function reviewedContract(customerId: string, review: Record<string, string> = {}): Contract {
  return {
    ...buildContract({
      customer_id: customerId,
      starts_at: '2026-01-01T00:00:00Z',
      review: { total_above: '1.00', timeout: '72h', ...review },
    }),
    provider: { kind: 'ledger', customer: customerId },
  };
}

export function reviewedUsage(customerId: string, period = '2026-10'): UsageEvent[] {
  return [1, 2, 3].map((index) =>
    buildUsageEvent({
      customer_id: customerId,
      event_id: `${customerId}-${period}-${index}`,
      timestamp: `${period}-0${index}T10:00:00.000Z`,
      quantity: '250000',
    }),
  );
}
