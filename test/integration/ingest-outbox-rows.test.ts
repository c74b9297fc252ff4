import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../db/pool.ts';
import { BatchWriter } from '../../ingest/batch-writer.ts';
import { classifyMessage, DEFAULT_ACCEPT_WINDOW, type ClassifiedMessage } from '../../ingest/classify-message.ts';
import { buildUsageEvent, TEST_SOURCE_KEYS } from '../builders/usage-event.ts';
import { createTestDatabase } from '../harness/test-database.ts';

// A writer remembers the customer-periods it saw committed and tells the write statement which of a
// batch's events need no outbox row (docs/decisions/ingest.md, Storage). Whatever the writer knows,
// every event is stored with its running totals, and a customer-period's outbox row appears with the
// first batch that stores one of its events and keeps that batch's earliest times.

let pool: ReturnType<typeof createPool>;
beforeAll(async () => {
  pool = createPool(await createTestDatabase('ingest_outbox_rows'), { max: 3 });
});
afterAll(async () => {
  await pool.end();
});

const RECEIVED_AT_NANOS = BigInt(Date.parse('2026-11-20T12:00:00Z')) * 1_000_000n;
let streamSeq = 0;

function classified(customer: string, timestamp: string, quantity = '1'): ClassifiedMessage {
  const event = buildUsageEvent({ customer_id: customer, timestamp, quantity });
  const result = classifyMessage(
    {
      streamSeq: ++streamSeq,
      batchLine: 0,
      receivedAtNanos: RECEIVED_AT_NANOS,
      data: Buffer.from(JSON.stringify(event)),
    },
    TEST_SOURCE_KEYS,
    DEFAULT_ACCEPT_WINDOW,
  );
  expect(result.kind).toBe('accepted');
  return result;
}

async function outboxRows(): Promise<Array<{ customer_id: string; period: string; first_event_at: string }>> {
  const { rows } = await pool.query<{ customer_id: string; period: string; first_event_at: string }>(
    `SELECT customer_id, period, to_char(first_event_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS first_event_at
       FROM customer_periods ORDER BY customer_id, period`,
  );
  return rows;
}

describe('the period outbox rows written by ingest', () => {
  it('appear with the first batch of a customer-period, whether the writer knows the pairs of a batch, some of them or none', async () => {
    const writer = new BatchWriter(pool);
    // Batch 1: nothing known yet.
    const first = await writer.write([
      classified('outbox-a', '2026-11-12T10:00:00Z', '2'),
      classified('outbox-a', '2026-11-10T08:00:00Z', '3'),
    ]);
    expect(first.accepted).toBe(2);
    expect(await outboxRows()).toEqual([
      { customer_id: 'outbox-a', period: '2026-11', first_event_at: '2026-11-10T08:00:00' },
    ]);

    // Batch 2: outbox-a's period is known to this writer now, and the batch holds nothing else.
    const second = await writer.write([classified('outbox-a', '2026-11-01T01:00:00Z', '5')]);
    expect(second.accepted).toBe(1);

    // Batch 3: a known pair and two new ones; the known pair's earlier event does not move its row.
    const third = await writer.write([
      classified('outbox-a', '2026-11-02T00:00:00Z'),
      classified('outbox-b', '2026-11-15T00:00:00Z'),
      classified('outbox-b', '2026-11-14T00:00:00Z'),
      classified('outbox-c', '2026-10-30T00:00:00Z'),
    ]);
    expect(third.accepted).toBe(4);

    // Batch 4: a writer that knows nothing (another worker) finds every row there.
    const fourth = await new BatchWriter(pool).write([
      classified('outbox-a', '2026-11-01T00:00:00Z'),
      classified('outbox-c', '2026-10-20T00:00:00Z'),
    ]);
    expect(fourth.accepted).toBe(2);

    expect(await outboxRows()).toEqual([
      { customer_id: 'outbox-a', period: '2026-11', first_event_at: '2026-11-10T08:00:00' },
      { customer_id: 'outbox-b', period: '2026-11', first_event_at: '2026-11-14T00:00:00' },
      { customer_id: 'outbox-c', period: '2026-10', first_event_at: '2026-10-30T00:00:00' },
    ]);
    const totals = await pool.query<{ customer_id: string; period: string; event_count: string; quantity_sum: string }>(
      `SELECT customer_id, period, event_count, quantity_sum::text FROM usage_running_totals ORDER BY customer_id, period`,
    );
    expect(totals.rows).toEqual([
      { customer_id: 'outbox-a', period: '2026-11', event_count: '5', quantity_sum: '12' },
      { customer_id: 'outbox-b', period: '2026-11', event_count: '2', quantity_sum: '2' },
      { customer_id: 'outbox-c', period: '2026-10', event_count: '2', quantity_sum: '2' },
    ]);
    const stored = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_events`);
    expect(stored.rows[0]?.n).toBe(9);
  });
});
