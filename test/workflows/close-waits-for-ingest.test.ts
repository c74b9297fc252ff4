import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { periodOf, previousPeriod } from '../../domain/period.ts';
import { addressUsageMessage } from '../../ingest/usage-stream.ts';
import type { IngestWorker } from '../../workers/ingest-worker.ts';
import { statusQuery } from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { createIngestTestbed, startTestWorker, type IngestTestbed } from '../harness/ingest-harness.ts';
import { testStack } from '../harness/services.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

/**
 * A period closes only after ingest has committed everything the stream received before the
 * cut-off: a lagging consumer must not turn the month's tail into next month's adjustments.
 */

let billing: BillingTestbed;
let ingest: IngestTestbed;
let files: RateCardFiles;
let worker: IngestWorker | undefined;

beforeAll(async () => {
  files = await RateCardFiles.create();
  billing = await BillingTestbed.create('close_ingest', { ratecardsDir: files.root });
  await files.publish(billing.pool, await files.write('lagging', '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
  const stack = testStack();
  ingest = await createIngestTestbed({
    stack: { ...stack, endpoints: { ...stack.endpoints, databaseUrl: billing.databaseUrl } },
  });
});
afterAll(async () => {
  await worker?.stop();
  await ingest?.close();
  await billing?.close();
  await rm(files.root, { recursive: true, force: true });
});

describe('the close and the ingest consumer', () => {
  it("waits for the consumer to commit what the stream received before the cut-off, so the month's tail is in its invoice", async () => {
    const source = ingest.sources[0] as string;
    const customerId = `${ingest.name}-lagging`;
    await billing.publishContract(
      buildContract({
        customer_id: customerId,
        ratecard: 'lagging',
        starts_at: '2026-09-01T00:00:00Z',
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    // Last month, inside the accept window.
    const nowMs = Date.now();
    const period = previousPeriod(periodOf(new Date(nowMs)));
    const usedAt = new Date(Math.max(Date.parse(period.end) - 3_600_000, nowMs - 30 * 86_400_000)).toISOString();

    // The consumer exists (the worker ran once) but has stopped: whatever is published now waits in the stream.
    worker = await startTestWorker(ingest);
    await worker.stop();
    worker = undefined;
    for (let index = 0; index < 50; index += 1) {
      const event = signEvent(
        buildUnsignedEvent({
          source,
          customer_id: customerId,
          event_id: `${customerId}-${index}`,
          timestamp: usedAt,
          quantity: '1000',
          metadata: { sku: 'llm.tokens' },
        }),
        ingest.keys[source] as string,
      );
      await ingest.publisher.publish(
        addressUsageMessage(Buffer.from(JSON.stringify(event)), event, ingest.config.subjectPrefix),
      );
    }

    await billing.withWorker(
      async () => {
        const handle = await billing.startPeriod(billing.periodInput(customerId, period.name, { recheckMs: 200 }));
        // The close waits: the stream holds 50 messages received before any cut-off it could take.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        expect((await handle.query(statusQuery)).stage).toBe('waiting_for_ingest');
        worker = await startTestWorker(ingest);
        expect((await handle.result()).stage).toBe('completed');
        await recordHistory(handle, 'waited-for-ingest');
      },
      {},
      { usageStream: { streamName: ingest.config.streamName, consumerName: ingest.config.consumerName } },
    );
    const invoice = (await findInvoice(billing.pool, `inv:${customerId}:${period.name}`))?.document as IssuedInvoice;
    expect(invoice.events.read).toBe(50);
    expect(invoice.total).toBe('50.00');
    const late = await billing.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM usage_events WHERE customer_id = $1 AND late',
      [customerId],
    );
    expect(late.rows[0]?.n).toBe(0);
  }, 180_000);
});
