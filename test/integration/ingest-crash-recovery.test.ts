import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../config/services.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import { addressUsageMessage, batchUsageMessage, type OutgoingUsageMessage } from '../../ingest/usage-stream.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import {
  removeStackData,
  startService,
  startStack,
  stopService,
  stopStack,
  type ServiceName,
  type StackLayout,
} from '../../stack/index.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { createIngestTestbed, startTestWorker, waitUntil, type IngestTestbed } from '../harness/ingest-harness.ts';
import { testStack } from '../harness/services.ts';
import type { ProvidedStack } from '../harness/test-stack.ts';

// These tests kill and restart NATS and Postgres, so they run on a private NATS + Postgres of their
// own: the run's shared stack keeps serving the other test files meanwhile.
let stack: ProvidedStack;
let pool: pg.Pool;
const testbeds: IngestTestbed[] = [];
beforeAll(async () => {
  const shared = testStack().layout;
  const layout: StackLayout = {
    ...shared,
    portBase: shared.portBase + 200,
    dataDir: await mkdtemp(path.join(os.tmpdir(), 'tally-ingest-crash-')),
  };
  const endpoints = await startStack(layout, log, ['postgres', 'nats']);
  stack = { layout, endpoints: { ...endpoints, temporalAddress: testStack().endpoints.temporalAddress } };
  pool = createPool(endpoints.databaseUrl, { max: 5 });
  await migrate(pool);
}, 120_000);
afterAll(async () => {
  for (const testbed of testbeds) await testbed.close();
  await pool.end();
  await stopStack(stack.layout, log);
  await removeStackData(stack.layout);
});

const log = (line: string): void => {
  if (process.env.TALLY_TEST_VERBOSE) process.stderr.write(`[crash-test] ${line}\n`);
};

const BATCH_BLOCK = 50;

async function publishEvents(testbed: IngestTestbed, from: number, to: number): Promise<void> {
  let batch: OutgoingUsageMessage[] = [];
  const source = testbed.sources[0] as string;
  const secret = testbed.keys[source] as string;
  const nowMs = Date.now();
  for (let index = from; index < to; index++) {
    const event = signEvent(
      buildUnsignedEvent({
        source,
        event_id: `e-${index}`,
        customer_id: `${testbed.name}-c${index % 97}`,
        timestamp: new Date(nowMs - (index % 3600) * 1000).toISOString(),
        quantity: `${index % 1000}.5`,
      }),
      secret,
    );
    const message = addressUsageMessage(Buffer.from(JSON.stringify(event)), event, testbed.config.subjectPrefix);
    // Blocks of 50 alternate between one message per event and one batched message of 50 (SPEC §1).
    if (Math.floor(index / BATCH_BLOCK) % 2 === 0) {
      await testbed.publisher.enqueue(message);
    } else {
      batch.push(message);
      if (batch.length === BATCH_BLOCK || index === to - 1) {
        await testbed.publisher.enqueue(batchUsageMessage(batch, testbed.config.subjectPrefix));
        batch = [];
      }
    }
  }
  if (batch.length > 0) await testbed.publisher.enqueue(batchUsageMessage(batch, testbed.config.subjectPrefix));
  const summary = await testbed.publisher.flush();
  if (summary.failed > 0) throw new Error(`${summary.failed} publishes failed`);
}

async function storedCount(testbed: IngestTestbed): Promise<number> {
  const result = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_events WHERE source = $1', [
    testbed.sources[0],
  ]);
  return result.rows[0]?.n ?? 0;
}

/** Checks that every event 0..count-1 is stored exactly once, and the running totals and keys agree. */
async function expectExactlyOnce(testbed: IngestTestbed, count: number): Promise<void> {
  const source = testbed.sources[0] as string;
  const events = await pool.query<{ total: number; distinct_ids: number; quantity: string }>(
    'SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct_ids, sum(quantity)::text AS quantity FROM usage_events WHERE source = $1',
    [source],
  );
  expect(events.rows[0]).toMatchObject({ total: count, distinct_ids: count });
  const keys = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_event_keys WHERE source = $1', [
    source,
  ]);
  expect(keys.rows[0]?.n).toBe(count);
  const totals = await pool.query<{ events: string; quantity: string }>(
    'SELECT sum(event_count)::text AS events, sum(quantity_sum)::text AS quantity FROM usage_running_totals WHERE customer_id LIKE $1',
    [`${testbed.name}-c%`],
  );
  expect(totals.rows[0]).toEqual({ events: String(count), quantity: events.rows[0]?.quantity });
  const rejected = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rejected_events WHERE source = $1', [
    source,
  ]);
  expect(rejected.rows[0]?.n).toBe(0);
}

async function streamDrained(testbed: IngestTestbed): Promise<boolean> {
  const info = await testbed.jsm.consumers
    .info(testbed.config.streamName, testbed.config.consumerName)
    .catch(() => undefined);
  return info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0;
}

/**
 * Starts a killed service again. A killed server can linger a moment as a zombie that its lock
 * file check still sees (Postgres: "lock file postmaster.pid already exists"), so retry for a while.
 */
