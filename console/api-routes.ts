import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  AccessError,
  addUser,
  auditActorOf,
  authenticatePassword,
  decideException,
  disableUser,
  listUsers,
  recordLogout,
  unlockUser,
  verifyAuditLog,
  type AuthenticatedUser,
} from '../access/index.ts';
import {
  AddUserRequestSchema,
  AuditListQuerySchema,
  BackfillListQuerySchema,
  DecisionRequestSchema,
  ExceptionListQuerySchema,
  InvoiceListQuerySchema,
  LoginRequestSchema,
  ShadowRunListQuerySchema,
} from '../contracts/console-api.ts';
import { listBackfillPlans } from '../db/queries/backfills.ts';
import { listShadowRuns } from '../db/queries/shadow.ts';
import { listAuditEntries, recordAudit } from '../db/queries/audit-log.ts';
import { auditExportLines } from '../views/audit-export.ts';
import { exceptionPage, invoicePage } from '../db/queries/console-views.ts';
import { exceptionDetail } from '../views/exception-detail.ts';
import { opsOverview } from '../views/ops-overview.ts';
import { accountView } from '../finops/account-view.ts';
import { executiveView } from '../finops/executive-view.ts';
import { finopsSourcesOf } from './finops-sources.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { invoiceDetail } from './invoice-detail.ts';
import { workflowLink } from './temporal-links.ts';
import { SESSION_COOKIE } from './session-store.ts';

