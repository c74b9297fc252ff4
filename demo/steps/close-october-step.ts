import { approveAsReviewer, closePeriodNow, PeriodRun } from '../period-run.ts';
import { listInvoices } from '../../db/queries/invoices.ts';
import { indent, out, type DemoRun } from '../demo-run.ts';
import { formatInvoiceList } from '../report.ts';
import { DEMO_PERIOD } from '../workspace.ts';
import { billingPeriod, nextPeriod } from '../../domain/period.ts';
import { accrueDuePeriods, revenueScheduleOfPeriod } from '../../revenue/index.ts';
import { publishedTerms } from '../../terms/index.ts';
import type { DemoStep } from './demo-step.ts';

/** 4. Close the month for every customer (closeNow, as `tally period close`); one invoice waits for a person, who approves it. */
export const closeOctoberStep: DemoStep = {
  title: (run) =>
    `Close ${DEMO_PERIOD} for ${run.workspace.customers.length} customers (closeNow, like tally period close)`,
  async run(run: DemoRun) {
    const { pool, temporal, taskQueue } = run.connected;
    run.assertRunning();
    const handles = await Promise.all(
      run.workspace.customers.map((customer) =>
        closePeriodNow(temporal.client, taskQueue, run.periodInput(customer.customerId, DEMO_PERIOD)),
      ),
    );
    const october = new PeriodRun(handles);
    let waiting = await october.settle(pool, run);
    out(`   ${october.finishedCount} issued, ${waiting.length} waiting for review`);
    const held = waiting.map((exception) => exception.customerId);
    // Month end passes while it waits: the day run of the 1st (the schedule's, or tally revenue run)
    // accrues the held month with entries of its own and reverses them on the 1st.
    const firstOfNext = nextPeriod(billingPeriod(DEMO_PERIOD)).start.slice(0, 10);
    for (const customerId of held) {
      const [accrual] = await accrueDuePeriods({ pool, terms: publishedTerms(pool) }, { customerId, day: firstOfNext });
      const position = accrual !== undefined && 'accrualPosition' in accrual ? accrual : undefined;
      out(
        `   ${customerId} is held in review: its ${DEMO_PERIOD} stays accrued, ${position?.currency ?? ''} ${position?.accrualPosition ?? '0'} in Unbilled AR (revenue_accrued on the last day, accrual_reversed on ${firstOfNext})`,
      );
    }
    while (waiting.length > 0) {
      for (const exception of waiting) {
        await approveAsReviewer(temporal.client, october, exception, run);
        run.found.decided.push(exception);
      }
      waiting = await october.settle(pool, run);
    }
    for (const customerId of held) {
      const rows = await revenueScheduleOfPeriod(pool, { period: DEMO_PERIOD, customerId });
      const reversal = rows.find((row) => row.kind === 'reversal');
      out(
        `   ${customerId} approved and issued: the reversal takes the accrual out on ${firstOfNext} (usage ${reversal?.usage_revenue ?? '?'}) and the invoice posts against it there, ${rows.at(-1)?.accrual_position ?? '?'} left in Unbilled AR`,
      );
    }
    const results = await october.results();
    const ours = new Set(run.workspace.customers.map((customer) => customer.customerId));
    const invoices = (
      await listInvoices(pool, { period: DEMO_PERIOD, status: 'issued', customerIds: [...ours] })
    ).filter((invoice) => ours.has(invoice.customerId));
    run.found.octoberInvoices = invoices;
    out(
      `\n   ${results.filter((result) => result.stage === 'completed').length} workflows completed: issued, synced to the ledger, journaled`,
    );
    out(indent(formatInvoiceList(invoices)));
  },
};
