import { AuditListQuerySchema } from '../../contracts/console-api.ts';
import { listAuditEntries } from '../../db/queries/audit-log.ts';
import { html } from '../html.ts';
import { instant, queryString } from './format.ts';
import type { ConsolePage } from './page.ts';

export const auditPage: ConsolePage = {
  path: '/audit',
  permission: 'read',
  nav: { label: 'Audit log', href: '/audit' },
  async render({ deps, query }) {
    const filter = AuditListQuerySchema.parse(query);
    const entries = await listAuditEntries(deps.pool, {
      ...(filter.before ? { beforeSeq: filter.before } : {}),
      ...(filter.actor ? { actor: filter.actor } : {}),
      ...(filter.action ? { action: filter.action } : {}),
      ...(filter.subject ? { subject: filter.subject } : {}),
      limit: filter.limit,
    });
    const last = entries.at(-1);
    return {
      title: 'Audit log',
      body: html` <p>
          Every action, append-only and hash-chained.
          <a href="/api/v1/audit/export?format=jsonl" download>Export (JSON Lines)</a> ·
          <a href="/api/v1/audit/export?format=csv" download>Export (CSV)</a> ·
          <button type="button" id="audit-verify">Verify the chain</button>
        </p>
        <p id="audit-verify-result" role="status" aria-live="polite"></p>
        <form class="filters" method="get" action="/audit" aria-label="Filter the audit log">
          <label>Actor <input name="actor" value="${filter.actor ?? ''}" size="14" /></label>
          <label>Action <input name="action" value="${filter.action ?? ''}" size="18" /></label>
          <label>Subject <input name="subject" value="${filter.subject ?? ''}" size="30" /></label>
          <button type="submit">Show</button>
        </form>
        <table class="data" aria-label="Audit entries">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Subject</th>
              <th scope="col">Details</th>
              <th scope="col">Hash</th>
            </tr>
          </thead>
          <tbody>
            ${entries.map(
              (entry) =>
                html`<tr>
                  <td>${entry.seq}</td>
                  <td>${instant(entry.at)}</td>
                  <td>${entry.actor.name}${entry.actor.kind === 'process' ? ' (process)' : ''}</td>
                  <td>${entry.action}</td>
                  <td>${entry.subject}</td>
                  <td><code>${JSON.stringify(entry.details)}</code></td>
                  <td><code title="${entry.hash}">${entry.hash.slice(0, 10)}</code></td>
                </tr>`,
            )}
          </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
          ${
            last && last.seq > 1
              ? html`<a
                  rel="next"
                  href="/audit${queryString({ actor: filter.actor, action: filter.action, subject: filter.subject, before: last.seq })}"
                  >Older →</a
                >`
              : ''
          }
        </nav>`,
    };
  },
};
