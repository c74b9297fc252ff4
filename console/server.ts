import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrfProtection from '@fastify/csrf-protection';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySession from '@fastify/session';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { AccessError, authenticateToken, userOfSession, type AuthenticatedUser } from '../access/index.ts';
import { chartJsDistDir, consoleAssetsDir } from '../config/paths.ts';
import { settingOrInsert } from '../db/queries/console-accounts.ts';
import { mayAct, type Permission } from '../domain/access/roles.ts';
import { registerApiRoutes } from './api-routes.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { registerPageRoutes, renderErrorPage } from './page-routes.ts';
import { PostgresSessionStore, SESSION_COOKIE } from './session-store.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user (session cookie or personal token), resolved before any handler. */
    user: AuthenticatedUser | undefined;
  }
  interface FastifyContextConfig {
    /** Who may call the route: `public`, or a permission (domain/access/roles.ts). */
    access?: 'public' | Permission;
    /** A page: without a session it redirects to the sign-in page instead of answering 401. */
    page?: boolean;
  }
}

declare module '@fastify/session' {
  interface FastifySessionObject {
    username?: string;
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The billing-ops console: the JSON API under /api/v1 and the pages, over the same Postgres and
 * Temporal as the workers. Built from plugins of one framework (fastify): cookies, server-side
 * sessions in Postgres, CSRF tokens bound to the session, per-address login rate limits, static
 * files. Every route declares who may call it (`config.access`); one hook enforces it.
 */
export async function createConsoleServer(deps: ConsoleDeps): Promise<FastifyInstance> {
  // Warnings and errors only (one JSON line each, on stderr): request logs would drown the failures.
  const app = Fastify({
    logger: { level: 'warn', stream: deps.logStream ?? process.stderr },
    bodyLimit: 64 * 1024,
    trustProxy: false,
  });
  const secret =
    deps.settings.sessionSecret ??
    (await settingOrInsert(deps.pool, 'session_secret', randomBytes(32).toString('hex')));

  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret,
    cookieName: SESSION_COOKIE,
    cookie: {
      httpOnly: true,
      sameSite: 'strict',
      secure: deps.settings.secureCookie,
      path: '/',
      maxAge: deps.settings.sessionTtlMs,
    },
    store: new PostgresSessionStore(deps.pool, deps.settings.sessionTtlMs),
    saveUninitialized: false,
    rolling: false,
  });
  await app.register(fastifyCsrfProtection, {
    sessionPlugin: '@fastify/session',
    // SPEC §9: the token travels in the X-CSRF-Token header, never in a form field or the URL.
    getToken: (request) => {
      const header = request.headers['x-csrf-token'];
      return Array.isArray(header) ? header[0] : header;
    },
  });
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: { code: 'rate_limited', message: `too many requests: try again in ${Math.ceil(context.ttl / 1000)} s` },
    }),
  });
  await app.register(fastifyStatic, {
    root: consoleAssetsDir,
    prefix: '/assets/',
    index: false,
    maxAge: '1h',
  });
  await app.register(fastifyStatic, {
    root: chartJsDistDir,
    prefix: '/assets/vendor/',
    decorateReply: false,
    index: false,
    maxAge: '1d',
    allowedPath: (pathName) => pathName === '/chart.umd.min.js',
  });

  app.decorateRequest('user', undefined);
  app.addHook('onRequest', async (request) => {
    request.user = await resolveUser(deps, request);
  });
  app.addHook('preHandler', async (request, reply) => {
    await enforceAccess(request, reply);
  });
  // Every state-changing route made with the session cookie needs the session's CSRF token in the
  // X-CSRF-Token header (403 otherwise). A personal token is never sent by a browser on its own, so
  // a request carrying one needs none. Sign-in is public: it has no session yet.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((method) => STATE_CHANGING.has(method)) || route.config?.access === 'public') return;
    const csrf = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
      if (request.user?.via !== 'session') return done();
      app.csrfProtection(request, reply, done);
    };
    const existing =
      route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    route.preHandler = [...existing, csrf];
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'same-origin');
    reply.header('X-Frame-Options', 'DENY');
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    return payload;
  });

  app.setErrorHandler(async (error, request, reply) => {
    const { status, code, message, retryAfterMs } = describeError(error);
    if (status >= 500) request.log.error(error);
    if (retryAfterMs !== undefined) reply.header('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    if (isApi(request)) return reply.code(status).send({ error: { code, message } });
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(renderErrorPage(request.user, status, message).text);
  });
  app.setNotFoundHandler(async (request, reply) => {
    if (isApi(request))
      return reply
        .code(404)
        .send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } });
    return reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send(renderErrorPage(request.user, 404, 'No such page.').text);
  });

  app.get('/healthz', { config: { access: 'public' } }, async (_request, reply) => {
    await deps.pool.query('SELECT 1');
    return reply.send({ status: 'ok' });
  });
  registerApiRoutes(app, deps);
  registerPageRoutes(app, deps);
  return app;
}

async function resolveUser(deps: ConsoleDeps, request: FastifyRequest): Promise<AuthenticatedUser | undefined> {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (match === null) throw new AccessError('unauthenticated', 'Authorization must be "Bearer <personal token>"');
    return authenticateToken(deps.pool, match[1] as string);
  }
  const username = request.session?.username;
  return username === undefined ? undefined : userOfSession(deps.pool, username);
}

/**
 * The one access check: public routes pass; everyone else needs a user (401, or the sign-in page for
 * pages), then the route's permission (403). The CSRF check follows (see `onRoute` above).
 */
async function enforceAccess(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const access = request.routeOptions.config.access;
  if (access === undefined) {
    // Static files and the not-found answer are public; any other route must say who may call it.
    if (request.is404 || request.routeOptions.url?.startsWith('/assets/')) return;
    throw new Error(`route ${request.routeOptions.url ?? request.url} declares no access`);
  }
  if (access === 'public') return;
  const user = request.user;
  if (user === undefined) {
    if (request.routeOptions.config.page === true && request.method === 'GET')
      return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`);
    throw new AccessError('unauthenticated', 'sign in first (POST /api/v1/session) or send a personal token');
  }
  if (access !== 'read' && !mayAct(user.role, access))
    throw new AccessError('forbidden', `${user.username} (${user.role}) may not do this`);
}

function isApi(request: FastifyRequest): boolean {
  return request.url.startsWith('/api/');
}

function describeError(error: unknown): { status: number; code: string; message: string; retryAfterMs?: number } {
  if (error instanceof AccessError)
    return {
      status: error.status,
      code: error.code,
      message: error.message,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
  if (error instanceof ZodError)
    return {
      status: 400,
      code: 'bad_request',
      message: error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; '),
    };
  const fastifyCode = (error as { code?: unknown }).code;
  if (fastifyCode === 'FST_CSRF_MISSING_SECRET' || fastifyCode === 'FST_CSRF_INVALID_TOKEN')
    return {
      status: 403,
      code: 'csrf_invalid',
      message: 'this request needs the X-CSRF-Token header returned at sign-in (missing or not of this session)',
    };
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  if (typeof statusCode === 'number' && statusCode === 429) {
    const body = (error as { error?: { code: string; message: string } }).error;
    return { status: 429, code: body?.code ?? 'rate_limited', message: body?.message ?? 'too many requests' };
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500)
    return { status: statusCode, code: 'bad_request', message: (error as Error).message };
  return { status: 500, code: 'internal', message: 'the console failed to answer; the error is in its log' };
}
