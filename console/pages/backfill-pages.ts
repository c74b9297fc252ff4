import { z } from 'zod';
import {
  backfillAdjustmentLines,
  backfillItemResults,
  backfillRunTotals,
  listBackfillPlans,
  loadBackfillPlan,
  loadBackfillRun,
  type BackfillRunRecord,
} from '../../db/queries/backfills.ts';
import { describeCause } from '../../domain/backfill/index.ts';
import { html, type SafeHtml } from '../html.ts';
import { instant, money, moneyByCurrency, statusBadge } from './format.ts';
import type { ConsolePage } from './page.ts';

/** What a run's results say about failures (recorded at its end; see finishBackfillRun). */
const RunFailuresSchema = z.object({
  failures: z.array(z.object({ customerId: z.string(), period: z.string(), error: z.string() })).default([]),
  /** A paged run lists its first failures only and counts them all here. */
  failed: z.number().int().nonnegative().optional(),
  refused: z.array(z.string()).optional(),
});

/** Backfills (SPEC §5), newest first: each plan with its run's progress, Δ totals per currency and who asked why. */
export const backfillsListPage: ConsolePage = {
  path: '/backfills',
  permission: 'read',
  nav: { label: 'Backfills', href: '/backfills' },
  async render({ deps }) {
    const plans = await listBackfillPlans(deps.pool, 100);
    const progress = await Promise.all(plans.map((plan) => backfillRunTotals(deps.pool, plan.planId)));
    return {
      title: 'Backfills',
      body: html`<p>
          Re-ratings of closed periods: a plan says what it would adjust and why, its run writes each adjustment once
          (<code>tally backfill plan | run | status</code>).
        </p>
        <table class="data" aria-label="Backfills">
          <thead>
            <tr>
              <th scope="col">Plan</th>
              <th scope="col">Range</th>
              <th scope="col">Run</th>
              <th scope="col">Progress</th>
              <th scope="col">Planned Δ</th>
              <th scope="col">Written Δ</th>
              <th scope="col">By</th>
              <th scope="col">When</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            ${plans.map((plan, index) => {
              const done = progress[index];
              return html`<tr>
                <td><a href="/backfills/${encodeURIComponent(plan.planId)}">${plan.planId}</a></td>
                <td>
                  ${plan.from}..${plan.to}${plan.customers === undefined ? '' : html` (${plan.customers.join(', ')})`}
                </td>
                <td>${statusBadge(plan.run ?? 'not run')}</td>
                <td>${progressBar(done?.done ?? 0, plan.items)}</td>
                <td>${moneyByCurrency(plan.adjustmentTotals)}</td>
                <td>${plan.run === undefined ? html`—` : moneyByCurrency(done?.adjustmentTotals ?? {})}</td>
                <td>${plan.createdBy}</td>
                <td>${instant(plan.createdAt)}</td>
                <td>${plan.reason}</td>
              </tr>`;
            })}
          </tbody>
        </table>`,
    };
  },
};

