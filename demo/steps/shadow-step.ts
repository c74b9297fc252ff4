import { writeFile } from 'node:fs/promises';
import { authenticatePassword, decideException } from '../../access/index.ts';
import path from 'node:path';
import type { Invoice } from '../../contracts/invoice.ts';
import { Decimal, formatMoney, minorUnits } from '../../domain/money.ts';
import { LEGACY_CSV_HEADER, legacyLinesFromInvoice, type LegacyLine } from '../../domain/shadow/index.ts';
import { importLegacyFile } from '../../shadow/import-legacy-file.ts';
import { formatShadowReport } from '../../shadow/report-table.ts';
import { loadReadiness, loadRunReport } from '../../shadow/shadow-reports.ts';
import {
  CALCULATION_VERSION,
  shadowRunProgressQuery,
  shadowRunWorkflowId,
  type ShadowRunInput,
} from '../../workflows/definitions.ts';
import { indent, out, REVIEW_TIMEOUT_MS, STEP_TIMEOUT_MS, type DemoRun } from '../demo-run.ts';
import { DEMO_PERIOD, DemoError } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

const SOURCE = 'legacy-demo';

/**
 * 5. Shadow billing before cutover (SPEC §6): a legacy biller's export of October, made from the
 * issued invoices with three realistic differences (a rounding difference, a price the legacy biller
 * still charges at the old rate, a customer it forgot), imported; a shadow run of October compares;
 * the explained rounding difference is accepted through the review queue's `decide`; readiness says
 * why the cutover must still wait.
 */
