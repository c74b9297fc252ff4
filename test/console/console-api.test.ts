import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken, authenticatePassword, unlockUser, verifyAuditLog } from '../../access/index.ts';
import { listAuditEntries } from '../../db/queries/audit-log.ts';
import { findReviewException, insertReviewException } from '../../db/queries/review-exceptions.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { statusQuery } from '../../workflows/definitions.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import {
  addTestUser,
  createTestConsole,
  reviewedContract,
  reviewedUsage,
  signIn,
  TEST_PASSWORD,
} from '../harness/console-testbed.ts';
import { waitFor } from '../harness/wait-for.ts';
import { CALCULATION_VERSION } from '../../domain/calculation-version.ts';
import { insertShadowRun } from '../../db/queries/shadow.ts';

let testbed: BillingTestbed;
let app: FastifyInstance;

beforeAll(async () => {
  testbed = await BillingTestbed.create('console_api');
  app = await createTestConsole(testbed);
  await addTestUser(testbed, 'vera', 'viewer');
  await addTestUser(testbed, 'rita', 'reviewer');
  await addTestUser(testbed, 'adam', 'admin');
  await addTestUser(testbed, 'lou', 'viewer');
}, 120_000);
afterAll(async () => {
  await app?.close();
  await testbed?.close();
});

const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string } }).error;

