import { ExceptionListQuerySchema } from '../../contracts/console-api.ts';
import type { AdjustDecision, StoredDecision } from '../../contracts/review-decision.ts';
import { listAuditEntries } from '../../db/queries/audit-log.ts';
import { exceptionPage } from '../../db/queries/console-views.ts';
import { mayAct } from '../../domain/access/roles.ts';
import type { ReviewExceptionRecord } from '../../db/queries/review-exceptions.ts';
import { assertNever } from '../../domain/assert-never.ts';
import { exceptionDetail, type UsageByDay } from '../../views/exception-detail.ts';
import { html, jsonData, type SafeHtml } from '../html.ts';
import { externalLink, workflowLinkOf } from './links.ts';
import { ageSince, instant, money, queryString, statusBadge } from './format.ts';
import type { ConsolePage, PageContext } from './page.ts';
import { invoiceLinesTable, invoiceSummaryTable } from './invoice-pages.ts';
import { CHART_SCRIPT, chartCanvas } from './charts.ts';
import { shadowCustomerHref, shadowLineDiffTable } from './shadow-pages.ts';

export const exceptionsQueuePage: ConsolePage = {
  path: '/exceptions',
  permission: 'read',
  nav: { label: 'Exceptions', href: '/exceptions' },
  async render({ deps, query }) {
    const filter = ExceptionListQuerySchema.parse(query);
    const status = filter.status === 'open' ? 'waiting' : filter.status;
    const page = await exceptionPage(deps.pool, {
      status,
      ...(filter.kind ? { kind: filter.kind } : {}),
      ...(filter.customer ? { customerId: filter.customer } : {}),
      sort: filter.sort,
      limit: filter.limit,
      offset: filter.offset,
    });
    const now = Date.now();
    const link = (offset: number) =>
      `/exceptions${queryString({ status: filter.status, kind: filter.kind, customer: filter.customer, sort: filter.sort, offset })}`;
    const option = (value: string, label: string, selected: string | undefined) =>
      html`<option value="${value}" ${value === selected ? html` selected` : ''}>${label}</option>`;
    return {
      title: 'Exceptions',
      body: html` <form class="filters" method="get" action="/exceptions" aria-label="Filter exceptions">
          <label
            >Status
            <select name="status">
              ${option('open', 'waiting (open or escalated)', filter.status)}${option('escalated', 'escalated', filter.status)}
              ${option('approved', 'approved', filter.status)}${option('rejected', 'rejected', filter.status)}
              ${option('adjusted', 'adjusted', filter.status)}${option('all', 'all', filter.status)}
            </select></label
          >
          <label
            >Kind
            <select name="kind">
              ${option('', 'any', filter.kind ?? '')}
              ${page.byKind.map((kind) => option(kind.kind, `${kind.kind} (${kind.waiting} waiting)`, filter.kind))}
            </select></label
          >
          <label>Customer <input name="customer" value="${filter.customer ?? ''}" size="16" /></label>
          <label
            >Order
            <select name="sort">
              ${option('priority', 'escalated first, oldest, largest', filter.sort)}
              ${option('age', 'oldest first', filter.sort)}${option('amount', 'largest first', filter.sort)}
            </select></label
          >
          <button type="submit">Show</button>
        </form>
        <p class="summary">
          ${page.total}
          exception${page.total === 1 ? '' : 's'}${page.total > 0 ? `, showing ${filter.offset + 1}–${filter.offset + page.exceptions.length}` : ''}.
        </p>
        <table class="data" aria-label="Exceptions">
          <thead>
            <tr>
              <th scope="col">Exception</th>
              <th scope="col">Customer</th>
              <th scope="col">Period</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Age</th>
              <th scope="col" class="num">Amount</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            ${page.exceptions.map(
              (exception) =>
                html`<tr>
                  <td>
                    <a href="/exceptions/${encodeURIComponent(exception.exceptionId)}">${exception.exceptionId}</a>
                  </td>
                  <td>
                    <a href="/invoices${queryString({ customer: exception.customerId })}">${exception.customerId}</a>
                  </td>
                  <td>${exception.period}</td>
                  <td>${exception.kind}</td>
                  <td>${statusBadge(exception.status)}</td>
                  <td>${ageSince(exception.openedAt, now)}</td>
                  <td class="num">${money(exception.amount, exception.currency)}</td>
                  <td>${exception.breaches.map((breach) => breach.rule).join(', ')}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
          ${filter.offset > 0 ? html`<a href="${link(Math.max(0, filter.offset - filter.limit))}" rel="prev">← Previous</a>` : ''}
          ${filter.offset + page.exceptions.length < page.total ? html`<a href="${link(filter.offset + filter.limit)}" rel="next">Next →</a>` : ''}
        </nav>`,
    };
  },
};

/** What the exception's kind carries for the reviewer: the draft, both billers, both sides, the records. */
function kindSections(exception: ReviewExceptionRecord): SafeHtml {
  switch (exception.kind) {
    case 'threshold':
    case 'provider_sync_failed':
    case 'unpublished_ratecard':
    case 'unknown_customer':
    case 'step_failed':
    case 'ingest_lagging':
      return exception.context.draft
        ? html`<section class="card" aria-labelledby="draft-heading">
            <h2 id="draft-heading">Draft invoice</h2>
            ${invoiceLinesTable(exception.context.draft)}
          </section>`
        : html``;
    case 'shadow_variance':
      return html`<section class="card" aria-labelledby="shadow-heading">
        <h2 id="shadow-heading">Legacy biller vs Tally</h2>
        <p>
          <a href="${shadowCustomerHref(exception.context.shadowRun, exception.customerId)}"
            >In shadow run ${exception.context.shadowRun}</a
          >
        </p>
        ${shadowLineDiffTable(exception.context.comparison)}
      </section>`;
    case 'reconciliation': {
      const difference = exception.context.reconciliation;
      return html`<section class="card" aria-labelledby="reconciliation-heading">
        <h2 id="reconciliation-heading">Both sides</h2>
        <table>
          <thead>
            <tr>
              <th>Stage</th>
              <th>SKU</th>
              <th>Currency</th>
              <th class="num">Expected</th>
              <th class="num">Actual</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>${difference.stage}</td>
              <td>${difference.sku ?? '—'}</td>
              <td>${difference.currency}</td>
              <td class="num">${money(difference.expected, difference.currency)}</td>
              <td class="num">${money(difference.actual, difference.currency)}</td>
            </tr>
          </tbody>
        </table>
      </section>`;
    }
    case 'marketplace_over_report':
      return html`<section class="card" aria-labelledby="marketplace-heading">
        <h2 id="marketplace-heading">Over-reported to ${exception.context.overReport.marketplace}</h2>
        <p>
          ${exception.context.overReport.listingQuantity} ${exception.context.overReport.dimension} in
          ${exception.context.overReport.hour}; refund
          ${
            exception.context.overReport.refundAmount === null
              ? 'amount unknown'
              : money(exception.context.overReport.refundAmount, exception.context.overReport.currency ?? '')
          }
        </p>
      </section>`;
    case 'marketplace_window_at_risk':
    case 'marketplace_report_failed':
      return html`<section class="card" aria-labelledby="marketplace-heading">
        <h2 id="marketplace-heading">${exception.context.marketplace} records</h2>
        <table>
          <thead>
            <tr>
              <th>Bucket</th>
              <th>Dimension</th>
              <th>Hour</th>
              <th class="num">Quantity</th>
            </tr>
          </thead>
          <tbody>
            ${exception.context.records.map(
              (record) =>
                html`<tr>
                  <td>${record.bucketId}</td>
                  <td>${record.dimension}</td>
                  <td>${record.hour}</td>
                  <td class="num">${record.sentQuantity}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>`;
    default:
      return assertNever(exception);
  }
}

export const exceptionDetailPage: ConsolePage = {
  path: '/exceptions/:id',
  permission: 'read',
  async render(context) {
    const { deps, params } = context;
    const id = params.id ?? '';
    const detail = await exceptionDetail(deps.pool, id);
    if (detail === undefined) return undefined;
    const { exception } = detail;
    const contract = 'contract' in exception.context ? exception.context.contract : undefined;
    // The currency of an adjust's amount: the draft's (the invoice's), else the contract's.
    const draft = 'draft' in exception.context ? exception.context.draft : undefined;
    const currency = draft?.currency ?? contract?.currency;
    const waiting = exception.status === 'open' || exception.status === 'escalated';
    const audit = await listAuditEntries(deps.pool, { subject: `exception:${id}`, limit: 50 });
    return {
      title: `Exception ${exception.exceptionId}`,
      scripts: [CHART_SCRIPT],
      body: html` <section class="card" aria-labelledby="breach-heading">
          <h2 id="breach-heading">Why it stopped</h2>
          <dl class="facts">
            <dt>Status</dt>
            <dd>${statusBadge(exception.status)}</dd>
            <dt>Customer</dt>
            <dd>${exception.customerId}</dd>
            <dt>Period</dt>
            <dd>${exception.period}</dd>
            <dt>Kind</dt>
            <dd>${exception.kind}</dd>
            <dt>Invoice</dt>
            <dd>
              ${exception.invoiceId === null ? 'none yet (raised before the period was rated)' : html`<a href="/invoices/${encodeURIComponent(exception.invoiceId)}">${exception.invoiceId}</a>`}
            </dd>
            <dt>Opened</dt>
            <dd>${instant(exception.openedAt)} (${ageSince(exception.openedAt)} ago)</dd>
            ${
              exception.escalatedAt
                ? html`<dt>Escalated</dt>
                    <dd>${instant(exception.escalatedAt)}</dd>`
                : ''
            }
            <dt>Workflow</dt>
            <dd>
              <code>${exception.workflowId}</code>
              ${externalLink(workflowLinkOf(deps, exception.workflowId), 'open in Temporal')}
            </dd>
          </dl>
          <ul class="breaches">
            ${exception.breaches.map((breach) => html`<li><strong>${breach.rule}</strong>: ${breach.detail}</li>`)}
          </ul>
        </section>
        ${decisionSection(context, exception, waiting, currency)} ${kindSections(exception)}
        ${usageSection(detail.usageByDay)} ${contract ? contractSection(contract) : ''}
        <section class="card" aria-labelledby="invoices-heading">
          <h2 id="invoices-heading">Invoices of ${exception.customerId}</h2>
          ${invoiceSummaryTable(detail.invoices)}
        </section>
        <section class="card" aria-labelledby="decisions-heading">
          <h2 id="decisions-heading">Earlier exceptions and decisions</h2>
          ${
            detail.earlierExceptions.length === 0
              ? html`<p>None.</p>`
              : html`<table class="data">
                  <thead>
                    <tr>
                      <th scope="col">Exception</th>
                      <th scope="col">Period</th>
                      <th scope="col">Kind</th>
                      <th scope="col">Status</th>
                      <th scope="col">Reviewer</th>
                      <th scope="col">Decided</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${detail.earlierExceptions.map(
                      (other) =>
                        html`<tr>
                          <td>
                            <a href="/exceptions/${encodeURIComponent(other.exceptionId)}">${other.exceptionId}</a>
                          </td>
                          <td>${other.period}</td>
                          <td>${other.kind}</td>
                          <td>${statusBadge(other.status)}</td>
                          <td>${other.reviewer ?? '—'}</td>
                          <td>${instant(other.decidedAt)}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>
        <section class="card" aria-labelledby="audit-heading">
          <h2 id="audit-heading">Audit trail</h2>
          ${
            audit.length === 0
              ? html`<p>No actions recorded.</p>`
              : html`<ul>
                  ${audit.map((entry) => html`<li>${instant(entry.at)} <strong>${entry.actor.name}</strong> ${entry.action} ${JSON.stringify(entry.details)}</li>`)}
                </ul>`
          }
        </section>`,
    };
  },
};

function decisionSection(
  { user }: PageContext,
  exception: {
    exceptionId: string;
    status: string;
    reviewer?: string | undefined;
    decidedAt?: string | undefined;
    decision?: StoredDecision | undefined;
    proposal?: { decision: AdjustDecision; by: string; at: string } | undefined;
  },
  waiting: boolean,
  currency: string | undefined,
): SafeHtml {
  const proposed = exception.proposal;
  const proposedAmount = proposed?.decision.amount ?? '';
  const proposedReason = proposed?.decision.reason ?? '';
  const proposalNote =
    proposed === undefined
      ? ''
      : html`<p class="note" id="decision-proposal">
          Adjust <strong>${money(proposedAmount, currency)}</strong> proposed by <strong>${proposed.by}</strong> at
          ${instant(proposed.at)} (${proposedReason})
          ${waiting ? 'waits for a second, different reviewer: send the same adjust to confirm it, or reject.' : ''}
        </p>`;
  if (!waiting)
    return html`<section class="card" aria-labelledby="decision-heading">
      <h2 id="decision-heading">Decision</h2>
      <p>
        ${statusBadge(exception.status)} by <strong>${exception.reviewer ?? '?'}</strong> at
        ${instant(exception.decidedAt)}.
      </p>
      ${proposalNote} ${exception.decision ? html`<pre>${JSON.stringify(exception.decision, null, 2)}</pre>` : ''}
    </section>`;
  if (!mayAct(user.role, 'decide_exception'))
    return html`<section class="card" aria-labelledby="decision-heading">
      <h2 id="decision-heading">Decision</h2>
      <p class="note" id="decision-refusal">
        You are signed in as a ${user.role}: deciding exceptions needs the reviewer role.
      </p>
      ${proposalNote}
    </section>`;
  return html`<section class="card" aria-labelledby="decision-heading">
    <h2 id="decision-heading">Decide</h2>
    <p>Your decision is recorded under <strong>${user.username}</strong>.</p>
    ${proposalNote}
    <form id="decision-form" data-exception="${exception.exceptionId}">
      <fieldset>
        <legend>Decision</legend>
        ${
          proposed === undefined
            ? html`<label
                ><input type="radio" name="kind" value="approve" checked /> Approve: issue and sync the invoice</label
              >`
            : ''
        }
        <label><input type="radio" name="kind" value="reject" /> Reject: hold the invoice</label>
        <label
          ><input type="radio" name="kind" value="adjust" ${proposed === undefined ? '' : 'checked'} />
          ${proposed === undefined ? 'Adjust: add an adjustment line, then issue' : 'Confirm the proposed adjust'}</label
        >
      </fieldset>
      <p>
        <label for="decision-reason">Reason (required to reject or adjust)</label
        ><textarea id="decision-reason" name="reason" rows="2" cols="60">${proposedReason}</textarea>
      </p>
      <p>
        <label for="decision-amount">Adjustment amount (signed, invoice currency)</label
        ><input id="decision-amount" name="amount" inputmode="decimal" placeholder="-25.00" value="${proposedAmount}" />
      </p>
      <p><button type="submit">Record decision</button></p>
    </form>
  </section>`;
}

function usageSection(usage: UsageByDay): SafeHtml {
  if (usage.meters.length === 0)
    return html`<section class="card" aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage by day</h2>
      <p>No usage in ${usage.periods.join(', ')}.</p>
    </section>`;
  return html`<section class="card" aria-labelledby="usage-heading">
    <h2 id="usage-heading">Usage by day: ${usage.periods[0]} against the previous three periods</h2>
    ${jsonData('usage-by-day', usage)}
    <p>
      <label for="usage-meter">Meter</label>
      <select id="usage-meter">
        ${usage.meters.map((meter, index) => html`<option value="${index}">${meter.sku} (${meter.unit})</option>`)}
      </select>
    </p>
    ${chartCanvas({ kind: 'usage-by-day', id: 'usage-chart', label: 'Usage by day of month, one line per period' })}
    <details>
      <summary>The figures as a table</summary>
      ${usage.meters.map(
        (meter) =>
          html`<table class="data compact">
            <caption>
              ${meter.sku} (${meter.unit})
            </caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                ${meter.series.map((series) => html`<th scope="col" class="num">${series.period}</th>`)}
              </tr>
            </thead>
            <tbody>
              ${Array.from(
                { length: 31 },
                (_, day) =>
                  html`<tr>
                    <th scope="row">${day + 1}</th>
                    ${meter.series.map((series) => html`<td class="num">${series.quantities[day] ?? ''}</td>`)}
                  </tr>`,
              )}
            </tbody>
          </table>`,
      )}
    </details>
  </section>`;
}

/** The review rules whose value is an amount in the contract's currency (the others are percents and durations). */
const MONEY_REVIEW_RULES: ReadonlySet<string> = new Set([
  'total_above',
  'shadow_variance_abs',
  'adjustment_above',
  'dual_control_above',
]);

function contractSection(contract: Record<string, unknown>): SafeHtml {
  const terms = contract as {
    ratecard?: string;
    currency?: string;
    starts_at?: string;
    ends_at?: string;
    commit?: { amount: string };
    credits?: { id: string; kind: string; amount: string; expires_at?: string }[];
    review?: Record<string, string>;
    provider?: { kind: string; customer: string };
  };
  return html`<section class="card" aria-labelledby="contract-heading">
    <h2 id="contract-heading">Contract terms</h2>
    <dl class="facts">
      <dt>Rate card</dt>
      <dd>${terms.ratecard ?? '—'}</dd>
      <dt>Currency</dt>
      <dd>${terms.currency ?? '—'}</dd>
      <dt>Term</dt>
      <dd>${terms.starts_at ?? 'open'} → ${terms.ends_at ?? 'open'}</dd>
      <dt>Minimum commit</dt>
      <dd>${terms.commit ? money(terms.commit.amount, terms.currency) : 'none'}</dd>
      <dt>Credits</dt>
      <dd>
        ${(terms.credits ?? []).length === 0 ? 'none' : (terms.credits ?? []).map((credit, index) => html`${index === 0 ? '' : '; '}${credit.id} (${credit.kind}) ${money(credit.amount, terms.currency)}${credit.expires_at ? `, expires ${credit.expires_at}` : ''}`)}
      </dd>
      <dt>Review rules</dt>
      <dd>
        ${
          Object.keys(terms.review ?? {}).length === 0
            ? 'none'
            : Object.entries(terms.review ?? {}).map(
                ([rule, value], index) =>
                  html`${index === 0 ? '' : '; '}${rule}
                  ${MONEY_REVIEW_RULES.has(rule) ? money(value, terms.currency) : value}`,
              )
        }
      </dd>
      <dt>Provider</dt>
      <dd>${terms.provider ? `${terms.provider.kind} (${terms.provider.customer})` : '—'}</dd>
    </dl>
    <details>
      <summary>All terms as recorded with the exception</summary>
      <pre>${JSON.stringify(contract, null, 2)}</pre>
    </details>
  </section>`;
}
