import { html, jsonData } from '../html.ts';
import { opsOverview, SILENT_AFTER_HOURS } from '../../views/ops-overview.ts';
import { CHART_SCRIPT, chartCanvas } from './charts.ts';
import { ageSince, instant, money, statusBadge } from './format.ts';
import { externalLink, workflowListLinkOf } from './links.ts';
import type { ConsolePage } from './page.ts';

export const opsPage: ConsolePage = {
  path: '/ops',
  permission: 'read',
  nav: { label: 'Ops', href: '/ops' },
  async render({ deps }) {
    const ops = await opsOverview(deps.pool, deps.ingestLag ? { ingestLag: deps.ingestLag } : {});
    const lag = ops.meters.ingestLag;
    const waitingLink = workflowListLinkOf(deps, 'ExecutionStatus="Running"');
    const failedLink = workflowListLinkOf(deps, 'ExecutionStatus="Failed"');
    return {
      title: 'Operations',
      scripts: [CHART_SCRIPT],
      body: html` <p>
          As of ${instant(ops.generatedAt)}. ${externalLink(waitingLink, 'Running workflows in Temporal')}
          ${externalLink(failedLink, 'Failed workflows in Temporal')}
        </p>
        <section class="card" aria-labelledby="meters-heading">
          <h2 id="meters-heading">Meter health</h2>
          <dl class="facts">
            <dt>Events per second (last 5 min)</dt>
            <dd id="events-per-second">${ops.meters.eventsPerSecond}</dd>
            <dt>Last event received</dt>
            <dd>
              ${instant(ops.meters.lastReceivedAt)}${ops.meters.lastReceivedAt ? ` (${ageSince(ops.meters.lastReceivedAt)} ago)` : ''}
            </dd>
            <dt>Ingest lag</dt>
            <dd>
              ${lag === undefined ? 'unknown (JetStream not reachable from the console)' : `${lag.pending} messages waiting, ${lag.ackPending} being stored; everything received before ${lag.committedBefore ?? '?'} is committed`}
            </dd>
          </dl>
          ${jsonData('events-per-minute', ops.meters.eventsPerMinute)}
          <h3>Events received per minute, last hour</h3>
          ${chartCanvas({ kind: 'events-per-minute', label: 'Events received per minute over the last hour' })}
          ${jsonData('rejects-per-hour', ops.meters.rejectsPerHour)}
          <h3>Rejected events by reason, last 24 hours</h3>
          ${
            ops.meters.rejectsPerHour.length === 0
              ? html`<p>No rejections.</p>`
              : html`${chartCanvas({ kind: 'rejects-per-hour', label: 'Rejected events per hour by reason' })}
                  <details>
                    <summary>As a table</summary>
                    <table class="data compact">
                      <thead>
                        <tr>
                          <th scope="col">Hour</th>
                          <th scope="col">Reason</th>
                          <th scope="col" class="num">Events</th>
                        </tr>
                      </thead>
                      <tbody>
                        ${ops.meters.rejectsPerHour.map(
                          (row) =>
                            html`<tr>
                              <td>${instant(row.hour)}</td>
                              <td>${row.reason}</td>
                              <td class="num">${row.events}</td>
                            </tr>`,
                        )}
                      </tbody>
                    </table>
                  </details>`
          }
          <h3>Meters gone silent (no usage for ${SILENT_AFTER_HOURS} h)</h3>
          ${
            ops.meters.silent.length === 0
              ? html`<p>None.</p>`
              : html`<table class="data compact">
                  <thead>
                    <tr>
                      <th scope="col">Customer</th>
                      <th scope="col">SKU</th>
                      <th scope="col">Last usage</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${ops.meters.silent.map(
                      (meter) =>
                        html`<tr>
                          <td>${meter.customerId}</td>
                          <td>${meter.sku}</td>
                          <td>${instant(meter.lastSeenAt)} (${ageSince(meter.lastSeenAt)} ago)</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>
        <section class="card" aria-labelledby="rating-heading">
          <h2 id="rating-heading">Rating errors and unpriced usage</h2>
          ${
            ops.ratingErrors.length === 0
              ? html`<p>No rating or sync exceptions waiting.</p>`
              : html`<ul>
                  ${ops.ratingErrors.map((exception) => html`<li><a href="/exceptions/${encodeURIComponent(exception.exceptionId)}">${exception.exceptionId}</a> ${exception.kind} ${statusBadge(exception.status)}: ${exception.breaches.map((breach) => breach.detail).join('; ')}</li>`)}
                </ul>`
          }
          ${
            ops.unpriced.length === 0
              ? html`<p>No unpriced usage in the latest periods.</p>`
              : html`<table class="data compact">
                  <thead>
                    <tr>
                      <th scope="col">Invoice</th>
                      <th scope="col">Unpriced</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${ops.unpriced.map(
                      (row) =>
                        html`<tr>
                          <td><a href="/invoices/${encodeURIComponent(row.invoiceId)}">${row.invoiceId}</a></td>
                          <td>
                            ${row.unpriced.map((item) => `${item.sku} (${item.unit}) ${item.event_count} events`).join('; ')}
                          </td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>
        <section class="card" aria-labelledby="aging-heading">
          <h2 id="aging-heading">Exception aging</h2>
          ${
            ops.aging.length === 0
              ? html`<p>Nothing waiting.</p>`
              : html`<table class="data">
                  <thead>
                    <tr>
                      <th scope="col">Kind</th>
                      <th scope="col" class="num">&lt; 1 d</th>
                      <th scope="col" class="num">1–3 d</th>
                      <th scope="col" class="num">3–7 d</th>
                      <th scope="col" class="num">&gt; 7 d</th>
                      <th scope="col" class="num">Escalated</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${ops.aging.map(
                      (row) =>
                        html`<tr>
                          <td><a href="/exceptions?kind=${encodeURIComponent(row.kind)}">${row.kind}</a></td>
                          <td class="num">${row.under1d}</td>
                          <td class="num">${row.d1to3}</td>
                          <td class="num">${row.d3to7}</td>
                          <td class="num">${row.over7d}</td>
                          <td class="num">${row.escalated}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>
        <section class="card" aria-labelledby="recon-heading">
          <h2 id="recon-heading">Provider sync and reconciliation: usage → invoice → GL</h2>
          ${
            ops.reconciliation.length === 0
              ? html`<p>No invoices yet.</p>`
              : html`<table class="data" id="reconciliation">
                  <thead>
                    <tr>
                      <th scope="col">Period</th>
                      <th scope="col">Currency</th>
                      <th scope="col" class="num">Invoices</th>
                      <th scope="col" class="num">Issued</th>
                      <th scope="col" class="num">Synced</th>
                      <th scope="col" class="num">Journaled</th>
                      <th scope="col" class="num">Held / draft</th>
                      <th
                        scope="col"
                        class="num"
                        title="held drafts a re-run voided: kept, never billed, not among the invoices"
                      >
                        Voided
                      </th>
                      <th scope="col" class="num">Skipped / legacy</th>
                      <th scope="col" class="num">Events stored</th>
                      <th scope="col" class="num">On invoices</th>
                      <th scope="col" class="num">Late, adjusted</th>
                      <th scope="col" class="num">Skipped / legacy events</th>
                      <th scope="col" class="num">Not yet billed</th>
                      <th scope="col" class="num">Usage billed</th>
                      <th scope="col" class="num">Usage revenue posted</th>
                      <th scope="col" class="num">Difference</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${ops.reconciliation.map(
                      (row) =>
                        html`<tr>
                          <td>${row.period}</td>
                          <td>${row.currency}</td>
                          <td class="num">${row.invoices}</td>
                          <td class="num">${row.issued}</td>
                          <td class="num${row.synced < row.issued ? ' warning' : ''}">${row.synced}</td>
                          <td class="num${row.journaled < row.issued ? ' warning' : ''}">${row.journaled}</td>
                          <td class="num">${row.held} / ${row.drafts}</td>
                          <td class="num">${row.voided}</td>
                          <td class="num">${row.skipped} / ${row.legacy}</td>
                          <td class="num">${row.eventsStored}</td>
                          <td class="num">${row.eventsInvoiced}</td>
                          <td class="num">${row.eventsLateAdjusted}</td>
                          <td class="num">${row.eventsSkippedOrLegacy}</td>
                          <td class="num">${row.eventsUnaccounted}</td>
                          <td class="num">${money(row.usageBilled, row.currency)}</td>
                          <td class="num">${money(row.usageRevenuePosted, row.currency)}</td>
                          <td class="num${row.usageDifference === '0' ? ' ok' : ' warning'}">
                            ${money(row.usageDifference, row.currency)}
                          </td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>`,
    };
  },
};
