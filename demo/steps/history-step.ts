import { count, out, type DemoRun } from '../demo-run.ts';
import { closePeriodNow, PeriodRun } from '../period-run.ts';
import { checkIngest, describePublish, historyOfUsage, publishBatch, waitForIngest } from '../usage-batches.ts';
import { DEMO_ANOMALY, DEMO_HISTORY, DEMO_PERIOD, DemoError, historyCustomers } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

/**
 * The weeks before the billed month, for the FinOps loop to learn from: a working week's usage of
 * every customer whose contract starts with the billed month or later, with one injected spike,
 * through the same ingest. Their history months are closed before October (a customer's periods close
 * in order) and skipped: no price is in force before the sample cards' first version and no contract
 * has started, so there is nothing to bill (docs/decisions/demo.md).
 */
export const historyStep: DemoStep = {
  title: () =>
    `History: ${DEMO_HISTORY.from} to ${DEMO_HISTORY.to}, the weeks before ${DEMO_PERIOD} → ingest; ${DEMO_HISTORY.periods.join(', ')} closed`,
  async run(run: DemoRun) {
    const { pool, temporal, taskQueue, publisher, ingest, jsm, streamName, consumerName } = run.connected;
    const customers = historyCustomers(run.workspace);
    const batch = historyOfUsage(run.workspace, customers, { scale: run.options.scale });
    const acceptedBefore = ingest.consumer.totals.accepted;
    const published = await publishBatch(publisher, batch, () => ingest.consumer.totals.messages, 'History');
    out(`   ${describePublish(batch, published)}`);
    await waitForIngest(jsm, streamName, consumerName);
    checkIngest(batch, ingest.consumer.totals, acceptedBefore);
    out(
      `   ${count(ingest.consumer.totals.accepted - acceptedBefore)} events stored for ${customers.length} customers (every one whose contract starts in ${DEMO_PERIOD} or later): busy weekdays, quiet weekends; injected: ${DEMO_ANOMALY.customerId}-${run.workspace.runId} ${DEMO_ANOMALY.sku} on ${DEMO_ANOMALY.day}, ${DEMO_ANOMALY.factor} ordinary days in one afternoon`,
    );

    // A customer's periods close in order: each history month settles before the next is asked to close.
    for (const period of DEMO_HISTORY.periods) {
      run.assertRunning();
      const handles = await Promise.all(
        customers.map((customer) =>
          closePeriodNow(temporal.client, taskQueue, run.periodInput(customer.customerId, period)),
        ),
      );
      const history = new PeriodRun(handles);
      const waiting = await history.settle(pool, run);
      if (waiting.length > 0)
        throw new DemoError(
          `${period} should have nothing to bill, but ${waiting.map((exception) => exception.exceptionId).join(', ')} wait for a person`,
        );
      const results = await history.results();
      const skipped = results.filter((result) => result.stage === 'skipped').length;
      if (skipped !== customers.length)
        throw new DemoError(
          `expected ${customers.length} ${period} closes skipped, got ${results.map((result) => result.stage).join(', ')}`,
        );
      out(`   ${period} closed for ${customers.length} customers (closeNow): ${skipped} skipped`);
    }
    out(
      `   nothing numbered, drawn, sent or journaled: no price is in force before the sample cards' first version and no contract has started (invoice_when_zero: false); the usage stays stored, listed as unpriced on the skipped drafts`,
    );
    run.found.history = { batch, published, customers: customers.length };
  },
};
