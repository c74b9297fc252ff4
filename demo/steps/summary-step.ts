import { count, indent, out, type DemoRun } from '../demo-run.ts';
import { formatRejected, formatTieOuts, formatTrialBalance, readDemoReport } from '../report.ts';
import { DEMO_NEXT_PERIOD, DEMO_PERIOD, DemoError } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';
import type { ReviewExceptionRecord } from '../../db/queries/review-exceptions.ts';
import { reconcileAndRecord } from '../../revenue/index.ts';
import { publishedTerms } from '../../terms/index.ts';

/** The last step: what happened, and whether the books add up (trial balance, usage tie-out, every invoice synced once). */
export const summaryStep: DemoStep = {
  title: () => 'Summary',
  async run(run: DemoRun) {
    const { pool, ingest } = run.connected;
    const customers = run.workspace.customers.map((customer) => customer.customerId);
    const report = await readDemoReport(pool, [DEMO_PERIOD, DEMO_NEXT_PERIOD], customers);
    const month = run.found.month;
    const late = run.found.late;
    const repeatsSent = (month?.batch.duplicates ?? 0) + (late?.batch.duplicates ?? 0);
    const droppedByJetStream = (month?.published.droppedAsDuplicates ?? 0) + (late?.published.droppedAsDuplicates ?? 0);
    out(
      `   invoices issued: ${report.invoices.length} (${report.totalsByCurrency.map((total) => `${total.invoices} ${total.currency}, total ${total.total}`).join('; ')})`,
    );
    out(
      `   provider sync: ${report.syncedToLedger} of ${report.invoices.length} invoices synced to the ledger sink, once each`,
    );
    out(
      `   usage: ${count(report.storedEvents)} events stored (${report.lateEvents} late), ${count(repeatsSent)} repeats sent (${count(droppedByJetStream)} dropped by JetStream as duplicates, ${count(ingest.consumer.totals.duplicates)} by Postgres)`,
    );
    out(`   rejected events by reason: ${formatRejected(ingest.consumer.totals.rejected)}`);
    for (const exception of report.exceptions) out(`   exception ${describeException(exception)}`);
    out('\n   journal trial balance (debits = credits per currency):');
    out(indent(formatTrialBalance(report.trialBalance)));
    out('\n   reconciliation tie-out (Σ usage lines = usage revenue recognized):');
    out(indent(formatTieOuts(report.tieOuts)));
    const differences = report.tieOuts.reduce((sum, tieOut) => sum + tieOut.differences.length, 0);
    out(`   ${differences} differences`);

    const reconciliation = await reconcileAndRecord(
      { pool, terms: publishedTerms(pool) },
      { period: DEMO_PERIOD, customerIds: customers },
    );
    out(
      `\n   tally reconcile --period ${DEMO_PERIOD} (metered × rate → invoice lines → recognized revenue → GL): ${reconciliation.rows.length} lines, ${reconciliation.differences.length} differences`,
    );

    const problems: string[] = [];
    if (reconciliation.differences.length > 0)
      problems.push(
        `tally reconcile found ${reconciliation.differences.length} differences: ${reconciliation.differences
          .map((difference) => difference.detail)
          .slice(0, 5)
          .join('; ')}`,
      );
    if (!report.trialBalance.balanced) problems.push('the journal does not balance');
    if (differences > 0) {
      problems.push(
        `the tie-out found ${differences} differences: ${report.tieOuts
          .flatMap((tieOut) => tieOut.differences.map((difference) => difference.detail))
          .slice(0, 5)
          .join('; ')}`,
      );
    }
    if (report.syncedToLedger !== report.invoices.length)
      problems.push(`${report.invoices.length - report.syncedToLedger} issued invoices are not synced`);
    const expected = customers.length + (run.found.novemberCustomers?.length ?? 0);
    if (report.invoices.length !== expected)
      problems.push(`expected ${expected} issued invoices, found ${report.invoices.length}`);
    if (problems.length > 0) throw new DemoError(`the demo run does not add up: ${problems.join('; ')}`);
  },
};

/**
 * `<id>: <rules>, <status>`: each rule once, with how many lines broke it (a shadow variance breaks
 * one rule per line that differs), and who decided, or that it waits for a reviewer.
 */
function describeException(exception: ReviewExceptionRecord): string {
  const counts = new Map<string, number>();
  for (const breach of exception.breaches) counts.set(breach.rule, (counts.get(breach.rule) ?? 0) + 1);
  const rules = [...counts].map(([rule, count]) => (count > 1 ? `${rule} ×${count}` : rule)).join(', ');
  const status =
    exception.reviewer === undefined
      ? `${exception.status}, waiting for a reviewer`
      : `${exception.status} by ${exception.reviewer}`;
  return `${exception.exceptionId}: ${rules}, ${status}`;
}
