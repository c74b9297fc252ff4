import { describe, expect, it } from 'vitest';
import { ADVISORY_LOCKS } from '../../db/advisory-locks.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import { batchUsageMessage, addressUsageMessage, ensureUsageConsumer } from '../../ingest/usage-stream.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { ingestWorkerSuite, startTestWorker, waitUntil } from '../harness/ingest-harness.ts';

const suite = ingestWorkerSuite();
const { pool } = suite;

describe('batched messages (SPEC §1: up to 1,000 events per message as JSON Lines)', () => {
  it('validates, signs, dedupes and rejects every line on its own; a redelivery stores each event once', async () => {
    const { testbed, worker } = suite;
    const source = testbed.sources[0] as string;
    const secret = testbed.keys[source] as string;
    const customer = `${testbed.name}-batch`;
    const timestamp = new Date().toISOString();
    const good = (index: number, quantity = '1') =>
      signEvent(
        buildUnsignedEvent({ source, customer_id: customer, event_id: `b-${index}`, timestamp, quantity }),
        secret,
      );
    const lines: Buffer[] = [
      ...Array.from({ length: 95 }, (_, index) => Buffer.from(JSON.stringify(good(index)))),
      Buffer.from(`{"not json": ${JSON.stringify(customer)}`),
      Buffer.from(JSON.stringify({ ...good(200), quantity: '9' })), // bad signature
      Buffer.from(JSON.stringify({ ...good(201), quantity: 3 })), // schema violation
      Buffer.from(JSON.stringify(good(0))), // a duplicate of line 0
      Buffer.from(JSON.stringify(good(1, '2'))), // a conflict with line 1
    ];
    const message = batchUsageMessage(
      lines.map((line) => addressUsageMessage(line, undefined, testbed.config.subjectPrefix)),
      testbed.config.subjectPrefix,
    );
    expect(message.batchEvents).toBe(100);
    const before = { ...worker.consumer.totals };
    const outcome = await testbed.publisher.publish(message);
    expect(outcome.status).toBe('published');
    await waitUntil(
      () => worker.consumer.totals.messages >= before.messages + 100,
      30_000,
      'the 100 events of the batch processed',
    );

    const stored = await pool.query('SELECT event_id, quantity FROM usage_events WHERE customer_id = $1', [customer]);
    expect(stored.rows).toHaveLength(95);
    expect(stored.rows.find((row) => row.event_id === 'b-1')?.quantity).toBe('1');
    const rejected = await pool.query<{ reason: string; batch_line: number; stream_seq: string }>(
      `SELECT reason, batch_line, stream_seq FROM rejected_events
        WHERE stream_seq = $1 AND position(convert_to($2, 'UTF8') IN raw) > 0 ORDER BY batch_line`,
      [outcome.status === 'published' ? outcome.sequence : -1, customer],
    );
    expect(rejected.rows.map((row) => [row.batch_line, row.reason])).toEqual([
      [95, 'malformed_json'],
      [96, 'bad_signature'],
      [97, 'schema_violation'],
      [99, 'id_conflict'],
    ]);
    expect(worker.consumer.totals.duplicates - before.duplicates).toBe(1);
    const totals = await pool.query(
      'SELECT event_count, quantity_sum FROM usage_running_totals WHERE customer_id = $1',
      [customer],
    );
    expect(totals.rows).toEqual([{ event_count: '95', quantity_sum: '95' }]);

    // Redelivery: a second durable consumer reads the same message (same stream sequence and receipt
    // time), as a worker does after a crash before its ack. Nothing is stored twice.
    await ensureUsageConsumer(testbed.jsm, testbed.config.streamName, {
      durableName: 'redelivery',
      ackWaitMs: 30_000,
      maxAckPending: 1000,
    });
    const second = await startTestWorker(testbed, { consumerName: 'redelivery' });
    try {
      await waitUntil(
        async () => {
          const info = await testbed.jsm.consumers.info(testbed.config.streamName, 'redelivery');
          return info.num_pending === 0 && info.num_ack_pending === 0 && second.consumer.totals.messages >= 100;
        },
        30_000,
        'the second consumer to catch up',
      );
    } finally {
      await second.stop();
    }
    expect(
      (await pool.query('SELECT count(*)::int AS n FROM usage_events WHERE customer_id = $1', [customer])).rows[0].n,
    ).toBe(95);
    const again = await pool.query(
      `SELECT count(*)::int AS n FROM rejected_events WHERE position(convert_to($1, 'UTF8') IN raw) > 0`,
      [customer],
    );
    expect(again.rows[0].n).toBe(4);
    expect(
      (await pool.query('SELECT event_count FROM usage_running_totals WHERE customer_id = $1', [customer])).rows,
    ).toEqual([{ event_count: '95' }]);
  });

  it('while the writers are busy, input waits in one growing batch, not one small batch per wait', async () => {
    const { testbed, worker } = suite;
    const source = testbed.sources[0] as string;
    const secret = testbed.keys[source] as string;
    const customer = `${testbed.name}-lagging`;
    const timestamp = new Date().toISOString();
    const batchesBefore = worker.consumer.totals.batches;
    const messagesBefore = worker.consumer.totals.messages;
    // Every ingest transaction takes INGEST_COMMIT shared: held exclusively here, both writers wait.
    const blocker = await pool.connect();
    try {
      await blocker.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.INGEST_COMMIT]);
      // Ten messages, each arriving after the previous one's batch wait (20 ms) has run out.
      for (let index = 0; index < 10; index++) {
        const event = signEvent(
          buildUnsignedEvent({ source, customer_id: customer, event_id: `lag-${index}`, timestamp }),
          secret,
        );
        const outcome = await testbed.publisher.publish(
          addressUsageMessage(Buffer.from(JSON.stringify(event)), event, testbed.config.subjectPrefix),
        );
        expect(outcome.status).toBe('published');
        await new Promise((resolve) => setTimeout(resolve, 80));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await blocker.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.INGEST_COMMIT]).catch(() => undefined);
      blocker.release();
    }
    await waitUntil(() => worker.consumer.totals.messages >= messagesBefore + 10, 30_000, 'the 10 messages processed');
    expect(
      (await pool.query('SELECT count(*)::int AS n FROM usage_events WHERE customer_id = $1', [customer])).rows[0].n,
    ).toBe(10);
    // One batch in each of the two waiting writers, and everything after them in the one batch queued
    // behind them (before: a queue of small batches, one per wait, then the reader stopped).
    expect(worker.consumer.totals.batches - batchesBefore).toBeLessThanOrEqual(3);
  });
});
