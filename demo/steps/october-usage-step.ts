import { count, out, type DemoRun } from '../demo-run.ts';
import { formatRejected } from '../report.ts';
import {
  checkIngest,
  describePublish,
  monthOfUsage,
  publishBatch,
  sumValues,
  waitForIngest,
} from '../usage-batches.ts';
import { DEMO_PERIOD } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

/** 3. A month of signed usage through JetStream, with repeats and broken messages, until ingest has committed it all. */
export const octoberUsageStep: DemoStep = {
  title: () => `${DEMO_PERIOD} usage → JetStream → ingest → Postgres`,
  async run(run: DemoRun) {
    const { publisher, ingest, jsm, streamName, consumerName } = run.connected;
    const batch = monthOfUsage(run.workspace, { scale: run.options.scale, duplicateEvery: 20 });
    const acceptedBefore = ingest.consumer.totals.accepted;
    const published = await publishBatch(publisher, batch, () => ingest.consumer.totals.messages, 'October');
    out(`   ${describePublish(batch, published)}`);
    const ingestStartedMs = Date.now();
    await waitForIngest(jsm, streamName, consumerName);
    const totals = ingest.consumer.totals;
    out(
      `   ingest committed everything (consumer lag 0, ${((Date.now() - ingestStartedMs) / 1000).toFixed(1)} s after the last publish): ${count(totals.accepted - acceptedBefore)} events stored, ${count(totals.duplicates)} repeats found in Postgres`,
    );
    out(
      `   rejected ${count(sumValues(totals.rejected))}: ${formatRejected(totals.rejected)} (kept with their raw bytes in rejected_events)`,
    );
    checkIngest(batch, totals, acceptedBefore);
    run.found.month = { batch, published };
  },
};