describe('the console API', () => {
  it('answers /healthz without a session and 401 with a JSON error everywhere else', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    for (const [method, url] of [
      ['GET', '/api/v1/exceptions?status=open'],
      ['GET', '/api/v1/exceptions/exc:any'],
      ['GET', '/api/v1/invoices'],
      ['GET', '/api/v1/invoices/inv:any'],
      ['GET', '/api/v1/audit'],
      ['POST', '/api/v1/exceptions/exc:any/decisions'],
      ['DELETE', '/api/v1/session'],
    ] as const) {
      const response = await app.inject({
        method,
        url,
        ...(method === 'POST' ? { payload: { kind: 'approve' } } : {}),
      });
      expect(response.statusCode, `${method} ${url}`).toBe(401);
      expect(errorOf(response.body).code).toBe('unauthenticated');
    }
    // A page without a session sends the browser to sign in and back.
    const page = await app.inject({ url: '/exceptions?kind=threshold' });
    expect(page.statusCode).toBe(302);
    expect(page.headers.location).toBe('/login?next=%2Fexceptions%3Fkind%3Dthreshold');
  });

  it('signs in with a server-side session in an HttpOnly, SameSite=Strict cookie and returns the CSRF token', async () => {
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { username: 'vera', password: 'not the password' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(errorOf(wrong.body)).toEqual({ code: 'invalid_credentials', message: 'wrong username or password' });

    const { cookie, csrf, response } = await signIn(app, 'vera');
    const setCookie = String(response.headers['set-cookie']);
    expect(setCookie).toMatch(/^tally_session=/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(csrf.length).toBeGreaterThan(20);
    // Server-side: the cookie carries an id only, and the database keeps its hash, not the id.
    const stored = await testbed.pool.query<{ session_key: string; username: string }>(
      'SELECT session_key, username FROM console_sessions WHERE username = $1',
      ['vera'],
    );
    expect(stored.rows.length).toBeGreaterThan(0);
    expect(cookie).not.toContain(stored.rows[0]?.session_key);

    const me = await app.inject({ url: '/api/v1/session', headers: { cookie } });
    expect(JSON.parse(me.body)).toEqual({ username: 'vera', role: 'viewer', via: 'session' });
    const list = await app.inject({ url: '/api/v1/exceptions?status=open', headers: { cookie } });
    expect(list.statusCode).toBe(200);
    expect(JSON.parse(list.body)).toMatchObject({ exceptions: expect.any(Array), total: expect.any(Number) });

    // Sign-out needs the CSRF token too, and ends the session on the server.
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie } })).statusCode).toBe(403);
    const out = await app.inject({
      method: 'DELETE',
      url: '/api/v1/session',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(out.statusCode).toBe(204);
    expect((await app.inject({ url: '/api/v1/session', headers: { cookie } })).statusCode).toBe(401);
  });

  it('refuses a state-changing request without the session CSRF token (403), and a viewer deciding (403)', async () => {
    const viewer = await signIn(app, 'vera');
    const reviewer = await signIn(app, 'rita');
    const decide = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/exceptions/exc:none/decisions',
        headers,
        payload: { kind: 'approve' },
      });
    const missing = await decide({ cookie: reviewer.cookie });
    expect(missing.statusCode).toBe(403);
    expect(errorOf(missing.body).code).toBe('csrf_invalid');
    // Another session's token is no good either.
    const foreign = await decide({ cookie: reviewer.cookie, 'x-csrf-token': viewer.csrf });
    expect(foreign.statusCode).toBe(403);
    expect(errorOf(foreign.body).code).toBe('csrf_invalid');

    const refused = await decide({ cookie: viewer.cookie, 'x-csrf-token': viewer.csrf });
    expect(refused.statusCode).toBe(403);
    expect(errorOf(refused.body)).toEqual({
      code: 'forbidden',
      message: 'vera (viewer) may not decide exceptions: that needs the reviewer role',
    });
    const [audit] = await listAuditEntries(testbed.pool, { actor: 'vera', action: 'decision_refused', limit: 1 });
    expect(audit?.details).toMatchObject({ reason: 'role', role: 'viewer' });

    // Managing users is an admin's: a reviewer is refused, an admin adds one and is shown its password once.
    const newUser = { username: 'nina', role: 'viewer' };
    const byReviewer = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { cookie: reviewer.cookie, 'x-csrf-token': reviewer.csrf },
      payload: newUser,
    });
    expect(byReviewer.statusCode).toBe(403);
    const admin = await signIn(app, 'adam');
    const added = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf },
      payload: newUser,
    });
    expect(added.statusCode).toBe(201);
    const password = (JSON.parse(added.body) as { password: string }).password;
    expect(password.length).toBeGreaterThanOrEqual(20);
    await signIn(app, 'nina', password);
  });

  it('slows repeated failed logins, then locks the account, even against the right password', async () => {
    const attempt = (password: string) =>
      app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'lou', password } });
    // Two free failures, then the next attempt must wait (2 s here): one made sooner is refused unchecked,
    // even with the right password.
    expect((await attempt('guess-1')).statusCode).toBe(401);
    expect((await attempt('guess-2')).statusCode).toBe(401);
    expect((await attempt('guess-3')).statusCode).toBe(401);
    const tooSoon = await attempt(TEST_PASSWORD);
    expect(tooSoon.statusCode).toBe(429);
    expect(errorOf(tooSoon.body).code).toBe('login_throttled');
    expect(Number(tooSoon.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    // The fourth failure locks the account; then even the right password is refused.
    const locking = await attempt('guess-4');
    expect(locking.statusCode).toBe(423);
    expect(errorOf(locking.body).code).toBe('account_locked');
    const locked = await attempt(TEST_PASSWORD);
    expect(locked.statusCode).toBe(423);
    const outcomes = await listAuditEntries(testbed.pool, { subject: 'user:lou', limit: 20 });
    expect(outcomes.map((entry) => entry.action)).toContain('login_locked_out');

    await unlockUser(testbed.pool, { operator: 'test' }, 'lou');
    expect((await attempt(TEST_PASSWORD)).statusCode).toBe(204);
  });

  it('ends a session at its expiry', async () => {
    const shortLived = await createTestConsole(testbed, { sessionTtlMs: 1_500 });
    try {
      const { cookie } = await signIn(shortLived, 'vera');
      expect((await shortLived.inject({ url: '/api/v1/session', headers: { cookie } })).statusCode).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1_800));
      const expired = await shortLived.inject({ url: '/api/v1/exceptions', headers: { cookie } });
      expect(expired.statusCode).toBe(401);
    } finally {
      await shortLived.close();
    }
  });

  it('records a decision under the signed-in user through the workflow, never under a name in the request', async () => {
    const contract = reviewedContract('console-decide');
    await testbed.publishContract(contract);
    await testbed.storeEvents(reviewedUsage(contract.customer_id));
    await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(contract.customer_id, '2026-10'));
      const exceptionId = await waitFor(
        'an open exception',
        async () => (await handle.query(statusQuery)).openExceptionId,
      );
      const rita = await signIn(app, 'rita');
      const url = `/api/v1/exceptions/${encodeURIComponent(exceptionId)}/decisions`;
      const headers = { cookie: rita.cookie, 'x-csrf-token': rita.csrf };

      const detail = JSON.parse(
        (await app.inject({ url: `/api/v1/exceptions/${encodeURIComponent(exceptionId)}`, headers })).body,
      );
      expect(detail.exception).toMatchObject({ exceptionId, status: 'open', customerId: contract.customer_id });
      expect(detail.usageByDay.periods).toEqual(['2026-10', '2026-09', '2026-08', '2026-07']);
      expect(detail.usageByDay.meters[0].series[0].quantities.slice(0, 3)).toEqual(['250000', '250000', '250000']);
      expect(detail.temporalUrl).toBe(
        `http://127.0.0.1:1/temporal-ui/namespaces/billing/workflows/${encodeURIComponent(detail.exception.workflowId)}`,
      );

      // A reviewer's name in the body is refused outright: who decides comes from the session.
      const smuggled = await app.inject({
        method: 'POST',
        url,
        headers,
        payload: { kind: 'approve', reviewer: 'mallory' },
      });
      expect(smuggled.statusCode).toBe(400);
      const reject = await app.inject({ method: 'POST', url, headers, payload: { kind: 'reject' } });
      expect(reject.statusCode).toBe(400);

      const approved = await app.inject({
        method: 'POST',
        url,
        headers,
        payload: { kind: 'approve', note: 'seasonal peak' },
      });
      expect(approved.statusCode).toBe(200);
      expect(JSON.parse(approved.body)).toEqual({
        exceptionId,
        decision: 'approve',
        repeated: false,
        reviewer: 'rita',
        decidedBy: 'rita',
        decidedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        message: `${exceptionId}: approve by rita`,
      });
      expect((await handle.result()).stage).toBe('completed');

      // Another reviewer's different decision afterwards is refused with who decided what and when.
      const adam = await signIn(app, 'adam');
      const late = await app.inject({
        method: 'POST',
        url,
        headers: { cookie: adam.cookie, 'x-csrf-token': adam.csrf },
        payload: { kind: 'reject', reason: 'too late' },
      });
      expect(late.statusCode).toBe(409);
      expect(errorOf(late.body).message).toMatch(/already decided: approve by rita at/);
    });
    const decided = await findReviewException(testbed.pool, `exc:inv:console-decide:2026-10:threshold:1`);
    expect(decided).toMatchObject({
      status: 'approved',
      reviewer: 'rita',
      decision: { reviewer: 'rita', note: 'seasonal peak' },
    });
    expect((await findInvoice(testbed.pool, 'inv:console-decide:2026-10'))?.status).toBe('issued');
    const [audit] = await listAuditEntries(testbed.pool, {
      subject: 'exception:exc:inv:console-decide:2026-10:threshold:1',
      action: 'exception_decided',
      limit: 1,
    });
    expect(audit).toMatchObject({
      actor: { kind: 'user', name: 'rita' },
      details: { kind: 'approve', via: 'session' },
    });
  }, 120_000);

  it('acknowledges a reconciliation difference with a note, without a workflow, and refuses reject or a bare approve', async () => {
    const exceptionId =
      'reconciliation:2026-10:invoice_to_revenue:amount_mismatch:inv:console-recon:2026-10:usage:tokens';
    await insertReviewException(testbed.pool, {
      exceptionId,
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
          customer_id: 'console-recon',
          invoice_id: null,
          line_key: 'usage:tokens',
          sku: 'llm.tokens',
          currency: 'USD',
          expected: '13.10',
          actual: '14.10',
          detail: '2026-10: usage billed 13.1 ≠ usage revenue recognized 14.1',
        },
      },
      workflowId: 'reconciliation:2026-10',
    });
    const rita = await signIn(app, 'rita');
    const url = `/api/v1/exceptions/${encodeURIComponent(exceptionId)}/decisions`;
    const headers = { cookie: rita.cookie, 'x-csrf-token': rita.csrf };
    for (const payload of [{ kind: 'reject', reason: 'wrong' }, { kind: 'approve' }]) {
      const refused = await app.inject({ method: 'POST', url, headers, payload });
      expect(refused.statusCode, JSON.stringify(payload)).toBe(409);
      expect(errorOf(refused.body).message).toMatch(/acknowledged \(approve with a note/);
    }
    const acknowledged = await app.inject({
      method: 'POST',
      url,
      headers,
      payload: { kind: 'approve', note: 'a manual posting, explained in the close file' },
    });
    expect(acknowledged.statusCode).toBe(200);
    expect(JSON.parse(acknowledged.body)).toMatchObject({
      exceptionId,
      decision: 'approve',
      repeated: false,
      reviewer: 'rita',
    });
    expect(await findReviewException(testbed.pool, exceptionId)).toMatchObject({
      status: 'approved',
      reviewer: 'rita',
      decision: { kind: 'approve', note: 'a manual posting, explained in the close file' },
    });
    const [audit] = await listAuditEntries(testbed.pool, {
      subject: `exception:${exceptionId}`,
      action: 'exception_decided',
      limit: 1,
    });
    expect(audit).toMatchObject({
      actor: { kind: 'user', name: 'rita' },
      details: { kind: 'approve', via: 'session' },
    });
  });

  it('takes a personal token instead of a session (no CSRF: a browser never sends it on its own)', async () => {
    const user = await authenticatePassword(testbed.pool, { username: 'rita', password: TEST_PASSWORD });
    const { token } = await issueToken(testbed.pool, user, 1);
    const me = await app.inject({ url: '/api/v1/session', headers: { authorization: `Bearer ${token}` } });
    expect(JSON.parse(me.body)).toEqual({ username: 'rita', role: 'reviewer', via: 'token' });
    const decide = await app.inject({
      method: 'POST',
      url: '/api/v1/exceptions/exc:none/decisions',
      headers: { authorization: `Bearer ${token}` },
      payload: { kind: 'approve' },
    });
    expect(decide.statusCode).toBe(404);
    const forged = await app.inject({
      url: '/api/v1/session',
      headers: { authorization: `Bearer ${token.slice(0, -2)}xx` },
    });
    expect(forged.statusCode).toBe(401);
  });

  it('orders the queue escalated first, then oldest, then largest, and pages it', async () => {
    await testbed.pool.query(
      `INSERT INTO period_snapshots (snapshot_id, customer_id, period, mode, calculation_version, event_cutoff, event_count, event_fingerprint, aggregates, counters)
       VALUES ('snap:queue', 'queue', '2026-09', 'live', 'calc', now(), 0, repeat('0', 64), '[]', '{}')`,
    );
    const rows = [
      { customer: 'queue-a', total: '10.00', hoursAgo: 50, escalated: false },
      { customer: 'queue-b', total: '900.00', hoursAgo: 50, escalated: false },
      { customer: 'queue-c', total: '5.00', hoursAgo: 2, escalated: true },
      { customer: 'queue-d', total: '70.00', hoursAgo: 100, escalated: false },
    ];
    // One instant for all: two exceptions opened at the same time are ordered by amount.
    const base = new Date().toISOString();
    for (const row of rows) {
      const invoiceId = `inv:${row.customer}:2026-09`;
      await testbed.pool.query(
        `INSERT INTO invoices (invoice_id, customer_id, period, mode, calculation_version, snapshot_id, status, currency, subtotal, total, document)
         VALUES ($1, $2, '2026-09', 'live', 'calc', 'snap:queue', 'draft', 'USD', $3, $3, '{}')`,
        [invoiceId, row.customer, row.total],
      );
      await testbed.pool.query(
        `INSERT INTO review_exceptions (exception_id, invoice_id, customer_id, period, kind, breaches, context, workflow_id, status, opened_at, escalated_at)
         VALUES ($1, $2, $3, '2026-09', 'threshold', '[]', jsonb_build_object('draft', jsonb_build_object('total', $4::text, 'currency', 'USD')),
                 'wf', $5, $7::timestamptz - make_interval(hours => $6), CASE WHEN $5 = 'escalated' THEN now() END)`,
        [
          `exc:${invoiceId}`,
          invoiceId,
          row.customer,
          row.total,
          row.escalated ? 'escalated' : 'open',
          row.hoursAgo,
          base,
        ],
      );
    }
    const { cookie } = await signIn(app, 'vera');
    const order = async (query: string) =>
      (
        JSON.parse((await app.inject({ url: `/api/v1/exceptions?${query}`, headers: { cookie } })).body) as {
          exceptions: { customerId: string; amount: string }[];
          total: number;
        }
      ).exceptions
        .filter((exception) => exception.customerId.startsWith('queue-'))
        .map((exception) => exception.customerId);
    expect(await order('status=open')).toEqual(['queue-c', 'queue-d', 'queue-b', 'queue-a']);
    expect(await order('status=open&sort=amount')).toEqual(['queue-b', 'queue-d', 'queue-a', 'queue-c']);
    expect(await order('status=escalated')).toEqual(['queue-c']);
    const second = JSON.parse(
      (
        await app.inject({
          url: '/api/v1/exceptions?status=open&customer=queue-b&limit=1&offset=0',
          headers: { cookie },
        })
      ).body,
    ) as { exceptions: { amount: string; currency: string }[]; total: number };
    expect(second).toMatchObject({ total: 1, exceptions: [{ amount: '900.00', currency: 'USD' }] });
    const queuePage = await app.inject({ url: '/exceptions?sort=amount', headers: { cookie } });
    expect(queuePage.statusCode).toBe(200);
    expect(queuePage.body.indexOf('queue-b')).toBeLessThan(queuePage.body.indexOf('queue-d'));
  });

  it('keeps a hash-chained audit log that detects an edited and a removed row', async () => {
    const intact = await verifyAuditLog(testbed.pool);
    expect(intact).toMatchObject({ ok: true, breaks: [] });
    expect(intact.rows).toBeGreaterThan(5);
    // The table refuses changes outright…
    await expect(testbed.pool.query(`UPDATE audit_log SET actor = 'nobody' WHERE seq = 2`)).rejects.toThrow(
      /append-only/,
    );
    await expect(testbed.pool.query('DELETE FROM audit_log WHERE seq = 3')).rejects.toThrow(/append-only/);
    // …and a superuser who switches the trigger off to edit one row is caught by the chain.
    const client = await testbed.pool.connect();
    try {
      await client.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await client.query(`UPDATE audit_log SET details = '{"kind":"reject"}' WHERE seq = 2`);
      const edited = await verifyAuditLog(testbed.pool);
      expect(edited.ok).toBe(false);
      expect(edited.breaks).toEqual([expect.objectContaining({ seq: 2, problem: 'edited' })]);
      await client.query('DELETE FROM audit_log WHERE seq = 4');
      const removed = await verifyAuditLog(testbed.pool);
      expect(removed.breaks).toEqual(expect.arrayContaining([expect.objectContaining({ seq: 5, problem: 'missing' })]));
      // Rows removed from the end leave no gap: a head recorded earlier catches them.
      const head = intact.head as { seq: number; hash: string };
      await client.query('DELETE FROM audit_log WHERE seq = $1', [head.seq]);
      const truncated = await verifyAuditLog(testbed.pool, { expectHead: head });
      expect(truncated.breaks).toEqual(
        expect.arrayContaining([expect.objectContaining({ seq: head.seq, problem: 'missing' })]),
      );
    } finally {
      await client.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
      client.release();
    }
  });

  it('lists shadow runs and backfills for any signed-in user, and refuses a malformed filter', async () => {
    await insertShadowRun(testbed.pool, {
      runId: 'shadow-api-1',
      source: 'legacy-biller',
      period: '2026-10',
      calculationVersion: CALCULATION_VERSION,
      legacyImportId: undefined,
      customerCount: 3,
    });
    const { cookie } = await signIn(app, 'vera');
    const runs = await app.inject({ method: 'GET', url: '/api/v1/shadow/runs?period=2026-10', headers: { cookie } });
    expect(runs.statusCode).toBe(200);
    expect((JSON.parse(runs.body) as { runs: unknown[] }).runs).toEqual([
      expect.objectContaining({ runId: 'shadow-api-1', source: 'legacy-biller', status: 'running', customerCount: 3 }),
    ]);
    const badPeriod = await app.inject({
      method: 'GET',
      url: '/api/v1/shadow/runs?period=0026-10',
      headers: { cookie },
    });
    expect(badPeriod.statusCode).toBe(400);
    const backfills = await app.inject({ method: 'GET', url: '/api/v1/backfills', headers: { cookie } });
    expect(backfills.statusCode).toBe(200);
    expect(JSON.parse(backfills.body)).toEqual({ backfills: [] });
    expect((await app.inject({ method: 'GET', url: '/api/v1/backfills' })).statusCode).toBe(401);
  });
});