export const shadowStep: DemoStep = {
  title: () => `Shadow ${DEMO_PERIOD} against a legacy biller: import, shadow run, diff, readiness`,
  async run(run: DemoRun) {
    const { pool, temporal, taskQueue } = run.connected;
    run.assertRunning();
    const invoices = [...(run.found.octoberInvoices ?? [])].sort((a, b) => (a.customerId < b.customerId ? -1 : 1));
    const withUsage = invoices.filter((invoice) =>
      invoice.document.lines.some((line) => line.kind === 'usage' && !new Decimal(line.amount).isZero()),
    );
    const [rounded, oldRate, forgotten] = withUsage;
    if (rounded === undefined || oldRate === undefined || forgotten === undefined)
      throw new DemoError('the shadow step needs three October invoices with usage');

    // The legacy export: every invoice's lines, but for the three planted differences.
    const lines: LegacyLine[] = [];
    for (const invoice of invoices) {
      if (invoice.invoiceId === forgotten.invoiceId) continue;
      const legacy = legacyLinesFromInvoice(invoice.document);
      const firstUsage = legacy.findIndex((line) => line.quantity !== undefined && !new Decimal(line.amount).isZero());
      lines.push(
        ...legacy.map((line, index) => {
          if (index !== firstUsage) return line;
          if (invoice.invoiceId === rounded.invoiceId)
            return { ...line, amount: oneMinorUnitMore(line, invoice.document) };
          if (invoice.invoiceId === oldRate.invoiceId)
            return { ...line, amount: formatMoney(new Decimal(line.amount).times('1.1'), line.currency) };
          return line;
        }),
      );
    }
    const file = path.join(run.workspace.dir, 'legacy-october.csv');
    await writeFile(
      file,
      [
        LEGACY_CSV_HEADER.join(','),
        ...lines.map((line) =>
          [line.customer_id, line.period, line.price_id, line.quantity ?? '', line.amount, line.currency].join(','),
        ),
      ].join('\n') + '\n',
    );
    const [imported] = await importLegacyFile(pool, {
      file,
      source: SOURCE,
      importedBy: run.workspace.reviewer.username,
    });
    out(
      `   tally shadow import ${path.basename(file)} --source ${SOURCE}: ${imported?.outcome ?? 'nothing'}, ${imported?.import.lineCount ?? 0} legacy lines (${imported?.import.importId ?? ''})`,
    );

    // The shadow run: every customer closed in shadow mode (nothing live), compared, recorded.
    const input: ShadowRunInput = {
      source: SOURCE,
      period: DEMO_PERIOD,
      runId: `${SOURCE}:${DEMO_PERIOD}:${run.workspace.runId}`,
      calculationVersion: CALCULATION_VERSION,
      customers: run.workspace.customers.map((customer) => customer.customerId),
      closeOptions: { graceMs: 0, stepTimeoutMs: STEP_TIMEOUT_MS, reviewTimeoutMs: REVIEW_TIMEOUT_MS },
    };
    const handle = await temporal.client.workflow.start('shadowRunWorkflow', {
      taskQueue,
      workflowId: shadowRunWorkflowId(input.runId as string),
      args: [input],
    });
    const deadline = Date.now() + 5 * 60_000;
    for (;;) {
      run.assertRunning();
      const progress = await handle.query(shadowRunProgressQuery);
      if (progress.stage === 'awaiting_review' || progress.stage === 'completed') break;
      if (Date.now() > deadline) throw new DemoError(`the shadow run is stuck at ${progress.stage}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const report = await loadRunReport(pool, { runId: input.runId });
    out(`   tally shadow run --source ${SOURCE} --period ${DEMO_PERIOD}: run ${report.run.runId}`);
    out(indent(formatShadowReport(report, false)));

    const byCustomer = new Map(report.customers.map((customer) => [customer.customer_id, customer]));
    const causeOf = (customerId: string) =>
      byCustomer.get(customerId)?.lines.find((line) => line.status === 'diff')?.cause;
    const problems = [
      causeOf(rounded.customerId) === 'rounding' ? undefined : `${rounded.customerId} is not a rounding difference`,
      causeOf(oldRate.customerId) === 'price' ? undefined : `${oldRate.customerId} is not a price difference`,
      byCustomer.get(forgotten.customerId)?.status === 'only_new'
        ? undefined
        : `${forgotten.customerId} is not only_new`,
    ].filter((problem) => problem !== undefined);
    if (problems.length > 0)
      throw new DemoError(`the shadow comparison missed its planted differences: ${problems.join('; ')}`);
    out(`\n   the line diff of the two customers that differ (tally shadow report --customer …):`);
    out(
      indent(
        formatShadowReport(
          {
            ...report,
            customers: report.customers.filter((customer) =>
              [rounded.customerId, oldRate.customerId].includes(customer.customer_id),
            ),
          },
          true,
        ),
      ),
    );

    // Billing ops accepts the explained rounding difference, as a console user, through the same
    // decide update (and the same audited path) as every exception.
    const exceptionId = `exc:shadow:${input.runId}:${rounded.customerId}`;
    const { reviewer } = run.workspace;
    const user = await authenticatePassword(pool, { username: reviewer.username, password: reviewer.password });
    const decided = await decideException({ pool, temporal: temporal.client }, user, exceptionId, {
      kind: 'approve',
      note: 'explained: the legacy biller rounds each usage line up to the cent',
    });
    out(`   tally review approve ${exceptionId} --note …: ${decided.message}`);

    const verdict = await loadReadiness(pool, { source: SOURCE, periods: 1, through: DEMO_PERIOD });
    out(`   tally shadow readiness --source ${SOURCE} --periods 1: ${verdict.ready ? 'READY' : 'NOT READY'}`);
    for (const period of verdict.periods)
      for (const reason of period.reasons) out(`     ${period.period} ${reason.customerId ?? ''}: ${reason.reason}`);
  },
};

function oneMinorUnitMore(line: LegacyLine, invoice: Invoice): string {
  const unit = new Decimal(1).dividedBy(new Decimal(10).pow(minorUnits(invoice.currency)));
  return formatMoney(new Decimal(line.amount).plus(unit), line.currency);
}
