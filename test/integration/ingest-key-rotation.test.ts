import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../config/services.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import { addressUsageMessage } from '../../ingest/usage-stream.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { ingestWorkerSuite, waitUntil } from '../harness/ingest-harness.ts';

const execFileAsync = promisify(execFile);
const suite = ingestWorkerSuite();
const { pool } = suite;

describe('key rotation', () => {
  it('accepts several secrets per source with an overlap window, reloads them without a restart, and reprocesses rejections under them', async () => {
    const { testbed, worker } = suite;
    const source = testbed.sources[0] as string;
    const oldKey = testbed.keys[source] as string;
    const newKey = `rotated-${oldKey}`;
    const customer = `${testbed.name}-rotation`;
    const send = async (eventId: string, secret: string): Promise<void> => {
      const event = signEvent(
        buildUnsignedEvent({ source, customer_id: customer, event_id: eventId, timestamp: new Date().toISOString() }),
        secret,
      );
      const before = worker.consumer.totals.messages;
      await testbed.publisher.publish(
        addressUsageMessage(Buffer.from(JSON.stringify(event)), event, testbed.config.subjectPrefix),
      );
      await waitUntil(() => worker.consumer.totals.messages > before, 30_000, `${eventId} processed`);
    };
    const isStored = async (eventId: string): Promise<boolean> =>
      (await pool.query('SELECT 1 FROM usage_events WHERE source = $1 AND event_id = $2', [source, eventId]))
        .rowCount === 1;

    // Signed with the new key before the worker knows it: rejected.
    await send('rot-early', newKey);
    expect(await isStored('rot-early')).toBe(false);

    // The key file gets the new key first and keeps the old one for an hour; the worker picks it up running.
    await writeFile(
      testbed.keysFile,
      JSON.stringify({
        ...testbed.keys,
        [source]: [newKey, { secret: oldKey, until: new Date(Date.now() + 3_600_000).toISOString() }],
      }),
    );
    let attempt = 0;
    await waitUntil(
      async () => {
        attempt++;
        await send(`rot-new-${attempt}`, newKey);
        return isStored(`rot-new-${attempt}`);
      },
      30_000,
      'the new key in use without a restart',
    );
    await send('rot-old-in-overlap', oldKey);
    expect(await isStored('rot-old-in-overlap')).toBe(true);

    // Reprocess the rejection under today's keys: stored once, the rejection kept; a second run finds a duplicate.
    const reprocess = async () => {
      const { stdout } = await execFileAsync(
        process.execPath,
        [
          path.join(repositoryRoot, 'bin', 'tally.mjs'),
          'events',
          'reprocess',
          '--reason',
          'bad_signature',
          '--source',
          source,
          '--json',
        ],
        { env: { ...process.env, ...testbed.childEnv } },
      );
      return JSON.parse(stdout) as { examined: number; stored: number; duplicates: number; stillRejected: number };
    };
    // Rejected with the new key: rot-early and every attempt before the reload took effect.
    const rejectedWithNewKey = attempt;
    const first = await reprocess();
    expect(first).toEqual({
      examined: rejectedWithNewKey,
      stored: rejectedWithNewKey,
      duplicates: 0,
      stillRejected: 0,
    });
    expect(await isStored('rot-early')).toBe(true);
    expect(await reprocess()).toEqual({
      examined: rejectedWithNewKey,
      stored: 0,
      duplicates: rejectedWithNewKey,
      stillRejected: 0,
    });
    const rejection = await pool.query(
      "SELECT reason FROM rejected_events WHERE source = $1 AND event_id = 'rot-early'",
      [source],
    );
    expect(rejection.rows).toEqual([{ reason: 'bad_signature' }]);

    // The overlap ends: the old key no longer verifies events received after its `until`.
    await writeFile(
      testbed.keysFile,
      JSON.stringify({
        ...testbed.keys,
        [source]: [newKey, { secret: oldKey, until: new Date(Date.now() - 1000).toISOString() }],
      }),
    );
    let ended = 0;
    await waitUntil(
      async () => {
        ended++;
        await send(`rot-old-after-${ended}`, oldKey);
        return !(await isStored(`rot-old-after-${ended}`));
      },
      30_000,
      'the old key retired',
    );
    const retired = await pool.query('SELECT reason FROM rejected_events WHERE source = $1 AND event_id = $2', [
      source,
      `rot-old-after-${ended}`,
    ]);
    expect(retired.rows).toEqual([{ reason: 'bad_signature' }]);
  }, 120_000);
});
