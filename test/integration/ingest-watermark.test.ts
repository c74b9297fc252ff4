import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEvent } from '../../contracts/event-signature.ts';
import { readIngestWatermark } from '../../ingest/ingest-watermark.ts';
import { addressUsageMessage, ensureUsageConsumer } from '../../ingest/usage-stream.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { createIngestTestbed, startTestWorker, waitUntil, type IngestTestbed } from '../harness/ingest-harness.ts';

let testbed: IngestTestbed;
beforeAll(async () => {
  testbed = await createIngestTestbed({ sources: 1 });
});
afterAll(async () => {
  await testbed.close();
});

describe('the ingest watermark', () => {
  it('stays at the first uncommitted receipt while the worker is behind, then moves past every committed event', async () => {
    const { streamName, consumerName } = testbed.config;
    await ensureUsageConsumer(testbed.jsm, streamName, {
      durableName: consumerName,
      ackWaitMs: 30_000,
      maxAckPending: 1000,
    });
    const source = testbed.sources[0] as string;
    const sequences: number[] = [];
    for (const index of [1, 2, 3]) {
      const event = signEvent(
        buildUnsignedEvent({ source, event_id: `wm-${index}`, timestamp: new Date().toISOString() }),
        testbed.keys[source] as string,
      );
      const outcome = await testbed.publisher.publish(
        addressUsageMessage(Buffer.from(JSON.stringify(event)), event, testbed.config.subjectPrefix),
      );
      if (outcome.status !== 'published') throw new Error('not published');
      sequences.push(outcome.sequence);
    }
    const first = await testbed.jsm.streams.getMessage(streamName, { seq: sequences[0] as number });
    const behind = await readIngestWatermark(testbed.jsm, streamName, consumerName);
    expect(behind).toEqual({ committedBefore: first?.time.toISOString(), pending: 3, ackPending: 0 });

    const worker = await startTestWorker(testbed);
    try {
      await waitUntil(() => worker.consumer.totals.accepted === 3, 30_000, 'three events stored');
      await waitUntil(
        async () => (await readIngestWatermark(testbed.jsm, streamName, consumerName)).ackPending === 0,
        30_000,
        'acks',
      );
      const last = await testbed.jsm.streams.getMessage(streamName, { seq: sequences[2] as number });
      const caughtUp = await readIngestWatermark(testbed.jsm, streamName, consumerName);
      expect(caughtUp.pending).toBe(0);
      expect(Date.parse(caughtUp.committedBefore as string)).toBeGreaterThan(last?.time.getTime() as number);
    } finally {
      await worker.stop();
    }
  });
});
