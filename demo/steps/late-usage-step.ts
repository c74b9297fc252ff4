import { approveAsReviewer, closePeriodNow, PeriodRun } from '../period-run.ts';
import { findInvoice, listInvoices } from '../../db/queries/invoices.ts';
import { indent, out, type DemoRun } from '../demo-run.ts';
import { formatAdjustments } from '../report.ts';
import {
  checkIngest,
  describePublish,
  lateCustomers,
  lateUsage,
  publishBatch,
  waitForIngest,
} from '../usage-batches.ts';
import { DEMO_NEXT_PERIOD, DEMO_PERIOD, DemoError } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

/** 5. October events after October closed, and some November usage: billed as adjustments on November; October unchanged. */
export const lateUsageStep: DemoStep = {
  title: () => `Late usage: ${DEMO_PERIOD} events after close, billed on ${DEMO_NEXT_PERIOD}`,
  async run(run: DemoRun) {
    const { pool, temporal, taskQueue, publisher, ingest, jsm, streamName, consumerName } = run.connected;
    const batch = lateUsage(run.workspace, { scale: 0.25 });
    const before = { ...ingest.consumer.totals, rejected: { ...ingest.consumer.totals.rejected } };
    const published = await publishBatch(publisher, batch, () => ingest.consumer.totals.messages, 'Late + November');
    await waitForIngest(jsm, streamName, consumerName);
    const lateStored = ingest.consumer.totals.late - before.late;
    out(`   ${describePublish(batch, published)}`);
    out(
      `   ${batch.lateEvents} events of ${DEMO_PERIOD} arrived after its invoices were issued: stored, marked late (${lateStored}), never added to an issued invoice`,
    );
    if (lateStored !== batch.lateEvents)
      throw new DemoError(`expected ${batch.lateEvents} late events, ingest marked ${lateStored}`);
    checkIngest(batch, ingest.consumer.totals, before.accepted);
    run.found.late = { batch, published };

    run.assertRunning();
    const customers = lateCustomers(run.workspace);
    const handles = await Promise.all(
      customers.map((customer) =>
        closePeriodNow(temporal.client, taskQueue, run.periodInput(customer.customerId, DEMO_NEXT_PERIOD)),
      ),
    );
    const november = new PeriodRun(handles);
    for (let open = await november.settle(pool, run); open.length > 0; open = await november.settle(pool, run)) {
      for (const exception of open) {
        await approveAsReviewer(temporal.client, november, exception, run);
        run.found.decided.push(exception);
      }
    }
    await november.results();
    run.found.novemberCustomers = customers.map((customer) => customer.customerId);

    const ours = new Set(run.found.novemberCustomers);
    const novemberInvoices = (
      await listInvoices(pool, { period: DEMO_NEXT_PERIOD, status: 'issued', customerIds: [...ours] })
    ).filter((invoice) => ours.has(invoice.customerId));
    const october = run.found.octoberInvoices ?? [];
    const numbers = new Map(october.map((invoice) => [invoice.invoiceId, invoice.invoiceNumber ?? undefined]));
    out(
      `   ${DEMO_NEXT_PERIOD} closed for ${novemberInvoices.map((invoice) => invoice.customerId).join(', ')}; the late usage is on it as adjustment lines:`,
    );
    out(indent(formatAdjustments(novemberInvoices, (invoiceId) => numbers.get(invoiceId))));
    if (
      !novemberInvoices.some((invoice) =>
        invoice.document.lines.some((line) => line.kind === 'adjustment' && line.corrects_period === DEMO_PERIOD),
      )
    ) {
      throw new DemoError(
        `no adjustment line for the late usage of ${DEMO_PERIOD} on the ${DEMO_NEXT_PERIOD} invoices`,
      );
    }
    for (const invoice of october) {
      const now = await findInvoice(pool, invoice.invoiceId);
      if (JSON.stringify(now?.document) !== JSON.stringify(invoice.document))
        throw new DemoError(`issued invoice ${invoice.invoiceId} changed after late usage`);
    }
    out(`   the ${october.length} issued ${DEMO_PERIOD} invoices are unchanged`);
  },
};
