import { InvoiceListQuerySchema } from '../../contracts/console-api.ts';
import type { Invoice } from '../../contracts/invoice.ts';
import type { InvoiceSummary } from '../../db/queries/console-views.ts';
import { invoicePage } from '../../db/queries/console-views.ts';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { html, type SafeHtml } from '../html.ts';
import { invoiceDetail, type InvoiceDetailView } from '../invoice-detail.ts';
import { instant, money, queryString, statusBadge } from './format.ts';
import { externalLink, workflowLinkOf } from './links.ts';
import type { ConsolePage } from './page.ts';

export const invoicesListPage: ConsolePage = {
  path: '/invoices',
  permission: 'read',
  nav: { label: 'Invoices', href: '/invoices' },
  async render({ deps, query }) {
    const filter = InvoiceListQuerySchema.parse(query);
    const [afterPeriod, afterCustomer] = filter.after?.split('|', 2) ?? [];
    const page = await invoicePage(deps.pool, {
      ...(filter.customer ? { customerId: filter.customer } : {}),
      ...(filter.period ? { period: filter.period } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(afterPeriod && afterCustomer ? { after: { period: afterPeriod, customerId: afterCustomer } } : {}),
      limit: filter.limit,
    });
    const option = (value: string, label: string) =>
      html`<option value="${value}" ${value === (filter.status ?? '') ? html` selected` : ''}>${label}</option>`;
    return {
      title: 'Invoices',
      body: html` <form class="filters" method="get" action="/invoices" aria-label="Filter invoices">
          <label>Customer <input name="customer" value="${filter.customer ?? ''}" size="16" /></label>
          <label
            >Period
            <input name="period" value="${filter.period ?? ''}" placeholder="YYYY-MM" size="8" pattern="\\d{4}-\\d{2}"
          /></label>
          <label
            >Status
            <select name="status">
              ${option('', 'any')}${option('issued', 'issued')}${option('draft', 'draft')}${option('held', 'held')}
            </select></label
          >
          <button type="submit">Show</button>
        </form>
        ${invoiceSummaryTable(page.invoices)}
        <nav class="pager" aria-label="Pages">
          ${filter.after ? html`<a href="/invoices${queryString({ customer: filter.customer, period: filter.period, status: filter.status })}">First page</a>` : ''}
          ${
            page.next
              ? html`<a
                  rel="next"
                  href="/invoices${queryString({
                    customer: filter.customer,
                    period: filter.period,
                    status: filter.status,
                    after: `${page.next.period}|${page.next.customerId}`,
                  })}"
                  >Next →</a
                >`
              : ''
          }
        </nav>`,
    };
  },
};

