import type { FastifyInstance } from 'fastify';
import type { AuthenticatedUser } from '../access/index.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { html, type SafeHtml } from './html.ts';
import { PAGES } from './pages/index.ts';
import { layout } from './pages/layout.ts';
import { loginBody, safeNext } from './pages/login-page.ts';

/** One GET route per page of `pages/index.ts`, each rendered in the shared shell. */
export function registerPageRoutes(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/', { config: { access: 'read', page: true } }, async (_request, reply) => reply.redirect('/exceptions'));

  app.get<{ Querystring: { next?: string } }>('/login', { config: { access: 'public' } }, async (request, reply) => {
    const next = safeNext(request.query.next);
    if (request.user !== undefined) return reply.redirect(next);
    return reply.type('text/html; charset=utf-8').send(
      layout({
        title: 'Sign in',
        body: loginBody(next),
        user: undefined,
        csrfToken: undefined,
        pages: PAGES,
        currentPath: '/login',
      }).text,
    );
  });

  for (const page of PAGES) {
    app.get<{ Params: Record<string, string>; Querystring: Record<string, string | undefined> }>(
      page.path,
      { config: { access: page.permission, page: true } },
      async (request, reply) => {
        const user = request.user as AuthenticatedUser;
        const view = await page.render({ deps, user, params: request.params, query: request.query });
        if (view === undefined)
          return reply
            .code(404)
            .type('text/html; charset=utf-8')
            .send(renderErrorPage(user, 404, 'Not found.').text);
        const csrfToken = user.via === 'session' ? reply.generateCsrf() : undefined;
        return reply.type('text/html; charset=utf-8').send(
          layout({
            title: view.title,
            body: view.body,
            user,
            csrfToken,
            pages: PAGES,
            currentPath: request.url.split('?')[0] ?? '/',
            ...(view.scripts ? { scripts: view.scripts } : {}),
          }).text,
        );
      },
    );
  }
}

export function renderErrorPage(user: AuthenticatedUser | undefined, status: number, message: string): SafeHtml {
  const title = status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : status === 401 ? 'Sign in' : 'Error';
  return layout({
    title,
    body: html`<p class="error" id="error-message">${message}</p>
      <p><a href="/">Back to the console</a></p>`,
    user,
    csrfToken: undefined,
    pages: PAGES,
    currentPath: '',
  });
}
