import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEvent } from '../../contracts/event-signature.ts';
import { createPool } from '../../db/pool.ts';
import { BatchWriter, type BatchResult } from '../../ingest/batch-writer.ts';
import { DEFAULT_ACCEPT_WINDOW, type ClassifiedMessage } from '../../ingest/classify-message.ts';
import { IngestConsumer } from '../../ingest/ingest-consumer.ts';
import { IngestMetrics } from '../../ingest/ingest-metrics.ts';
import { addressUsageMessage, ensureUsageConsumer } from '../../ingest/usage-stream.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { createIngestTestbed, waitUntil, type IngestTestbed } from '../harness/ingest-harness.ts';

/** Our own writer with a bug for one event id: the write fails with an error that is neither transient nor data. */
class WriterWithABug extends BatchWriter {
  override async write(batch: readonly ClassifiedMessage[]): Promise<BatchResult> {
    if (batch.some((event) => event.kind === 'accepted' && event.event.event_id === 'poison'))
      throw new Error('a bug in the write path');
    return super.write(batch);
  }
}

let testbed: IngestTestbed;
let pool: ReturnType<typeof createPool>;

beforeAll(async () => {
  testbed = await createIngestTestbed({ sources: 1 });
  pool = createPool(testbed.stack.endpoints.databaseUrl, { max: 3 });
});

afterAll(async () => {
  await testbed.close();
  await pool.end();
});

describe('poison messages', () => {
  it('parks a message that keeps failing after a bounded number of deliveries, and stores its neighbours', async () => {
    await ensureUsageConsumer(testbed.jsm, testbed.config.streamName, {
      durableName: 'ingest',
      ackWaitMs: 30_000,
      maxAckPending: 1000,
    });
    const consumer = new IngestConsumer(
      testbed.js,
      new WriterWithABug(pool),
      { current: testbed.keys },
      new IngestMetrics(),
      pino({ level: 'silent' }),
      {
        streamName: testbed.config.streamName,
        durableName: 'ingest',
        batchSize: 100,
        batchMaxWaitMs: 50,
        writers: 1,
        nakDelayMs: 100,
        acceptWindow: DEFAULT_ACCEPT_WINDOW,
        parkAfterDeliveries: 3,
      },
    );
    const source = testbed.sources[0] as string;
    const timestamp = new Date().toISOString();
    const events = ['good-1', 'poison', 'good-2', 'good-3'].map((eventId) =>
      signEvent(
        buildUnsignedEvent({ source, customer_id: `${testbed.name}-poison`, event_id: eventId, timestamp }),
        testbed.keys[source] as string,
      ),
    );
    const messages = events.map((event) =>
      addressUsageMessage(Buffer.from(JSON.stringify(event)), event, testbed.config.subjectPrefix),
    );
    await testbed.publisher.enqueueMany(messages);
    await testbed.publisher.flush();
    consumer.start();
    try {
      await waitUntil(() => consumer.totals.parked === 1, 30_000, 'the poison message parked');
      await waitUntil(
        async () => {
          const info = await testbed.jsm.consumers.info(testbed.config.streamName, 'ingest');
          return info.num_pending === 0 && info.num_ack_pending === 0;
        },
        30_000,
        'every message acked',
      );
    } finally {
      await consumer.stop();
    }
    const stored = await pool.query('SELECT event_id FROM usage_events WHERE source = $1 ORDER BY event_id', [source]);
    expect(stored.rows.map((row) => row.event_id)).toEqual(['good-1', 'good-2', 'good-3']);
    const parked = await pool.query<{ raw: Buffer; deliveries: number; error: string; batched: boolean }>(
      'SELECT raw, deliveries, error, batched FROM ingest_parked_messages WHERE position($1 IN raw) > 0',
      [Buffer.from(`${testbed.name}-poison`)],
    );
    expect(parked.rows).toHaveLength(1);
    expect(parked.rows[0]?.raw.equals(Buffer.from(messages[1]?.data as Uint8Array))).toBe(true);
    expect(parked.rows[0]).toMatchObject({ error: 'a bug in the write path', batched: false });
    expect(parked.rows[0]?.deliveries).toBeGreaterThanOrEqual(3);
  });
});
