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

describe('a message id that ignores the body loses events inside the duplicate window (issues 17 and 12)', () => {
  async function storedCount(source: string, eventId: string): Promise<number> {
    const result = await pool.query('SELECT count(*)::int AS n FROM usage_events WHERE source = $1 AND event_id = $2', [
      source,
      eventId,
    ]);
    return result.rows[0].n;
  }

  async function rejections(source: string, eventId: string): Promise<string[]> {
    const result = await pool.query(
      'SELECT reason FROM rejected_events WHERE source = $1 AND event_id = $2 ORDER BY stream_seq',
      [source, eventId],
    );
    return result.rows.map((row) => row.reason);
  }

  it('processes a corrected resend of a rejected event (bad signature, then fixed) through NATS and HTTP', async () => {
    const source = testbed.sources[0] as string;
    for (const [path, eventId] of [
      ['nats', 'evt-fixed-nats'],
      ['http', 'evt-fixed-http'],
    ] as const) {
      const unsigned = buildUnsignedEvent({
        source,
        customer_id: `${testbed.name}-fixed`,
        event_id: eventId,
        timestamp: new Date().toISOString(),
      });
      const wrong = signEvent(unsigned, 'not-the-key-of-this-source-000000');
      const fixed = signEvent(unsigned, testbed.keys[source] as string);
      for (const event of [wrong, fixed]) {
        const line = JSON.stringify(event);
        if (path === 'nats') {
          const outcome = await testbed.publisher.publish(
            addressUsageMessage(Buffer.from(line), event, testbed.config.subjectPrefix),
          );
          expect(outcome.status).toBe('published');
        } else {
          const response = await postEvents(line);
          expect(response.status).toBe(202);
          const body = (await response.json()) as { items: Array<{ status: string }> };
          expect(body.items[0]?.status).not.toBe('duplicate');
        }
        await waitUntil(
          async () => (await storedCount(source, eventId)) + (await rejections(source, eventId)).length >= 1,
          30_000,
          `${path} ${eventId} processed`,
        );
      }
      await waitUntil(async () => (await storedCount(source, eventId)) === 1, 30_000, `${eventId} stored`);
      expect(await rejections(source, eventId)).toEqual(['bad_signature']);
    }
  });

  it('records a different body under an accepted key as id_conflict, and tells the producer it was not a duplicate', async () => {
    const source = testbed.sources[1] as string;
    const unsigned = buildUnsignedEvent({
      source,
      customer_id: `${testbed.name}-conflict`,
      event_id: 'evt-conflict-in-window',
      timestamp: new Date().toISOString(),
      quantity: '5',
    });
    const first = signEvent(unsigned, testbed.keys[source] as string);
    const second = signEvent({ ...unsigned, quantity: '7' }, testbed.keys[source] as string);
    const firstResponse = await postEvents(JSON.stringify(first));
    expect(firstResponse.status).toBe(202);
    await waitUntil(async () => (await storedCount(source, 'evt-conflict-in-window')) === 1, 30_000, 'first stored');
    const viaNats = await testbed.publisher.publish(
      addressUsageMessage(Buffer.from(JSON.stringify(second)), second, testbed.config.subjectPrefix),
    );
    expect(viaNats.status).toBe('published');
    const viaHttp = await postEvents(JSON.stringify([second]), 'application/json');
    expect(viaHttp.status).toBe(202);
    await waitUntil(
      async () => (await rejections(source, 'evt-conflict-in-window')).length >= 1,
      30_000,
      'the conflict recorded',
    );
    expect(await rejections(source, 'evt-conflict-in-window')).toContain('id_conflict');
    const stored = await pool.query('SELECT quantity FROM usage_events WHERE source = $1 AND event_id = $2', [
      source,
      'evt-conflict-in-window',
    ]);
    expect(stored.rows).toEqual([{ quantity: '5' }]);
  });
});
