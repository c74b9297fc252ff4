import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEvent } from '../../contracts/event-signature.ts';
import { addressUsageMessage, batchUsageMessage, type OutgoingUsageMessage } from '../../ingest/usage-stream.ts';
import type { IngestWorker } from '../../workers/ingest-worker.ts';
import { unsignedEventArbitrary } from '../builders/usage-event-arbitraries.ts';
import { createIngestTestbed, startTestWorker, waitUntil, type IngestTestbed } from '../harness/ingest-harness.ts';
import { testPool } from '../harness/services.ts';

const pool = testPool();
let testbed: IngestTestbed;
let worker: IngestWorker;

beforeAll(async () => {
  testbed = await createIngestTestbed({ sources: 1 });
  worker = await startTestWorker(testbed);
});

afterAll(async () => {
  await worker.stop();
  await testbed.close();
  await pool.end();
});

describe('fuzzing the worker', () => {
  it('never crashes, and every message ends accepted, duplicate or rejected', async () => {
    const source = testbed.sources[0] as string;
    const secret = testbed.keys[source] as string;
    const nowMs = Date.now();
    // Near-valid events: valid ones moved into the accept window and signed with the testbed's key, then
    // perhaps broken at one byte or one field.
    const nearValid = fc
      .tuple(
        unsignedEventArbitrary,
        fc.integer({ min: -40 * 86_400, max: 600 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('keep', 'byte', 'field', 'drop'),
      )
      .map(([event, offsetSeconds, position, byte, how]) => {
        const signed = signEvent(
          { ...event, source, timestamp: new Date(nowMs + offsetSeconds * 1000).toISOString() },
          secret,
        );
        const bytes = Buffer.from(JSON.stringify(signed));
        if (how === 'byte') bytes[position % bytes.length] = byte;
        if (how === 'field')
          return Buffer.from(JSON.stringify({ ...signed, quantity: Number.parseFloat(signed.quantity) }));
        if (how === 'drop') return bytes.subarray(0, position % bytes.length);
        return bytes;
      });
    const anyBytes = fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes));
    const jsonish = fc.json().map((text) => Buffer.from(text));
    const inputs = fc.sample(
      fc.oneof(
        { arbitrary: nearValid, weight: 3 },
        { arbitrary: anyBytes, weight: 1 },
        { arbitrary: jsonish, weight: 1 },
      ),
      { numRuns: 1500, seed: 42 },
    );
    inputs.push(
      Buffer.alloc(0),
      Buffer.from('\u0000'),
      Buffer.from([0xff, 0xfe, 0x00]),
      Buffer.from('{"metadata":{"sku":"\\u0000"}}'),
    );

    // Every third input, when it is one line (no newline, not blank), goes into a batched message of
    // up to 40 lines (SPEC §1): bad lines among good ones, each judged on its own.
    const singles: Buffer[] = [];
    const lines: Buffer[] = [];
    inputs.forEach((input, index) => {
      const oneLine = !input.includes(0x0a) && !input.includes(0x0d) && input.toString('latin1').trim().length > 0;
      (index % 3 === 0 && oneLine ? lines : singles).push(input);
    });
    const messages: OutgoingUsageMessage[] = singles.map((input) =>
      addressUsageMessage(input, undefined, testbed.config.subjectPrefix),
    );
    for (let start = 0; start < lines.length; start += 40) {
      messages.push(
        batchUsageMessage(
          lines
            .slice(start, start + 40)
            .map((line) => addressUsageMessage(line, undefined, testbed.config.subjectPrefix)),
          testbed.config.subjectPrefix,
        ),
      );
    }
    expect(lines.length).toBeGreaterThan(100);
    let published = 0;
    let serverDuplicates = 0;
    for (const message of messages) {
      const outcome = await testbed.publisher.publish(message);
      const events = message.batchEvents ?? 1;
      if (outcome.status === 'published') published += events;
      else if (outcome.status === 'duplicate') serverDuplicates += events;
      else if (outcome.status === 'failed') throw outcome.error;
    }
    expect(published + serverDuplicates).toBe(inputs.length);
    await waitUntil(() => worker.consumer.totals.messages >= published, 60_000, 'every fuzzed message processed');

    const totals = worker.consumer.totals;
    const rejected = Object.values(totals.rejected).reduce((sum, count) => sum + count, 0);
    expect(totals.messages).toBe(published);
    expect(totals.accepted + totals.duplicates + rejected).toBe(published);
    expect(totals.databaseErrors).toBe(0);
    // The inputs reach every branch: some accepted, and the structural and signature rejections.
    expect(totals.accepted).toBeGreaterThan(0);
    for (const reason of [
      'malformed_json',
      'schema_violation',
      'bad_signature',
      'timestamp_too_old',
      'timestamp_in_future',
    ] as const) {
      expect(totals.rejected[reason] ?? 0).toBeGreaterThan(0);
    }
    const stored = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_events WHERE source = $1', [
      source,
    ]);
    expect(stored.rows[0]?.n).toBe(totals.accepted);
    const info = await testbed.jsm.consumers.info(testbed.config.streamName, testbed.config.consumerName);
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  }, 120_000);
});