export function invoiceSummaryTable(invoices: readonly InvoiceSummary[]): SafeHtml {
  if (invoices.length === 0) return html`<p>No invoices.</p>`;
  return html`<table class="data" aria-label="Invoices">
    <thead>
      <tr>
        <th scope="col">Invoice</th>
        <th scope="col">Number</th>
        <th scope="col">Customer</th>
        <th scope="col">Period</th>
        <th scope="col">Status</th>
        <th scope="col" class="num">Subtotal</th>
        <th scope="col" class="num">Total</th>
        <th scope="col">Issued</th>
      </tr>
    </thead>
    <tbody>
      ${invoices.map(
        (invoice) =>
          html`<tr>
            <td><a href="/invoices/${encodeURIComponent(invoice.invoiceId)}">${invoice.invoiceId}</a></td>
            <td>${invoice.invoiceNumber ?? '—'}</td>
            <td>${invoice.customerId}</td>
            <td>${invoice.period}</td>
            <td>${statusBadge(invoice.status)}</td>
            <td class="num">${money(invoice.subtotal, invoice.currency)}</td>
            <td class="num">${money(invoice.total, invoice.currency)}</td>
            <td>${instant(invoice.issuedAt)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** Lines with their tier breakdowns, subtotal, total and unpriced usage (a draft or an issued invoice). */
export function invoiceLinesTable(document: Invoice): SafeHtml {
  return html`<table class="data invoice-lines">
      <thead>
        <tr>
          <th scope="col">Kind</th>
          <th scope="col">Line</th>
          <th scope="col" class="num">Quantity</th>
          <th scope="col" class="num">Amount</th>
        </tr>
      </thead>
      <tbody>
        ${document.lines.map((line) => {
          const label =
            line.kind === 'usage'
              ? `${line.price_id} (${line.sku}, ${line.event_count} events)`
              : line.kind === 'credit'
                ? `${line.credit_id} (${line.credit_kind})`
                : line.kind === 'adjustment'
                  ? `corrects ${line.corrects_period} (${line.corrects_invoice_id}): ${line.reason}`
                  : line.kind === 'commit_true_up'
                    ? `commit ${line.commit ?? ''}`
                    : line.kind === 'fee'
                      ? `${line.price_id}: ${line.description}`
                      : `${line.price_id}`;
          return html`<tr>
              <td>${line.kind}</td>
              <td>${label}</td>
              <td class="num">${line.kind === 'usage' ? `${line.billable_quantity} ${line.unit}` : ''}</td>
              <td class="num">${money(line.amount, document.currency)}</td>
            </tr>
            ${
              line.kind === 'usage'
                ? line.tiers.map(
                    (tier) =>
                      html`<tr class="tier">
                        <td></td>
                        <td>
                          tier
                          ${tier.tier}${tier.effective_from ? ` (prices of ${tier.effective_from.slice(0, 10)})` : ''}:
                          ${tier.quantity} ×
                          ${money(tier.unit_price, document.currency)}${tier.flat_fee ? html` + ${money(tier.flat_fee, document.currency)} flat` : ''}
                        </td>
                        <td class="num">${tier.quantity}</td>
                        <td class="num">${money(tier.amount, document.currency)}</td>
                      </tr>`,
                  )
                : ''
            }`;
        })}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row" colspan="3">Subtotal</th>
          <td class="num">${money(document.subtotal, document.currency)}</td>
        </tr>
        <tr>
          <th scope="row" colspan="3">Total</th>
          <td class="num"><strong>${money(document.total, document.currency)}</strong></td>
        </tr>
      </tfoot>
    </table>
    ${
      document.unpriced.length > 0
        ? html`<p class="warning">
            Unpriced usage (reported, not billed):
            ${document.unpriced.map((unpriced) => `${unpriced.sku} (${unpriced.unit}) ${unpriced.event_count} events`).join('; ')}
          </p>`
        : ''
    }`;
}

export const invoiceDetailPage: ConsolePage = {
  path: '/invoices/:id',
  permission: 'read',
  async render({ deps, params }) {
    const detail = await invoiceDetail(deps, params.id ?? '');
    if (detail === undefined) return undefined;
    const { invoice } = detail;
    const { document } = invoice;
    const issued = invoice.status === 'issued' ? invoice.document : undefined;
    return {
      title: `Invoice ${invoice.invoiceNumber ?? invoice.invoiceId}`,
      body: html` <section class="card" aria-labelledby="invoice-heading">
          <h2 id="invoice-heading">Summary</h2>
          <dl class="facts">
            <dt>Invoice</dt>
            <dd><code>${invoice.invoiceId}</code></dd>
            <dt>Status</dt>
            <dd>${statusBadge(invoice.status)}${invoice.heldReason ? ` (${invoice.heldReason})` : ''}</dd>
            <dt>Customer</dt>
            <dd><a href="/invoices${queryString({ customer: invoice.customerId })}">${invoice.customerId}</a></dd>
            <dt>Period</dt>
            <dd>${invoice.period} (${document.period_start} → ${document.period_end})</dd>
            <dt>Issued</dt>
            <dd>${instant(invoice.issuedAt)}</dd>
            <dt>Events received by</dt>
            <dd>${issued?.event_cutoff ?? '—'}</dd>
            <dt>Event-set fingerprint</dt>
            <dd><code>${issued?.event_fingerprint ?? '—'}</code></dd>
            <dt>Calculation</dt>
            <dd>${invoice.calculationVersion}</dd>
            <dt>Rate cards</dt>
            <dd>
              ${document.ratecard_versions.map((version) => html`${version.ratecard}@${version.effective_from} <code title="${version.content_hash}">${version.content_hash.slice(0, 12)}</code> `)}
            </dd>
            <dt>Workflow</dt>
            <dd>
              <code>${detail.workflowId}</code>
              ${externalLink(workflowLinkOf(deps, detail.workflowId), 'open in Temporal')}
            </dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="lines-heading">
          <h2 id="lines-heading">Lines</h2>
          ${invoiceLinesTable(document)}
        </section>
        ${lineageSection(detail, document.currency)}
        <section class="card" aria-labelledby="journal-heading">
          <h2 id="journal-heading">Journal entries posted</h2>
          ${journalTable(detail.journal)}
        </section>
        <section class="card" aria-labelledby="adjustments-heading">
          <h2 id="adjustments-heading">Adjustments pointing at this invoice</h2>
          ${
            detail.adjustments.length === 0
              ? html`<p>None.</p>`
              : html`<table class="data">
                  <thead>
                    <tr>
                      <th scope="col">On invoice</th>
                      <th scope="col">Period</th>
                      <th scope="col">Line</th>
                      <th scope="col">Reason</th>
                      <th scope="col" class="num">Amount</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${detail.adjustments.map(
                      (adjustment) =>
                        html`<tr>
                          <td>
                            <a href="/invoices/${encodeURIComponent(adjustment.invoiceId)}"
                              >${adjustment.invoiceNumber ?? adjustment.invoiceId}</a
                            >
                          </td>
                          <td>${adjustment.period}</td>
                          <td>${String(adjustment.line.line_key ?? '')}</td>
                          <td>${String(adjustment.line.reason ?? '')}</td>
                          <td class="num">
                            ${money(
                              adjustment.line.amount === undefined ? undefined : String(adjustment.line.amount),
                              adjustment.currency,
                            )}
                          </td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>
        <section class="card" aria-labelledby="sync-heading">
          <h2 id="sync-heading">Provider sync</h2>
          ${
            detail.sync.length === 0
              ? html`<p>${invoice.status === 'issued' ? 'Not synced yet.' : 'Not issued: nothing to sync.'}</p>`
              : html`<table class="data">
                  <thead>
                    <tr>
                      <th scope="col">Provider</th>
                      <th scope="col">External invoice</th>
                      <th scope="col">Status</th>
                      <th scope="col">Synced</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${detail.sync.map(
                      (sync) =>
                        html`<tr>
                          <td>${sync.provider}</td>
                          <td><code>${sync.externalInvoiceId}</code></td>
                          <td>${sync.status}</td>
                          <td>${instant(sync.syncedAt)}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>
        <section class="card" aria-labelledby="exceptions-heading">
          <h2 id="exceptions-heading">Exceptions raised on this invoice</h2>
          ${
            detail.exceptions.length === 0
              ? html`<p>None.</p>`
              : html`<ul>
                  ${detail.exceptions.map((exception) => html`<li><a href="/exceptions/${encodeURIComponent(exception.exceptionId)}">${exception.exceptionId}</a> ${statusBadge(exception.status)}${exception.reviewer ? ` by ${exception.reviewer}` : ''}</li>`)}
                </ul>`
          }
        </section>`,
    };
  },
};

function lineageSection(detail: InvoiceDetailView, currency: string): SafeHtml {
  const lineage = detail.lineage;
  if ('error' in lineage)
    return html`<section class="card" aria-labelledby="lineage-heading">
      <h2 id="lineage-heading">Lineage</h2>
      <p class="warning">${lineage.error}</p>
    </section>`;
  return html`<section class="card" aria-labelledby="lineage-heading">
    <h2 id="lineage-heading">Lineage: line → groups → events</h2>
    <p>
      Event set: ${lineage.fingerprint.eventCount} events; fingerprint
      ${lineage.fingerprint.matches ? html`<strong class="ok">matches the stored events</strong>` : html`<strong class="warning">differs (recorded ${lineage.fingerprint.recorded ?? '?'}, now ${lineage.fingerprint.recomputed})</strong>`}.
      ${lineage.ratecardsMatch ? '' : html`<span class="warning">The rate-card versions in force differ from those this invoice cites; groups are matched with today's.</span>`}
    </p>
    ${lineage.lines
      .filter((line) => line.groups !== undefined || line.lateEvents !== undefined)
      .map(
        (line) =>
          html`<details class="lineage-line">
            <summary><strong>${line.lineKey}</strong> ${money(line.amount, currency)}</summary>
            ${(line.groups ?? []).map(
              (group) =>
                html`<h3>
                    ${group.sku} ${group.unit} ${JSON.stringify(group.metadata)}: ${group.eventCount} events, quantity
                    ${group.quantitySum} (prices of ${group.versionEffectiveFrom ?? '—'})
                  </h3>
                  <table class="data compact">
                    <thead>
                      <tr>
                        <th scope="col">Source</th>
                        <th scope="col">Event</th>
                        <th scope="col">Event time</th>
                        <th scope="col">Received</th>
                        <th scope="col" class="num">Quantity</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${group.events.map(
                        (event) =>
                          html`<tr>
                            <td>${event.source}</td>
                            <td><code>${event.eventId}</code></td>
                            <td>${event.eventTime}</td>
                            <td>${event.receivedAt}</td>
                            <td class="num">${event.quantity}</td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>
                  ${group.eventCount > group.events.length ? html`<p>… and ${group.eventCount - group.events.length} more.</p>` : ''}`,
            )}
            ${
              (line.lateEvents ?? []).length > 0
                ? html`<h3>Late events billed by this line</h3>
                    <ul>
                      ${(line.lateEvents ?? []).map((event) => html`<li><code>${event.source}:${event.eventId}</code> at ${event.eventTime}, received ${event.receivedAt}: ${event.quantity}</li>`)}
                    </ul>`
                : ''
            }
          </details>`,
      )}
  </section>`;
}

function journalTable(entries: readonly JournalEntry[]): SafeHtml {
  if (entries.length === 0) return html`<p>None posted.</p>`;
  return html`${entries.map(
    (entry) =>
      html`<table class="data compact">
        <caption>
          ${entry.entry_type}
          <code>${entry.entry_key}</code>
          (service ${entry.service_period}, posted in ${entry.posting_period}): ${entry.memo}
        </caption>
        <thead>
          <tr>
            <th scope="col">Account</th>
            <th scope="col" class="num">Debit</th>
            <th scope="col" class="num">Credit</th>
          </tr>
        </thead>
        <tbody>
          ${entry.lines.map(
            (line) =>
              html`<tr>
                <td>${line.account}</td>
                <td class="num">${journalSide(line.debit, entry.currency)}</td>
                <td class="num">${journalSide(line.credit, entry.currency)}</td>
              </tr>`,
          )}
        </tbody>
      </table>`,
  )}`;
}

/** A journal line's debit or credit with its currency; the side a line does not post to stays empty. */
function journalSide(amount: string, currency: string): SafeHtml | '' {
  return /^0(\.0+)?$/.test(amount) ? '' : money(amount, currency);
}
