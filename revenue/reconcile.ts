import type pg from 'pg';
import type { IssuedInvoice, UsageLine } from '../contracts/invoice.ts';
import { issuedInvoicesServingPeriod } from '../db/queries/invoices.ts';
import { loadJournalEntries, trialBalance } from '../db/queries/journal.ts';
import { invoicedEventTable, loadSnapshot } from '../db/queries/period-snapshots.ts';
import { insertReviewException } from '../db/queries/review-exceptions.ts';
import { loadUsageAggregates } from '../db/queries/usage-aggregates.ts';
import { billingPeriod } from '../domain/period.ts';
import { ratePeriod, usageAggregationPlan } from '../domain/rating/index.ts';
import {
  reconcilePeriod,
  type Reconciliation,
  type ReconciliationDifference,
  type ReconciliationInvoice,
} from '../domain/revenue/index.ts';
import type { TermsSource } from '../terms/index.ts';

/**
 * `tally reconcile --period P` and the daily check: ties the period's metered quantity × rate →
 * invoice lines → recognized revenue → GL (domain/revenue `reconcilePeriod`) and records every
 * difference as a `reconciliation` exception in the review queue, once (its id is the difference's
 * place), with both sides in its context.
 */
export async function reconcileAndRecord(
  deps: { readonly pool: pg.Pool; readonly terms: TermsSource },
  input: { period: string; customerIds?: readonly string[] },
): Promise<Reconciliation & { readonly exceptionsOpened: number }> {
  const { pool } = deps;
  const period = billingPeriod(input.period);
  const { ofPeriod, adjusting } = await issuedInvoicesServingPeriod(pool, period.name, input.customerIds);
  const invoices: ReconciliationInvoice[] = [];
  for (const record of ofPeriod) {
    const invoice = record.document;
    invoices.push({ invoice, meteredUsage: await meteredUsage(deps, record.snapshotId, invoice) });
  }
  const entries = await loadJournalEntries(pool, {
    invoiceIds: [...ofPeriod, ...adjusting].map((record) => record.invoiceId),
  });
  // The ledger as a whole must balance (a customer's part of it balances entry by entry).
  const balance = await trialBalance(pool, { throughPostingPeriod: period.name });
  const reconciliation = reconcilePeriod({
    period: period.name,
    invoices,
    adjustingInvoices: adjusting.map((record) => record.document),
    entries,
    glDifferences: balance.totals,
  });
  let exceptionsOpened = 0;
  for (const difference of reconciliation.differences) {
    if (await recordDifference(pool, period.name, difference)) exceptionsOpened += 1;
  }
  return { ...reconciliation, exceptionsOpened };
}

/** The invoice's stored event set (not late, received by its cut-off) rated again under the terms its snapshot recorded. */
async function meteredUsage(
  deps: { readonly pool: pg.Pool; readonly terms: TermsSource },
  snapshotId: string,
  invoice: IssuedInvoice,
): Promise<UsageLine[]> {
  const snapshot = await loadSnapshot(deps.pool, snapshotId);
  const terms =
    snapshot?.contractHash !== undefined
      ? await deps.terms.recorded(invoice.customer_id, {
          contractHash: snapshot.contractHash,
          ratecardVersions: invoice.ratecard_versions,
        })
      : await deps.terms.current(invoice.customer_id);
  const period = billingPeriod(invoice.period);
  const aggregates = await loadUsageAggregates(deps.pool, usageAggregationPlan(terms.versions, period), {
    customerId: invoice.customer_id,
    lateEvents: 'exclude',
    table: await invoicedEventTable(deps.pool, invoice),
  });
  const rated = ratePeriod({
    customerId: invoice.customer_id,
    period,
    contract: terms.contract,
    versions: terms.versions,
    aggregates,
    counters: { read: 0, duplicates: 0, outside_period: 0 },
    credits: [],
    calculationVersion: invoice.calculation_version,
  });
  return rated.lines.filter((line): line is UsageLine => line.kind === 'usage');
}

async function recordDifference(pool: pg.Pool, period: string, difference: ReconciliationDifference): Promise<boolean> {
  const place = [
    difference.stage,
    difference.reason,
    difference.invoice_id ?? difference.currency,
    difference.line_key ?? '',
  ]
    .filter((part) => part !== '')
    .join(':');
  return insertReviewException(pool, {
    exceptionId: `reconciliation:${period}:${place}`,
    invoiceId: difference.invoice_id,
    customerId: difference.customer_id ?? '*',
    period,
    kind: 'reconciliation',
    breaches: [{ rule: difference.reason, detail: difference.detail }],
    context: { reconciliation: difference },
    workflowId: `reconciliation:${period}`,
  });
}
