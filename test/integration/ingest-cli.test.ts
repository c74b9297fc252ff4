import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../config/services.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { ingestWorkerSuite, waitUntil } from '../harness/ingest-harness.ts';

const execFileAsync = promisify(execFile);
const suite = ingestWorkerSuite();
const { pool } = suite;

async function tally(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [path.join(repositoryRoot, 'bin', 'tally.mjs'), ...args],
      { env: { ...process.env, ...suite.testbed.childEnv } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('tally send and tally ingest status', () => {
  it('signs and publishes a file, names bad lines with file:line and exits 2, and the worker stores the rest', async () => {
    const source = suite.testbed.sources[0] as string;
    const timestamp = new Date().toISOString();
    const lines = [
      JSON.stringify(
        buildUnsignedEvent({ source, customer_id: `${suite.testbed.name}-cli`, event_id: 'cli-1', timestamp }),
      ),
      JSON.stringify(
        buildUnsignedEvent({
          source,
          customer_id: `${suite.testbed.name}-cli`,
          event_id: 'cli-2',
          timestamp,
          quantity: '0.5',
        }),
      ),
      '{"this is": "not an event"',
      JSON.stringify({ ...buildUnsignedEvent({ source, event_id: 'cli-3', timestamp }), quantity: 3 }),
      '',
      JSON.stringify(
        buildUnsignedEvent({ source, customer_id: `${suite.testbed.name}-cli`, event_id: 'cli-1', timestamp }),
      ),
    ];
    const file = path.join(suite.testbed.directory, 'events.jsonl');
    await writeFile(file, `${lines.join('\n')}\n`);

    const sent = await tally(['send', file, '--keys', suite.testbed.keysFile, '--json']);
    expect(sent.code).toBe(2);
    expect(JSON.parse(sent.stdout)).toMatchObject({ published: 2, duplicates: 1, failed: 0, invalid: 2, signed: 3 });
    expect(sent.stderr).toContain(`${file}:3: malformed_json`);
    expect(sent.stderr).toContain(`${file}:4: schema_violation: quantity`);

    await waitUntil(
      async () =>
        (await pool.query('SELECT count(*)::int AS n FROM usage_events WHERE source = $1', [source])).rows[0].n === 2,
      30_000,
      'two events stored',
    );
    const status = await tally(['ingest', 'status', '--json']);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as {
      consumer: { pending: number; ack_pending: number };
      stream: { messages: number };
      tables: { usage_events: string };
    };
    // One batched message (tally send --batch defaults to 100 events per message).
    expect(parsed.stream.messages).toBe(1);
    expect(parsed.consumer).toMatchObject({
      pending: 0,
      ack_pending: 0,
      committed_before: expect.stringMatching(/^\d{4}-/),
    });
    expect(Number.parseInt(parsed.tables.usage_events, 10)).toBeGreaterThanOrEqual(2);
    const readable = await tally(['ingest', 'status']);
    expect(readable.stdout).toMatch(/consumer {2}ingest: lag 0/);
  }, 120_000);

  it('refuses to sign without a key for the source, and sends signed events as they are', async () => {
    const source = suite.testbed.sources[1] as string;
    const file = path.join(suite.testbed.directory, 'unsigned.jsonl');
    const signed = signEvent(
      buildUnsignedEvent({ source, event_id: 'pre-signed', timestamp: new Date().toISOString() }),
      suite.testbed.keys[source] as string,
    );
    await writeFile(
      file,
      [
        JSON.stringify(buildUnsignedEvent({ source, event_id: 'no-key', timestamp: new Date().toISOString() })),
        JSON.stringify(signed),
      ].join('\n'),
    );
    const sent = await tally(['send', file, '--json']);
    expect(sent.code).toBe(2);
    expect(sent.stderr).toContain(`${file}:1: unknown_source: no signing key for source "${source}" (give --keys)`);
    expect(JSON.parse(sent.stdout)).toMatchObject({ published: 1, invalid: 1, signed: 0 });
    await waitUntil(
      async () =>
        (
          await pool.query('SELECT signature FROM usage_events WHERE source = $1 AND event_id = $2', [
            source,
            'pre-signed',
          ])
        ).rows[0]?.signature === signed.signature,
      30_000,
      'the pre-signed event stored',
    );
  }, 60_000);

  it('names the path when given a directory instead of an event file', async () => {
    const sent = await tally(['send', suite.testbed.directory]);
    expect(sent.code).not.toBe(0);
    expect(sent.stderr).toContain(`${suite.testbed.directory}: is a directory`);
  });

  it('never rewrites the shared stream from a producer environment; it warns about the drift instead', async () => {
    const { streamName } = suite.testbed.config;
    const before = (await suite.testbed.jsm.streams.info(streamName)).config;
    const file = path.join(suite.testbed.directory, 'empty.jsonl');
    await writeFile(file, '');
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [path.join(repositoryRoot, 'bin', 'tally.mjs'), 'send', file, '--json'],
      {
        env: {
          ...process.env,
          ...suite.testbed.childEnv,
          TALLY_INGEST_DUPLICATE_WINDOW: '1s',
          TALLY_INGEST_STREAM_MAX_AGE: '1m',
        },
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({ published: 0 });
    expect(stderr).toContain('duplicate_window is');
    const after = (await suite.testbed.jsm.streams.info(streamName)).config;
    expect(after.duplicate_window).toBe(before.duplicate_window);
    expect(after.max_age).toBe(before.max_age);
  });

  it('configures the stream to refuse publishes at its limits and to deny deletes and purges', async () => {
    const config = (await suite.testbed.jsm.streams.info(suite.testbed.config.streamName)).config;
    expect(config).toMatchObject({ discard: 'new', deny_delete: true, deny_purge: true, retention: 'limits' });
  });
});
