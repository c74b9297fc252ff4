import { accountView } from '../../finops/account-view.ts';
import { executiveView, type CurrencyExecutiveView } from '../../finops/executive-view.ts';
import type { MarginRow } from '../../domain/costs/margin.ts';
import { finopsSourcesOf } from '../finops-sources.ts';
import { html, jsonData, type SafeHtml } from '../html.ts';
import { CHART_SCRIPT, chartCanvas } from './charts.ts';
import { money, statusBadge } from './format.ts';
import type { ConsolePage } from './page.ts';

/**
 * The executive and account views (SPEC §9–10; docs/decisions/console.md): read models of finops/,
 * the same figures `GET /api/v1/executive` and `GET /api/v1/accounts/:customerId` answer. Every chart
 * has its figures in a table beside it.
 */

const accountLink = (customerId: string): SafeHtml =>
  html`<a href="/accounts/${encodeURIComponent(customerId)}">${customerId}</a>`;

function marginTable(caption: string, rows: readonly MarginRow[], keyHeader: string, link = false): SafeHtml {
  if (rows.length === 0) return html`<p>No issued invoices to take a margin of.</p>`;
  return html`<table class="data compact">
    <caption>
      ${caption}
    </caption>
    <thead>
      <tr>
        <th scope="col">${keyHeader}</th>
        <th scope="col" class="num">Revenue</th>
        <th scope="col" class="num">COGS</th>
        <th scope="col" class="num">Margin</th>
        <th scope="col" class="num">Margin %</th>
        <th scope="col" class="num">Uncosted</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (row) =>
          html`<tr>
            <td>${link ? accountLink(row.key) : row.key}</td>
            <td class="num">${money(row.revenue, row.currency)}</td>
            <td class="num">${money(row.cogs, row.currency)}</td>
            <td class="num">${money(row.margin, row.currency)}</td>
            <td class="num">${row.margin_pct ?? '—'}</td>
            <td class="num">${money(row.uncosted_revenue, row.currency)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function currencySection(view: CurrencyExecutiveView): SafeHtml {
  const id = view.currency.toLowerCase();
  const quarter = view.quarter;
  return html`<section class="card" aria-labelledby="revenue-${id}">
      <h2 id="revenue-${id}">Revenue, ${view.currency}: usage and subscription</h2>
      ${jsonData(`revenue-split-${id}`, view.trailing)}
      ${chartCanvas({ kind: 'revenue-split', source: `revenue-split-${id}`, label: `Trailing 7 and 28 days of revenue, usage and subscription, ${view.currency}` })}
      <table class="data compact" id="trailing-${id}">
        <thead>
          <tr>
            <th scope="col">Trailing</th>
            <th scope="col" class="num">Usage</th>
            <th scope="col" class="num">Subscription</th>
            <th scope="col" class="num">Total</th>
          </tr>
        </thead>
        <tbody>
          ${view.trailing.map(
            (row) =>
              html`<tr>
                <th scope="row">${row.days} days</th>
                <td class="num">${money(row.usage, view.currency)}</td>
                <td class="num">${money(row.subscription, view.currency)}</td>
                <td class="num">${money(row.total, view.currency)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>
    <section class="card" aria-labelledby="quarter-${id}">
      <h2 id="quarter-${id}">The quarter's forecast range, ${quarter.quarter} (${view.currency})</h2>
      <dl class="facts" id="quarter-range-${id}">
        <dt>p10 – p50 – p90</dt>
        <dd>
          ${money(quarter.range.p10, view.currency)} – <strong>${money(quarter.range.p50, view.currency)}</strong> –
          ${money(quarter.range.p90, view.currency)}
        </dd>
        <dt>Invoiced</dt>
        <dd>
          ${money(quarter.invoiced, view.currency)}
          ${
            quarter.invoiced_periods.length === 0
              ? ''
              : html`(${quarter.invoiced_periods.map((month) => `${month.period}: ${month.invoices} invoices`).join(', ')})`
          }
        </dd>
        <dt>This month to date</dt>
        <dd>${money(quarter.month_to_date, view.currency)}</dd>
        <dt>Forecast, ${quarter.forecast_days} days to ${quarter.last_day}</dt>
        <dd>
          ${money(quarter.forecast.p10, view.currency)} – ${money(quarter.forecast.p50, view.currency)} –
          ${money(quarter.forecast.p90, view.currency)}
        </dd>
      </dl>
    </section>
    <section class="card" aria-labelledby="margin-${id}">
      <h2 id="margin-${id}">
        Gross margin${view.margin.period === undefined ? '' : `, ${view.margin.period}`} (${view.currency})
      </h2>
      ${
        view.margin.by_product.length === 0
          ? ''
          : html`${jsonData(`margin-by-product-${id}`, view.margin.by_product)}
            ${chartCanvas({ kind: 'margin-by-product', source: `margin-by-product-${id}`, label: `Revenue and gross margin by product, ${view.currency}` })}`
      }
      ${marginTable('By product', view.margin.by_product, 'Product')}
      ${marginTable('By top account', view.margin.by_account, 'Account', true)}
    </section>
    <section class="card" aria-labelledby="top-${id}">
      <h2 id="top-${id}">Top accounts, trailing 28 days (${view.currency})</h2>
      <table class="data compact" id="top-accounts-${id}">
        <thead>
          <tr>
            <th scope="col">Account</th>
            <th scope="col" class="num">Usage</th>
            <th scope="col" class="num">Subscription</th>
            <th scope="col" class="num">Total</th>
            <th scope="col" class="num">Share %</th>
            <th scope="col">Outlook</th>
          </tr>
        </thead>
        <tbody>
          ${view.top_accounts.map(
            (account) =>
              html`<tr>
                <td>${accountLink(account.customer_id)}</td>
                <td class="num">${money(account.usage, view.currency)}</td>
                <td class="num">${money(account.subscription, view.currency)}</td>
                <td class="num">${money(account.total, view.currency)}</td>
                <td class="num">${account.share_pct}</td>
                <td>${statusBadge(account.outlook)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

export const executivePage: ConsolePage = {
  path: '/executive',
  permission: 'read',
  nav: { label: 'Executive', href: '/executive' },
  async render({ deps }) {
    const view = await executiveView(deps.pool, {
      today: new Date().toISOString().slice(0, 10),
      sources: await finopsSourcesOf(deps),
    });
    return {
      title: 'Executive view',
      scripts: [CHART_SCRIPT],
      body: html`<p>
          As of the start of ${view.as_of} (UTC). Usage revenue is stored usage at each account's latest invoiced rates;
          subscription is its monthly fees per day (a month = 365/12 days).
        </p>
        ${view.currencies.length === 0 ? html`<p>No issued invoices yet: nothing to show.</p>` : ''}
        ${view.currencies.map(currencySection)}
        <section class="card" aria-labelledby="signals-heading">
          <h2 id="signals-heading">Early-warning signals</h2>
          ${
            view.signals.length === 0
              ? html`<p>No account shows a contraction or expansion signal.</p>`
              : html`<table class="data compact" id="signal-accounts">
                  <thead>
                    <tr>
                      <th scope="col">Account</th>
                      <th scope="col">Outlook</th>
                      <th scope="col">Signals</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${view.signals.map(
                      (account) =>
                        html`<tr>
                          <td>${accountLink(account.customer_id)}</td>
                          <td>${statusBadge(account.outlook)}</td>
                          <td>${account.kinds.join(', ')}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>`,
    };
  },
};

export const accountPage: ConsolePage = {
  path: '/accounts/:customerId',
  permission: 'read',
  async render({ deps, params }) {
    const customerId = params.customerId ?? '';
    const view = await accountView(deps.pool, {
      customerId,
      asOf: new Date().toISOString(),
      sources: await finopsSourcesOf(deps),
    });
    if (view === undefined) return undefined;
    const currency = view.commit?.currency ?? view.contract?.currency ?? view.usage_revenue.currency;
    const commit = view.commit?.commit;
    const prepaid = view.commit?.prepaid;
    return {
      title: `Account ${customerId}`,
      scripts: [CHART_SCRIPT],
      body: html`<p>
          As of ${view.as_of.slice(0, 16).replace('T', ' ')} UTC. Outlook: ${statusBadge(view.signals.outlook)}
        </p>
        <section class="card" aria-labelledby="commit-heading">
          <h2 id="commit-heading">Commit utilization and burndown</h2>
          <dl class="facts" id="commit-facts">
            <dt>Commit this period</dt>
            <dd>
              ${
                commit === undefined
                  ? 'none'
                  : html`${money(commit.consumed, currency)} of ${money(commit.amount, currency)}
                    (${commit.utilization_pct} %), ${commit.period}`
              }
            </dd>
            <dt>Commit reached</dt>
            <dd>
              ${
                commit === undefined
                  ? '—'
                  : (commit.reached_on ?? `not this period (projected ${commit.projected_at_period_end})`)
              }
            </dd>
            <dt>Prepaid credit</dt>
            <dd>
              ${
                prepaid === undefined
                  ? 'none'
                  : html`${money(prepaid.remaining, currency)} left of ${money(prepaid.granted, currency)}, burning
                    ${money(prepaid.burn_per_day, currency)} a day`
              }
            </dd>
            <dt>Burndown date</dt>
            <dd id="burndown-date">${prepaid === undefined ? '—' : (prepaid.burndown_on ?? 'not burning')}</dd>
            <dt>Burn alerts</dt>
            <dd id="burn-alerts">${(view.commit?.alerts ?? []).join(', ') || 'none'}</dd>
          </dl>
          <h3>Variance against the ramp</h3>
          ${
            (view.commit?.ramp ?? []).length === 0
              ? html`<p>No ramp in the contract.</p>`
              : html`<table class="data compact" id="ramp">
                  <thead>
                    <tr>
                      <th scope="col">Period</th>
                      <th scope="col" class="num">Planned</th>
                      <th scope="col" class="num">Actual</th>
                      <th scope="col" class="num">Variance</th>
                      <th scope="col" class="num">Variance %</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${(view.commit?.ramp ?? []).map(
                      (step) =>
                        html`<tr>
                          <td>${step.period}${step.projected ? ' (projected)' : ''}</td>
                          <td class="num">${money(step.planned, currency)}</td>
                          <td class="num">${money(step.actual, currency)}</td>
                          <td class="num">${money(step.variance, currency)}</td>
                          <td class="num">${step.variance_pct}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>
        <section class="card" aria-labelledby="usage-heading">
          <h2 id="usage-heading">Usage revenue, last 28 days</h2>
          ${
            view.usage_revenue.days.length === 0
              ? html`<p>No issued invoice yet to value usage at.</p>`
              : html`${jsonData('account-usage', view.usage_revenue.days)}
                  ${chartCanvas({ kind: 'account-usage', source: 'account-usage', label: 'Daily usage revenue over the last 28 days' })}
                  <details>
                    <summary>As a table</summary>
                    <table class="data compact">
                      <thead>
                        <tr>
                          <th scope="col">Day</th>
                          <th scope="col" class="num">Usage revenue</th>
                        </tr>
                      </thead>
                      <tbody>
                        ${view.usage_revenue.days.map(
                          (day) =>
                            html`<tr>
                              <td>${day.day}</td>
                              <td class="num">${money(day.amount, view.usage_revenue.currency)}</td>
                            </tr>`,
                        )}
                      </tbody>
                    </table>
                  </details>`
          }
        </section>
        <section class="card" aria-labelledby="signals-heading">
          <h2 id="signals-heading">Early-warning signals</h2>
          ${
            view.signals.signals.length === 0
              ? html`<p>None.</p>`
              : html`<ul id="account-signals">
                  ${view.signals.signals.map(
                    (signal) =>
                      html`<li>${statusBadge(signal.outlook)} <code>${signal.kind}</code>: ${signal.detail}</li>`,
                  )}
                </ul>`
          }
        </section>
        <section class="card" aria-labelledby="anomalies-heading">
          <h2 id="anomalies-heading">Anomalies, last 28 days</h2>
          ${
            view.anomalies.length === 0
              ? html`<p>None.</p>`
              : html`<table class="data compact" id="account-anomalies">
                  <thead>
                    <tr>
                      <th scope="col">Day</th>
                      <th scope="col">SKU</th>
                      <th scope="col">Kind</th>
                      <th scope="col" class="num">Value</th>
                      <th scope="col" class="num">Expected</th>
                      <th scope="col">Severity</th>
                      <th scope="col">Status</th>
                      <th scope="col">Action</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${view.anomalies.map(
                      (anomaly) =>
                        html`<tr>
                          <td>${anomaly.day}</td>
                          <td>${anomaly.sku}</td>
                          <td>${anomaly.kind}</td>
                          <td class="num">${anomaly.value}</td>
                          <td class="num">${anomaly.expected}</td>
                          <td>${anomaly.severity}</td>
                          <td>${statusBadge(anomaly.status)}</td>
                          <td>${anomaly.action ?? '—'}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }
        </section>`,
    };
  },
};
