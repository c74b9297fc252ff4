import { z } from 'zod';
import { listShadowRuns, shadowRunCounts } from '../../db/queries/shadow.ts';
import { listBillingAuthorities } from '../../shadow/cutover.ts';
import { loadReadiness, loadRunReport, ShadowRunMissingError } from '../../shadow/shadow-reports.ts';
import type { CustomerComparison } from '../../domain/shadow/index.ts';
import { html, type SafeHtml } from '../html.ts';
import { instant, money, statusBadge } from './format.ts';
import type { ConsolePage } from './page.ts';

/**
 * Shadow billing in the console (SPEC §9 "Shadow"): the runs with status and counts, a run's
 * per-customer results, a customer's line diff with causes, and the readiness verdict of a source.
 * Read-only: runs are started and exceptions decided where they always are (CLI, exceptions queue).
 */

const ReadinessQuerySchema = z.object({
  source: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .optional(),
  periods: z.coerce.number().int().min(1).max(36).default(1),
});

const runHref = (runId: string) => `/shadow/runs/${encodeURIComponent(runId)}`;

export const shadowRunsPage: ConsolePage = {
  path: '/shadow',
  permission: 'read',
  nav: { label: 'Shadow', href: '/shadow' },
  async render({ deps, query }) {
    const runs = (await listShadowRuns(deps.pool)).slice(0, 100);
    const counts = await shadowRunCounts(
      deps.pool,
      runs.map((run) => run.runId),
    );
    const readinessQuery = ReadinessQuerySchema.safeParse(query);
    const asked = readinessQuery.success ? readinessQuery.data : { source: undefined, periods: 1 };
    const verdict =
      asked.source === undefined
        ? undefined
        : await loadReadiness(deps.pool, { source: asked.source, periods: asked.periods });
    const sources = [...new Set(runs.map((run) => run.source))].sort();
    return {
      title: 'Shadow runs',
      body: html` <table class="data" aria-label="Shadow runs">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Source</th>
              <th scope="col">Period</th>
              <th scope="col">Status</th>
              <th scope="col">Customers</th>
              <th scope="col">Match</th>
              <th scope="col">Diff</th>
              <th scope="col">Only legacy</th>
              <th scope="col">Only Tally</th>
              <th scope="col">Exceptions (open)</th>
              <th scope="col">Legacy import</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            ${runs.map((run) => {
              const count = counts.get(run.runId);
              return html`<tr>
                <td><a href="${runHref(run.runId)}">${run.runId}</a></td>
                <td>${run.source}</td>
                <td>${run.period}</td>
                <td>${statusBadge(run.status)}</td>
                <td>${run.customerCount}</td>
                <td>${count?.match ?? 0}</td>
                <td>${count?.diff ?? 0}</td>
                <td>${count?.onlyLegacy ?? 0}</td>
                <td>${count?.onlyNew ?? 0}</td>
                <td>${count?.exceptions ?? 0} (${count?.openExceptions ?? 0})</td>
                <td><code>${run.legacyImportId ?? '—'}</code></td>
                <td>${instant(run.startedAt)}</td>
              </tr>`;
            })}
          </tbody>
        </table>
        ${runs.length === 0 ? html`<p>No shadow run yet (<code>tally shadow run</code>).</p>` : ''}
        <section class="card" aria-labelledby="readiness-heading">
          <h2 id="readiness-heading">Cutover readiness</h2>
          <form class="filters" method="get" action="/shadow" aria-label="Readiness of a source">
            <label
              >Source
              <select name="source">
                ${sources.map(
                  (source) =>
                    html`<option value="${source}" ${source === asked.source ? 'selected' : ''}>${source}</option>`,
                )}
              </select></label
            >
            <label>Periods <input name="periods" type="number" min="1" max="36" value="${asked.periods}" /></label>
            <button type="submit">Check</button>
          </form>
          ${
            verdict === undefined
              ? ''
              : html`<p id="readiness-verdict">
                    <strong>${asked.source}: ${verdict.ready ? 'READY for cutover' : 'NOT READY'}</strong>
                    over ${asked.periods}
                    period${asked.periods === 1 ? '' : 's'}${verdict.through === undefined ? '' : ` through ${verdict.through}`}
                  </p>
                  <table class="data" aria-label="Readiness by period">
                    <thead>
                      <tr>
                        <th scope="col">Period</th>
                        <th scope="col">Ready</th>
                        <th scope="col">Run</th>
                        <th scope="col">Why not</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${verdict.periods.map(
                        (period) =>
                          html`<tr>
                            <td>${period.period}</td>
                            <td>${period.ready ? 'ready' : 'not ready'}</td>
                            <td>
                              ${period.runId === undefined ? '—' : html`<a href="${runHref(period.runId)}">${period.runId}</a>`}
                            </td>
                            <td>
                              ${period.reasons.map((reason) => html`<div>${reason.customerId ?? '(period)'}: ${reason.reason}</div>`)}
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

export const shadowRunPage: ConsolePage = {
  path: '/shadow/runs/:id',
  permission: 'read',
  async render({ deps, params }) {
    const report = await runReport(deps, params.id ?? '');
    if (report === undefined) return undefined;
    const authorities = new Map(
      (
        await listBillingAuthorities(
          deps.pool,
          report.customers.map((customer) => customer.customer_id),
        )
      ).map((entry) => [entry.customerId, entry.authority]),
    );
    const { run } = report;
    return {
      title: `Shadow run ${run.runId}`,
      body: html` <dl class="facts">
          <dt>Source</dt>
          <dd>${run.source}</dd>
          <dt>Period</dt>
          <dd>${run.period}</dd>
          <dt>Status</dt>
          <dd>${statusBadge(run.status)}</dd>
          <dt>Legacy import</dt>
          <dd><code>${run.legacyImportId ?? 'none'}</code></dd>
          <dt>Summary</dt>
          <dd id="run-summary">
            ${report.summary.match} match, ${report.summary.diff} diff, ${report.summary.only_legacy} only legacy,
            ${report.summary.only_new} only Tally, ${report.summary.exceptions} exceptions
          </dd>
        </dl>
        <table class="data" aria-label="Customers of the run">
          <thead>
            <tr>
              <th scope="col">Customer</th>
              <th scope="col">Status</th>
              <th scope="col">Legacy total</th>
              <th scope="col">Tally total</th>
              <th scope="col">Variance</th>
              <th scope="col">Variance %</th>
              <th scope="col">Exception</th>
              <th scope="col">Bills now</th>
            </tr>
          </thead>
          <tbody>
            ${report.customers.map(
              (customer) =>
                html`<tr>
                  <td>
                    <a href="${runHref(run.runId)}/customers/${encodeURIComponent(customer.customer_id)}"
                      >${customer.customer_id}</a
                    >
                  </td>
                  <td>${statusBadge(customer.status)}</td>
                  <td>${money(customer.legacy_total, customer.legacy_currency ?? customer.currency)}</td>
                  <td>${money(customer.new_total, customer.currency)}</td>
                  <td>${customer.variance === null ? '—' : money(customer.variance, customer.currency)}</td>
                  <td>${customer.variance_pct ?? '—'}</td>
                  <td>
                    ${customer.exception ? statusBadge(customer.exception_state) : 'none'}${customer.decided_by ? ` by ${customer.decided_by}` : ''}
                  </td>
                  <td>${authorities.get(customer.customer_id) ?? '—'}</td>
                </tr>`,
            )}
          </tbody>
        </table>`,
    };
  },
};

export const shadowCustomerPage: ConsolePage = {
  path: '/shadow/runs/:id/customers/:customer',
  permission: 'read',
  async render({ deps, params }) {
    const report = await runReport(deps, params.id ?? '');
    const customer = report?.customers.find((candidate) => candidate.customer_id === params.customer);
    if (report === undefined || customer === undefined) return undefined;
    return {
      title: `${customer.customer_id} in shadow run ${report.run.runId}`,
      body: html` <p>
          <a href="${runHref(report.run.runId)}">← the run</a> · ${statusBadge(customer.status)} · variance
          ${customer.variance === null ? 'not comparable' : money(customer.variance, customer.currency)}${customer.variance_pct === null ? '' : ` (${customer.variance_pct} %)`}
          · exception ${customer.exception ? customer.exception_state : 'none'}
          ${customer.decision_note ? html` · <q>${customer.decision_note}</q>` : ''}
        </p>
        ${
          customer.exception_reasons.length > 0
            ? html`<ul aria-label="Why an exception">
                ${customer.exception_reasons.map((reason) => html`<li>${reason}</li>`)}
              </ul>`
            : ''
        }
        ${shadowLineDiffTable(customer)}`,
    };
  },
};

async function runReport(deps: Parameters<ConsolePage['render']>[0]['deps'], runId: string) {
  try {
    return await loadRunReport(deps.pool, { runId });
  } catch (error) {
    if (error instanceof ShadowRunMissingError) return undefined;
    throw error;
  }
}

/**
 * Both sides of a customer-period, line by line, with each difference's probable cause (also on a
 * shadow_variance exception's page). Money in Tally's currency; the legacy amounts in the legacy
 * biller's when it billed in another one (the lines are then one-sided, never netted).
 */
export function shadowLineDiffTable(
  comparison: Pick<CustomerComparison, 'currency' | 'legacy_currency' | 'lines'>,
): SafeHtml {
  const { currency, lines } = comparison;
  const legacyCurrency = comparison.legacy_currency ?? currency;
  const amount = (value: string | undefined, code: string) => (value === undefined ? '—' : money(value, code));
  return html`<table class="data" aria-label="Line diff">
    <thead>
      <tr>
        <th scope="col">Line key</th>
        <th scope="col">Status</th>
        <th scope="col">Legacy quantity</th>
        <th scope="col">Tally quantity</th>
        <th scope="col">Legacy amount</th>
        <th scope="col">Tally amount</th>
        <th scope="col">Delta</th>
        <th scope="col">Quantity effect</th>
        <th scope="col">Price effect</th>
        <th scope="col">Probable cause</th>
      </tr>
    </thead>
    <tbody>
      ${lines.map(
        (line) =>
          html`<tr>
            <td><code>${line.key}</code></td>
            <td>${statusBadge(line.status)}</td>
            <td>${line.legacy_quantity ?? '—'}</td>
            <td>${line.new_quantity ?? '—'}</td>
            <td>${amount(line.legacy_amount, legacyCurrency)}</td>
            <td>${amount(line.new_amount, currency)}</td>
            <td>${amount(line.delta, currency)}</td>
            <td>${amount(line.quantity_effect, currency)}</td>
            <td>${amount(line.price_effect, currency)}</td>
            <td>${line.cause ?? ''}${line.cause_detail ? html`: ${line.cause_detail}` : ''}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** A link to a customer's line diff in a run. */
export function shadowCustomerHref(runId: string, customerId: string): string {
  return `${runHref(runId)}/customers/${encodeURIComponent(customerId)}`;
}
