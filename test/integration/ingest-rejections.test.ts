import { describe, expect, it } from 'vitest';
import { signEvent } from '../../contracts/event-signature.ts';
import type { RejectionReason } from '../../contracts/rejection-reason.ts';
import type { UnsignedUsageEvent } from '../../contracts/usage-event.ts';
import { addressUsageMessage } from '../../ingest/usage-stream.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { SCHEMA_VIOLATIONS } from '../builders/schema-violations.ts';
import { ingestWorkerSuite, waitUntil } from '../harness/ingest-harness.ts';

const suite = ingestWorkerSuite();
const { pool } = suite;

const DAY_MS = 86_400_000;

describe('rejections', () => {
  it('stores each kind of bad input with its reason; count in = accepted + duplicates + rejected', async () => {
    const source = suite.testbed.sources[0] as string;
    const secret = suite.testbed.keys[source] as string;
    const customer = `${suite.testbed.name}-c1`;
    const nowMs = Date.now();
    const event = (overrides: Partial<UnsignedUsageEvent>): UnsignedUsageEvent =>
      buildUnsignedEvent({ source, customer_id: customer, timestamp: new Date(nowMs).toISOString(), ...overrides });

    const inputs: Array<{ bytes: string; expected: RejectionReason | 'accepted' | 'duplicate'; path?: string }> = [];
    const add = (value: unknown, expected: RejectionReason | 'accepted' | 'duplicate', path?: string): void => {
      inputs.push({ bytes: typeof value === 'string' ? value : JSON.stringify(value), expected, path });
    };
    add(`{"schema_version": 1, "event_id": "${suite.testbed.name}-truncated`, 'malformed_json');
    add(`not json at all ${suite.testbed.name}`, 'malformed_json');
    SCHEMA_VIOLATIONS.forEach((violation, index) => {
      const valid = signEvent(event({ event_id: `schema-${index}` }), secret) as unknown as Record<string, unknown>;
      // Keep the testbed's name in every input, so its rows can be counted in the shared tables.
      add(
        {
          ...violation.mutate(valid),
          ...(violation.path === 'source' || violation.path === 'customer_id'
            ? { customer_note: suite.testbed.name }
            : {}),
        },
        'schema_violation',
        violation.path,
      );
    });
    add(signEvent(event({ event_id: 'bad-signature' }), 'another-secret-0123456789'), 'bad_signature');
    const tampered = signEvent(event({ event_id: 'tampered', quantity: '1' }), secret);
    add({ ...tampered, quantity: '1000' }, 'bad_signature');
    add(
      signEvent(event({ event_id: 'stranger', source: `${suite.testbed.name}-unknown` }), 'stranger-secret-0123456789'),
      'unknown_source',
    );
    add(
      signEvent(event({ event_id: 'too-old', timestamp: new Date(nowMs - 36 * DAY_MS).toISOString() }), secret),
      'timestamp_too_old',
    );
    add(
      signEvent(event({ event_id: 'future', timestamp: new Date(nowMs + 10 * 60_000).toISOString() }), secret),
      'timestamp_in_future',
    );
    add(
      signEvent(event({ event_id: 'in-window-old', timestamp: new Date(nowMs - 34 * DAY_MS).toISOString() }), secret),
      'accepted',
    );
    add(signEvent(event({ event_id: 'first', quantity: '5' }), secret), 'accepted');
    add(signEvent(event({ event_id: 'first', quantity: '5' }), secret), 'duplicate');
    add(signEvent(event({ event_id: 'first', quantity: '6' }), secret), 'id_conflict');
    add(signEvent(event({ event_id: 'second', quantity: '0.000000000001' }), secret), 'accepted');

    // Publish one at a time, in order, each with its own message id, so that every input reaches the suite.worker.
    for (const [index, input] of inputs.entries()) {
      const outcome = await suite.testbed.publisher.publish({
        ...addressUsageMessage(Buffer.from(input.bytes), undefined, suite.testbed.config.subjectPrefix),
        messageId: `${suite.testbed.name}-${index}`,
      });
      expect(outcome.status).toBe('published');
    }
    await waitUntil(() => suite.worker.consumer.totals.messages >= inputs.length, 30_000, 'every input processed');

    const totals = suite.worker.consumer.totals;
    const rejectedTotal = Object.values(totals.rejected).reduce((sum, count) => sum + count, 0);
    expect(totals.messages).toBe(inputs.length);
    expect(totals.accepted + totals.duplicates + rejectedTotal).toBe(inputs.length);
    expect(totals.accepted).toBe(inputs.filter((input) => input.expected === 'accepted').length);
    expect(totals.duplicates).toBe(1);

    const rejected = await pool.query<{ reason: string; detail: string; raw: Buffer; received_at: Date }>(
      `SELECT reason, detail, raw, received_at FROM rejected_events WHERE position(convert_to($1, 'UTF8') IN raw) > 0 ORDER BY stream_seq`,
      [suite.testbed.name],
    );
    const expectedRejections = inputs.filter(
      (input) => input.expected !== 'accepted' && input.expected !== 'duplicate',
    );
    expect(rejected.rows.map((row) => row.reason)).toEqual(expectedRejections.map((input) => input.expected));
    rejected.rows.forEach((row, index) => {
      const input = expectedRejections[index];
      expect(row.raw.toString('utf8')).toBe(input?.bytes);
      if (input?.path !== undefined) expect(row.detail).toContain(input.path);
      expect(row.received_at).toBeInstanceOf(Date);
    });
    const conflict = rejected.rows.find((row) => row.reason === 'id_conflict');
    expect(conflict?.detail).toMatch(/already stored with body sha256 [0-9a-f]{64}/);

    const accepted = await pool.query<{ event_id: string; quantity: string }>(
      'SELECT event_id, quantity FROM usage_events WHERE source = $1 ORDER BY event_id',
      [source],
    );
    expect(accepted.rows).toEqual([
      { event_id: 'first', quantity: '5' },
      { event_id: 'in-window-old', quantity: '1000' },
      { event_id: 'second', quantity: '0.000000000001' },
    ]);
  });

  it('refuses to change or delete stored history', async () => {
    await expect(
      pool.query('UPDATE usage_events SET quantity = 0 WHERE source = $1', [suite.testbed.sources[0]]),
    ).rejects.toThrow(/append-only/);
    // A real rejection of this test's, not an empty match: the refusal must come from the trigger.
    const kept = `SELECT count(*)::int AS n FROM rejected_events WHERE position(convert_to($1, 'UTF8') IN raw) > 0`;
    const before = (await pool.query<{ n: number }>(kept, [suite.testbed.name])).rows[0]?.n ?? 0;
    expect(before).toBeGreaterThan(0);
    await expect(
      pool.query(`DELETE FROM rejected_events WHERE position(convert_to($1, 'UTF8') IN raw) > 0`, [suite.testbed.name]),
    ).rejects.toThrow(/append-only/);
    await expect(
      pool.query(
        `UPDATE rejected_events SET reason = 'malformed_json' WHERE position(convert_to($1, 'UTF8') IN raw) > 0`,
        [suite.testbed.name],
      ),
    ).rejects.toThrow(/append-only/);
    expect((await pool.query<{ n: number }>(kept, [suite.testbed.name])).rows[0]?.n).toBe(before);
    await expect(
      pool.query('DELETE FROM usage_event_keys WHERE source = $1', [suite.testbed.sources[0]]),
    ).rejects.toThrow(/append-only/);
    await expect(pool.query('TRUNCATE usage_events')).rejects.toThrow(/append-only/);
  });
});