async function restartService(layout: StackLayout, service: ServiceName): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await startService(layout, service, log);
      return;
    } catch (error) {
      if (attempt >= 30) throw error;
      log(`${service}: restart attempt ${attempt} failed; retrying`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function spawnWorker(testbed: IngestTestbed, label: string): ChildProcess {
  const output = openSync(path.join(testbed.directory, `worker-${label}.log`), 'a');
  return spawn(process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), 'ingest'], {
    env: { ...process.env, ...testbed.childEnv },
    stdio: ['ignore', output, output],
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('crash recovery', () => {
  it('stores every event exactly once when the worker is killed -9 in the middle of 200,000 and restarted', async () => {
    const total = 200_000;
    // A short ack wait: what the killed worker had taken but not acked comes back quickly.
    const testbed = await createIngestTestbed({ stack, sources: 1, config: { ackWaitMs: 3000, batchSize: 1000 } });
    testbeds.push(testbed);
    const first = spawnWorker(testbed, 'first');
    const publishing = publishEvents(testbed, 0, total);
    await waitUntil(
      async () => (await storedCount(testbed)) >= 40_000,
      240_000,
      'the first worker to store 40,000 events',
    );
    first.kill('SIGKILL');
    await exited(first);
    const atKill = await storedCount(testbed);
    log(`killed the worker with ${atKill} events stored`);
    expect(atKill).toBeLessThan(total);

    const second = spawnWorker(testbed, 'second');
    try {
      await publishing;
      await waitUntil(
        async () => (await storedCount(testbed)) >= total && (await streamDrained(testbed)),
        300_000,
        'all events stored after the restart',
      );
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
    expect(second.exitCode).toBe(0);
    await expectExactlyOnce(testbed, total);
  }, 600_000);

  it('drains on SIGTERM: stops fetching, writes and acks what it took, and exits 0', async () => {
    // A long ack wait: nothing is redelivered while the counts are read.
    const testbed = await createIngestTestbed({ stack, sources: 1, config: { ackWaitMs: 600_000, batchSize: 500 } });
    testbeds.push(testbed);
    await publishEvents(testbed, 0, 30_000);
    const worker = spawnWorker(testbed, 'drain');
    await waitUntil(async () => (await storedCount(testbed)) >= 2000, 120_000, 'the worker to store 2,000 events');
    worker.kill('SIGTERM');
    await exited(worker);
    expect(worker.exitCode).toBe(0);
    const info = await testbed.jsm.consumers.info(testbed.config.streamName, testbed.config.consumerName);
    // Every delivered message that was acked is stored and every stored one was acked before exit: the
    // only unacked deliveries are those still on the wire when it stopped fetching.
    const stored = await storedCount(testbed);
    expect(stored).toBeGreaterThanOrEqual(2000);
    // Counted in messages (a batched message stores its 50 events under one stream sequence), and
    // every stored message is whole: 1 event or all 50 of a batch.
    const messages = await pool.query<{ messages: number; partial: number }>(
      `SELECT count(*)::int AS messages, count(*) FILTER (WHERE n NOT IN (1, $2))::int AS partial
         FROM (SELECT stream_seq, count(*) AS n FROM usage_events WHERE source = $1 GROUP BY stream_seq) per_message`,
      [testbed.sources[0], BATCH_BLOCK],
    );
    expect(messages.rows[0]).toEqual({ messages: info.delivered.consumer_seq - info.num_ack_pending, partial: 0 });
    expect(info.num_redelivered).toBe(0);
  }, 300_000);

  it('stores every event exactly once across a NATS server crash and restart', async () => {
    const testbed = await createIngestTestbed({ stack, sources: 1, config: { ackWaitMs: 3000 } });
    testbeds.push(testbed);
    const worker = await startTestWorker(testbed);
    const { layout } = stack;
    try {
      await publishEvents(testbed, 0, 10_000);
      await waitUntil(async () => (await storedCount(testbed)) >= 2000, 120_000, 'some events stored');
      await stopService(layout, 'nats', log, 'kill');
      await restartService(layout, 'nats');
      await publishEvents(testbed, 10_000, 20_000);
      await waitUntil(
        async () => (await storedCount(testbed)) >= 20_000 && (await streamDrained(testbed)),
        180_000,
        'all events stored after the NATS restart',
      );
    } finally {
      await restartService(layout, 'nats');
      await worker.stop();
    }
    await expectExactlyOnce(testbed, 20_000);
  }, 300_000);

  it('stores every event exactly once across a Postgres crash and restart', async () => {
    const testbed = await createIngestTestbed({ stack, sources: 1, config: { ackWaitMs: 5000, nakDelayMs: 300 } });
    testbeds.push(testbed);
    const worker = await startTestWorker(testbed);
    const { layout } = stack;
    try {
      const publishing = publishEvents(testbed, 0, 20_000);
      await waitUntil(async () => (await storedCount(testbed)) >= 2000, 120_000, 'some events stored');
      await stopService(layout, 'postgres', log, 'kill');
      await restartService(layout, 'postgres');
      await publishing;
      await waitUntil(
        async () => (await storedCount(testbed).catch(() => 0)) >= 20_000 && (await streamDrained(testbed)),
        180_000,
        'all events stored after the Postgres restart',
      );
      expect(worker.consumer.totals.databaseErrors).toBeGreaterThan(0);
    } finally {
      await restartService(layout, 'postgres');
      await worker.stop();
    }
    await expectExactlyOnce(testbed, 20_000);
  }, 300_000);
});
