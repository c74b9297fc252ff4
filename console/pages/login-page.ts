import { html, type SafeHtml } from '../html.ts';

/** The sign-in form; console.js posts it to `POST /api/v1/session` and follows `next`. */
export function loginBody(next: string): SafeHtml {
  return html`<form id="login-form" class="card narrow" data-next="${next}">
    <p>
      <label for="username">Username</label
      ><input id="username" name="username" autocomplete="username" required autofocus />
    </p>
    <p>
      <label for="password">Password</label
      ><input id="password" name="password" type="password" autocomplete="current-password" required />
    </p>
    <p><button type="submit">Sign in</button></p>
  </form>`;
}

/** Only same-site paths are followed after sign-in (no open redirect). */
export function safeNext(next: string | undefined): string {
  if (next === undefined || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}