/** The JSON API of SPEC §9 under /api/v1. Errors are `{ "error": { "code", "message" } }` (server.ts). */
export function registerApiRoutes(app: FastifyInstance, deps: ConsoleDeps): void {
  const link = (workflowId: string) => workflowLink(deps.settings.temporalUiUrl, deps.temporalNamespace, workflowId);

  app.post(
    '/api/v1/session',
    {
      config: {
        access: 'public',
        rateLimit: { max: deps.settings.loginRatePerMinute, timeWindow: 60_000 },
      },
    },
    async (request, reply) => {
      const body = LoginRequestSchema.parse(request.body);
      const user = await authenticatePassword(
        deps.pool,
        { username: body.username, password: body.password, from: request.ip },
        deps.loginThrottle,
      );
      // A fresh session id at sign-in: a session id planted before it is worth nothing after.
      await request.session.regenerate();
      request.session.username = user.username;
      return reply.header('X-CSRF-Token', reply.generateCsrf()).code(204).send();
    },
  );

  app.get('/api/v1/session', { config: { access: 'read' } }, async (request, reply) => {
    const user = signedIn(request);
    if (user.via === 'session') reply.header('X-CSRF-Token', reply.generateCsrf());
    return reply.send({ username: user.username, role: user.role, via: user.via });
  });

  app.delete('/api/v1/session', { config: { access: 'read' } }, async (request, reply) => {
    const user = signedIn(request);
    if (user.via !== 'session') throw new AccessError('bad_request', 'a personal token has no session to end');
    await request.session.destroy();
    await recordLogout(deps.pool, user);
    return reply.clearCookie(SESSION_COOKIE, { path: '/' }).code(204).send();
  });

  app.get('/api/v1/exceptions', { config: { access: 'read' } }, async (request) => {
    const query = ExceptionListQuerySchema.parse(request.query);
    const page = await exceptionPage(deps.pool, {
      status: query.status === 'open' ? 'waiting' : query.status,
      ...(query.kind ? { kind: query.kind } : {}),
      ...(query.customer ? { customerId: query.customer } : {}),
      sort: query.sort,
      limit: query.limit,
      offset: query.offset,
    });
    return {
      ...page,
      exceptions: page.exceptions.map((exception) => ({ ...exception, temporalUrl: link(exception.workflowId) })),
    };
  });

  app.get<{ Params: { id: string } }>('/api/v1/exceptions/:id', { config: { access: 'read' } }, async (request) => {
    const detail = await exceptionDetail(deps.pool, request.params.id);
    if (detail === undefined) throw new AccessError('not_found', `no exception ${request.params.id}`);
    return { ...detail, temporalUrl: link(detail.exception.workflowId) };
  });

  app.post<{ Params: { id: string } }>(
    '/api/v1/exceptions/:id/decisions',
    // Any signed-in user reaches the handler: the decision path checks the role itself and audits a refusal.
    { config: { access: 'read' } },
    async (request) => {
      const body = DecisionRequestSchema.parse(request.body);
      return decideException(deps, signedIn(request), request.params.id, body);
    },
  );

  app.get('/api/v1/invoices', { config: { access: 'read' } }, async (request) => {
    const query = InvoiceListQuerySchema.parse(request.query);
    const [afterPeriod, afterCustomer] = query.after?.split('|', 2) ?? [];
    const page = await invoicePage(deps.pool, {
      ...(query.customer ? { customerId: query.customer } : {}),
      ...(query.period ? { period: query.period } : {}),
      ...(query.status ? { status: query.status } : {}),
      ...(afterPeriod && afterCustomer ? { after: { period: afterPeriod, customerId: afterCustomer } } : {}),
      limit: query.limit,
    });
    return { invoices: page.invoices, next: page.next ? `${page.next.period}|${page.next.customerId}` : null };
  });

  app.get<{ Params: { id: string } }>('/api/v1/invoices/:id', { config: { access: 'read' } }, async (request) => {
    const detail = await invoiceDetail(deps, request.params.id);
    if (detail === undefined) throw new AccessError('not_found', `no invoice ${request.params.id}`);
    return { ...detail, temporalUrl: link(detail.workflowId) };
  });

  app.get('/api/v1/ops', { config: { access: 'read' } }, async () =>
    opsOverview(deps.pool, deps.ingestLag ? { ingestLag: deps.ingestLag } : {}),
  );

  // The executive and account views (SPEC §9–10): read models of finops/, the same as the pages show.
  app.get('/api/v1/executive', { config: { access: 'read' } }, async () =>
    executiveView(deps.pool, { today: new Date().toISOString().slice(0, 10), sources: await finopsSourcesOf(deps) }),
  );

  app.get<{ Params: { customerId: string } }>(
    '/api/v1/accounts/:customerId',
    { config: { access: 'read' } },
    async (request) => {
      const view = await accountView(deps.pool, {
        customerId: request.params.customerId,
        asOf: new Date().toISOString(),
        sources: await finopsSourcesOf(deps),
      });
      if (view === undefined) throw new AccessError('not_found', `no account ${request.params.customerId}`);
      return view;
    },
  );

  app.get('/api/v1/shadow/runs', { config: { access: 'read' } }, async (request) => {
    const query = ShadowRunListQuerySchema.parse(request.query);
    return {
      runs: await listShadowRuns(deps.pool, {
        ...(query.source ? { source: query.source } : {}),
        ...(query.period ? { period: query.period } : {}),
      }),
    };
  });

  app.get('/api/v1/backfills', { config: { access: 'read' } }, async (request) => ({
    backfills: await listBackfillPlans(deps.pool, BackfillListQuerySchema.parse(request.query).limit),
  }));

  app.get('/api/v1/audit', { config: { access: 'read' } }, async (request) => {
    const query = AuditListQuerySchema.parse(request.query);
    return {
      entries: await listAuditEntries(deps.pool, {
        ...(query.before ? { beforeSeq: query.before } : {}),
        ...(query.actor ? { actor: query.actor } : {}),
        ...(query.action ? { action: query.action } : {}),
        ...(query.subject ? { subject: query.subject } : {}),
        limit: query.limit,
      }),
    };
  });

  app.get('/api/v1/audit/verify', { config: { access: 'read' } }, async () => verifyAuditLog(deps.pool));

  /** The whole log, oldest first, streamed a page at a time (no retention cap: it may be long). */
  app.get<{ Querystring: { format?: string } }>(
    '/api/v1/audit/export',
    { config: { access: 'read' } },
    async (request, reply) => {
      const format = request.query.format ?? 'jsonl';
      if (format !== 'jsonl' && format !== 'csv') throw new AccessError('bad_request', 'format is jsonl or csv');
      const user = signedIn(request);
      await recordAudit(deps.pool, {
        actor: auditActorOf(user),
        action: 'audit_exported',
        subject: 'audit_log',
        details: { format },
      });
      reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('Content-Disposition', `attachment; filename="tally-audit.${format}"`);
      return reply.send(Readable.from(auditExportLines(deps.pool, format)));
    },
  );

  app.get('/api/v1/users', { config: { access: 'manage_users' } }, async () => ({ users: await listUsers(deps.pool) }));

  app.post('/api/v1/users', { config: { access: 'manage_users' } }, async (request, reply) => {
    const body = AddUserRequestSchema.parse(request.body);
    const added = await addUser(deps.pool, { user: signedIn(request) }, body);
    return reply.code(201).send({
      username: added.username,
      role: added.role,
      ...(added.generatedPassword ? { password: added.generatedPassword } : {}),
    });
  });

  app.post<{ Params: { name: string } }>(
    '/api/v1/users/:name/disable',
    { config: { access: 'manage_users' } },
    async (request, reply) => {
      await disableUser(deps.pool, { user: signedIn(request) }, request.params.name);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { name: string } }>(
    '/api/v1/users/:name/unlock',
    { config: { access: 'manage_users' } },
    async (request, reply) => {
      await unlockUser(deps.pool, { user: signedIn(request) }, request.params.name);
      return reply.code(204).send();
    },
  );
}

/** The user the access hook (server.ts) has already required for every non-public route. */
function signedIn(request: FastifyRequest): AuthenticatedUser {
  if (request.user === undefined) throw new AccessError('unauthenticated', 'sign in first');
  return request.user;
}
