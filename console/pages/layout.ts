import type { AuthenticatedUser } from '../../access/index.ts';
import { mayAct } from '../../domain/access/roles.ts';
import { html, type SafeHtml } from '../html.ts';
import type { ConsolePage } from './page.ts';

/**
 * The shell every page shares: a skip link, the navigation (only the pages the user's role may
 * open), who is signed in with a sign-out button, and the page's main landmark. Keyboard use: every
 * control is a link, button or form field in reading order, with a visible focus ring (console.css).
 */
export function layout(input: {
  readonly title: string;
  readonly body: SafeHtml;
  readonly user: AuthenticatedUser | undefined;
  readonly csrfToken: string | undefined;
  readonly pages: readonly ConsolePage[];
  readonly currentPath: string;
  readonly scripts?: readonly string[];
}): SafeHtml {
  const navItems = input.pages.filter(
    (page) => page.nav !== undefined && input.user !== undefined && mayAct(input.user.role, page.permission),
  );
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${input.csrfToken ? html`<meta name="csrf-token" content="${input.csrfToken}" />` : ''}
        <title>${input.title} · Tally console</title>
        <link rel="stylesheet" href="/assets/console.css" />
        ${(input.scripts ?? []).map((script) => html`<script src="${script}" defer></script>`)}
        <script src="/assets/console.js" defer></script>
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <header class="shell">
          <a class="brand" href="/">Tally</a>
          ${
            input.user === undefined
              ? ''
              : html`<nav aria-label="Main">
                    <ul>
                      ${navItems.map((page) => {
                        const href = page.nav?.href ?? page.path;
                        const current = input.currentPath === href || input.currentPath.startsWith(`${href}/`);
                        return html`<li>
                          <a href="${href}" ${current ? html` aria-current="page"` : ''}>${page.nav?.label}</a>
                        </li>`;
                      })}
                    </ul>
                  </nav>
                  <div class="whoami">
                    <span>${input.user.username} <span class="role">(${input.user.role})</span></span>
                    <button type="button" id="sign-out">Sign out</button>
                  </div>`
          }
        </header>
        <main id="main" tabindex="-1">
          <h1>${input.title}</h1>
          <div id="flash" role="status" aria-live="polite"></div>
          ${input.body}
        </main>
      </body>
    </html>`;
}
