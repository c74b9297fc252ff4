import type pg from 'pg';
import type { IssuedInvoice, UsageLine } from '../contracts/invoice.ts';
import { issuedInvoicesServingPeriod } from '../db/queries/invoices.ts';
import { loadJournalEntries, trialBalance } from '../db/queries/journal.ts';
import { invoicedEventTable, loadSnapshot } from '../db/queries/period-snapshots.ts';
import { findReviewException, insertReviewException, reopenReviewException } from '../db/queries/review-exceptions.ts';
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
  // Differences at one place (one line's accounts) share an exception: grouped, so a rerun compares
  // the exception with every difference at its place.
  const byPlace = new Map<string, ReconciliationDifference[]>();
  for (const difference of reconciliation.differences) {
    const id = exceptionIdOf(period.name, difference);
    byPlace.set(id, [...(byPlace.get(id) ?? []), difference]);
  }
  let exceptionsOpened = 0;
  for (const [exceptionId, differences] of byPlace) {
    if (await recordDifference(pool, period.name, exceptionId, differences)) exceptionsOpened += 1;
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

/** The exception a difference opens: its place (`reconciliation:<period>:<stage>:<reason>:<invoice>:<line>`). */
function exceptionIdOf(period: string, difference: ReconciliationDifference): string {
  const place = [
    difference.stage,
    difference.reason,
    difference.invoice_id ?? difference.currency,
    difference.line_key ?? '',
  ]
    .filter((part) => part !== '')
    .join(':');
  return `reconciliation:${period}:${place}`;
}

/**
 * Opens the exception of a place once (its context the first difference there). A decided one stays
 * decided while the place shows the same difference; if it changed (no difference there has the
 * sides the exception recorded), the decision no longer covers it and the exception opens again,
 * its old decision kept in its context.
 */
async function recordDifference(
  pool: pg.Pool,
  period: string,
  exceptionId: string,
  differences: readonly ReconciliationDifference[],
): Promise<boolean> {
  const [difference] = differences;
  if (difference === undefined) return false;
  const opened = await insertReviewException(pool, {
    exceptionId,
    invoiceId: difference.invoice_id,
    customerId: difference.customer_id ?? '*',
    period,
    kind: 'reconciliation',
    breaches: [{ rule: difference.reason, detail: difference.detail }],
    context: { reconciliation: difference },
    workflowId: `reconciliation:${period}`,
  });
  if (opened) return true;
  const existing = await findReviewException(pool, exceptionId);
  if (existing?.kind !== 'reconciliation' || existing.decidedAt === undefined) return false;
  const before = existing.context.reconciliation;
  if (differences.some((now) => now.expected === before.expected && now.actual === before.actual)) return false;
  return reopenReviewException(pool, { exceptionId, context: { reconciliation: difference } });
}
