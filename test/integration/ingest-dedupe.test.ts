import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEvent } from '../../contracts/event-signature.ts';
import { addressUsageMessage } from '../../ingest/usage-stream.ts';
import type { IngestWorker } from '../../workers/ingest-worker.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { createIngestTestbed, startTestWorker, waitUntil, type IngestTestbed } from '../harness/ingest-harness.ts';
import { testPool } from '../harness/services.ts';

const pool = testPool();
let testbed: IngestTestbed;
let worker: IngestWorker;
const API_TOKEN = 'dedupe-test-token-0123456789abcdef';

beforeAll(async () => {
  testbed = await createIngestTestbed();
  const apiKeysFile = path.join(testbed.directory, 'api-keys.json');
  await writeFile(apiKeysFile, JSON.stringify({ keys: [{ id: 'test', token: API_TOKEN, sources: testbed.sources }] }));
  worker = await startTestWorker(testbed, { httpPort: 0, apiKeysFile });
});

afterAll(async () => {
  await worker.stop();
  await testbed.close();
  await pool.end();
});

function postEvents(body: string, contentType = 'application/x-ndjson'): Promise<Response> {
  return fetch(`${worker.httpUrl}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': contentType },
    body,
  });
}

describe('deduplication', () => {
  it('stores an event sent 5 times, concurrently, through NATS and HTTP, once; running totals count it once', async () => {
    const source = testbed.sources[0] as string;
    const customer = `${testbed.name}-cust`;
    const event = signEvent(
      buildUnsignedEvent({
        source,
        customer_id: customer,
        event_id: 'evt-five-times',
        timestamp: new Date().toISOString(),
        quantity: '12.5',
      }),
      testbed.keys[source] as string,
    );
    const line = JSON.stringify(event);
    // A different event id through a stream consumer of its own would not help here: every copy goes through the real paths.
    const viaNats = () =>
      testbed.publisher.publish(addressUsageMessage(Buffer.from(line), event, testbed.config.subjectPrefix));
    const results = await Promise.all([
      viaNats(),
      viaNats(),
      postEvents(line),
      postEvents(JSON.stringify([event]), 'application/json'),
      viaNats(),
    ]);
    for (const response of results.filter((result): result is Response => result instanceof Response))
      expect(response.status).toBe(202);

    await waitUntil(
      async () =>
        worker.consumer.totals.accepted + worker.consumer.totals.duplicates >= 1 &&
        (await testbed.jsm.consumers.info(testbed.config.streamName, 'ingest')).num_ack_pending === 0 &&
        (await testbed.jsm.consumers.info(testbed.config.streamName, 'ingest')).num_pending === 0,
      30_000,
      'the stream to drain',
    );
    const stored = await pool.query(
      'SELECT quantity, late, period FROM usage_events WHERE source = $1 AND event_id = $2',
      [source, 'evt-five-times'],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]).toMatchObject({ quantity: '12.5', late: false });
    const totals = await pool.query(
      'SELECT event_count, quantity_sum FROM usage_running_totals WHERE customer_id = $1',
      [customer],
    );
    expect(totals.rows).toEqual([{ event_count: '1', quantity_sum: '12.5' }]);
    const periods = await pool.query(
      'SELECT period, workflow_started_at FROM customer_periods WHERE customer_id = $1',
      [customer],
    );
    expect(periods.rows).toEqual([{ period: stored.rows[0].period, workflow_started_at: null }]);
  });

  it('stores the same key again as a duplicate when it arrives after the server duplicate window (a new message id path)', async () => {
    const source = testbed.sources[1] as string;
    const customer = `${testbed.name}-late-dup`;
    const event = signEvent(
      buildUnsignedEvent({
        source,
        customer_id: customer,
        event_id: 'evt-replayed',
        timestamp: new Date().toISOString(),
      }),
      testbed.keys[source] as string,
    );
    const bytes = Buffer.from(JSON.stringify(event));
    const before = worker.consumer.totals.duplicates;
    // Different message ids stand for repeats the server window cannot see (replays, retries after the window).
    await testbed.publisher.publish({
      subject: `${testbed.config.subjectPrefix}.${source}`,
      messageId: 'replay-1',
      data: bytes,
    });
    await testbed.publisher.publish({
      subject: `${testbed.config.subjectPrefix}.${source}`,
      messageId: 'replay-2',
      data: bytes,
    });
    await testbed.publisher.publish({
      subject: `${testbed.config.subjectPrefix}.${source}`,
      messageId: 'replay-3',
      data: bytes,
    });
    await waitUntil(() => worker.consumer.totals.duplicates >= before + 2, 30_000, 'two duplicates');
    const stored = await pool.query('SELECT count(*)::int AS n FROM usage_events WHERE source = $1 AND event_id = $2', [
      source,
      'evt-replayed',
    ]);
    expect(stored.rows[0].n).toBe(1);
    const totals = await pool.query('SELECT event_count FROM usage_running_totals WHERE customer_id = $1', [customer]);
    expect(totals.rows).toEqual([{ event_count: '1' }]);
  });
});