/** One backfill: who, why, inputs; per customer-period the plan and what the run wrote; the lines and where they are billed; failures. */
export const backfillDetailPage: ConsolePage = {
  path: '/backfills/:id',
  permission: 'read',
  async render({ deps, params }) {
    const planId = params.id ?? '';
    const plan = await loadBackfillPlan(deps.pool, planId);
    if (plan === undefined) return undefined;
    const run = await loadBackfillRun(deps.pool, planId);
    const results = await backfillItemResults(deps.pool, planId);
    const lines = await backfillAdjustmentLines(deps.pool, planId);
    const totals = await backfillRunTotals(deps.pool, planId);
    const outcome = new Map(results.map((result) => [`${result.customerId} ${result.period}`, result]));
    const recorded = RunFailuresSchema.safeParse(run?.results ?? {});
    const failures = recorded.success ? recorded.data.failures : [];
    const failed = Math.max(failures.length, (recorded.success ? recorded.data.failed : undefined) ?? 0);
    const refused = recorded.success ? recorded.data.refused : undefined;
    return {
      title: `Backfill ${plan.planId}`,
      body: html`<dl class="facts" aria-label="Backfill">
          <dt>Range</dt>
          <dd>
            ${plan.from}..${plan.to}${plan.customers === undefined ? '' : html` for ${plan.customers.join(', ')}`}
          </dd>
          <dt>Why</dt>
          <dd>${plan.reason}</dd>
          <dt>Planned by</dt>
          <dd>${plan.createdBy}, ${instant(plan.createdAt)}</dd>
          <dt>Calculation</dt>
          <dd><code>${plan.calculationVersion}</code></dd>
          <dt>Inputs</dt>
          <dd><code title="${plan.inputsFingerprint}">${plan.inputsFingerprint.slice(0, 16)}</code></dd>
          <dt>Run</dt>
          <dd>${describeRun(run)}</dd>
          <dt>Progress</dt>
          <dd>
            ${progressBar(totals.done, plan.items.length)} · ${totals.adjusted} adjusted · Δ
            ${moneyByCurrency(totals.adjustmentTotals)} written of ${moneyByCurrency(plan.adjustmentTotals)} planned ·
            ${failed} failures
          </dd>
        </dl>
        ${
          refused === undefined
            ? ''
            : html`<p role="alert">Refused, nothing written: ${refused.join('; ')}. Plan again.</p>`
        }
        <h2>Customer-periods</h2>
        <table class="data" aria-label="Customer-periods">
          <thead>
            <tr>
              <th scope="col">Customer</th>
              <th scope="col">Period</th>
              <th scope="col">Corrects</th>
              <th scope="col">Issued</th>
              <th scope="col">Re-rated</th>
              <th scope="col">Planned Δ</th>
              <th scope="col">Written</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            ${plan.items.map((item) => {
              const result = outcome.get(`${item.customerId} ${item.period}`);
              return html`<tr>
                <td>${item.customerId}</td>
                <td>${item.period}</td>
                <td>
                  <a href="/invoices/${encodeURIComponent(item.correctedInvoiceId)}">${item.correctedInvoiceId}</a>
                </td>
                <td>${money(item.issuedTotal, item.currency)}</td>
                <td>${money(item.reratedTotal, item.currency)}</td>
                <td>${money(item.adjustmentTotal, item.currency)}</td>
                <td>
                  ${
                    result === undefined
                      ? html`not yet`
                      : html`${statusBadge(result.outcome)} ${money(result.adjustmentTotal, item.currency)}`
                  }
                </td>
                <td>${item.causes.map(describeCause).join('; ') || '—'}</td>
              </tr>`;
            })}
          </tbody>
        </table>
        <h2>Adjustment lines</h2>
        <table class="data" aria-label="Adjustment lines">
          <thead>
            <tr>
              <th scope="col">Customer</th>
              <th scope="col">Period</th>
              <th scope="col">Line</th>
              <th scope="col">Amount</th>
              <th scope="col">Billed on</th>
            </tr>
          </thead>
          <tbody>
            ${lines.map(
              (row) =>
                html`<tr>
                  <td>${row.customerId}</td>
                  <td>${row.period}</td>
                  <td><code>${row.line.line_key}</code></td>
                  <td>${money(row.line.amount, row.currency)}</td>
                  <td>
                    ${
                      row.adjustingInvoiceId === undefined
                        ? html`pending: the customer's next invoice`
                        : html`<a href="/invoices/${encodeURIComponent(row.adjustingInvoiceId)}"
                            >${row.adjustingInvoiceId}</a
                          >`
                    }
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
        <h2>Failures</h2>
        ${
          failures.length === 0
            ? html`<p>None.</p>`
            : html`<ul aria-label="Failures">
                ${failures.map((failure) => html`<li>${failure.customerId} ${failure.period}: ${failure.error}</li>`)}
                ${failed > failures.length ? html`<li>… and ${failed - failures.length} more</li>` : ''}
              </ul>`
        }`,
    };
  },
};

function describeRun(run: BackfillRunRecord | undefined): SafeHtml {
  if (run === undefined) return html`not run`;
  return html`${statusBadge(run.status)} started by ${run.startedBy},
  ${instant(run.startedAt)}${run.finishedAt === undefined ? '' : html`; ended ${instant(run.finishedAt)}`}`;
}

function progressBar(done: number, total: number): SafeHtml {
  return html`<progress value="${done}" max="${Math.max(total, 1)}" aria-label="customer-periods done"></progress>
    ${done} / ${total}`;
}
