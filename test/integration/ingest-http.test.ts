import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEvent } from '../../contracts/event-signature.ts';
import type { IngestWorker } from '../../workers/ingest-worker.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { createIngestTestbed, startTestWorker, waitUntil, type IngestTestbed } from '../harness/ingest-harness.ts';
import { testPool } from '../harness/services.ts';

const pool = testPool();
let testbed: IngestTestbed;
let worker: IngestWorker;
const TOKEN = 'http-test-token-0123456789abcdef';
const OTHER_TOKEN = 'http-test-other-0123456789abcdef';

beforeAll(async () => {
  testbed = await createIngestTestbed();
  const apiKeysFile = path.join(testbed.directory, 'api-keys.json');
  await writeFile(
    apiKeysFile,
    JSON.stringify({
      keys: [
        {
          id: 'first-only',
          token_sha256: createHash('sha256').update(TOKEN).digest('hex'),
          sources: [testbed.sources[0]],
        },
        { id: 'second-only', token: OTHER_TOKEN, sources: [testbed.sources[1]] },
      ],
    }),
  );
  worker = await startTestWorker(testbed, { httpPort: 0, apiKeysFile, httpMaxBodyBytes: 64 * 1024, httpMaxEvents: 50 });
});

afterAll(async () => {
  await worker.stop();
  await testbed.close();
  await pool.end();
});

/** The JSON body of a response, for assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions read arbitrary response shapes
async function json(response: Response): Promise<any> {
  return response.json();
}

async function counterValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await worker.metrics.registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  const value = metric?.values.find((entry) =>
    Object.entries(labels).every(([key, expected]) => String(entry.labels[key]) === expected),
  );
  return value?.value ?? 0;
}

function post(
  body: string | Uint8Array,
  options: { token?: string | null; contentType?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/x-ndjson' };
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? TOKEN}`;
  return fetch(`${worker.httpUrl}/v1/events`, { method: 'POST', headers, body });
}

function event(index: number, overrides: Record<string, string> = {}) {
  const source = overrides.source ?? (testbed.sources[0] as string);
  return signEvent(
    buildUnsignedEvent({
      source,
      customer_id: `${testbed.name}-http`,
      event_id: `http-${index}`,
      timestamp: new Date().toISOString(),
      ...overrides,
    }),
    testbed.keys[source] as string,
  );
}

describe('HTTP ingest endpoint', () => {
  it('401 without a key or with a wrong one, as JSON', async () => {
    const missing = await post(JSON.stringify(event(1)), { token: null });
    expect(missing.status).toBe(401);
    expect(await json(missing)).toEqual({
      error: { code: 'missing_api_key', message: expect.stringContaining('Authorization: Bearer') },
    });
    const wrong = await post(JSON.stringify(event(1)), { token: 'not-a-key-0123456789abcdefgh' });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).error.code).toBe('invalid_api_key');
  });

  it('400 for a body that is not a batch', async () => {
    const object = await post(JSON.stringify(event(1)), { contentType: 'application/json' });
    expect(object.status).toBe(400);
    expect((await json(object)).error.code).toBe('not_a_batch');
    const broken = await post('[{"a":', { contentType: 'application/json' });
    expect((await json(broken)).error.code).toBe('not_a_batch');
    const empty = await post('   \n');
    expect(empty.status).toBe(400);
    expect((await json(empty)).error.code).toBe('empty_batch');
  });

  it('413 for a batch with too many events or too many bytes', async () => {
    const many = await post(Array.from({ length: 51 }, (_, index) => JSON.stringify(event(index))).join('\n'));
    expect(many.status).toBe(413);
    expect((await json(many)).error.code).toBe('too_many_events');
    const big = await post(`[${'"x",'.repeat(20_000)}"x"]`, { contentType: 'application/json' });
    expect(big.status).toBe(413);
    expect((await json(big)).error.code).toBe('batch_too_large');
  });

  it('403 for an event of a source the key is not bound to, and nothing of that batch is published', async () => {
    const response = await post(
      [JSON.stringify(event(900)), JSON.stringify(event(901, { source: testbed.sources[1] as string }))].join('\n'),
    );
    expect(response.status).toBe(403);
    expect((await json(response)).error).toMatchObject({
      code: 'source_not_allowed',
      message: expect.stringContaining('item 1'),
    });
    const other = await post(JSON.stringify(event(902)), { token: OTHER_TOKEN });
    expect(other.status).toBe(403);
  });

  it('202 publishes every item, names the ones the worker will reject, and the worker stores both kinds', async () => {
    const good = [event(10), event(11), event(12)];
    const badSignature = { ...event(13), quantity: '999' };
    const lines = [
      ...good.map((item) => JSON.stringify(item)),
      JSON.stringify(badSignature),
      `{"oops": ${JSON.stringify(testbed.name)}`,
      JSON.stringify(good[0]),
    ];
    const response = await post(`${lines.join('\r\n')}\n`);
    expect(response.status).toBe(202);
    const body = await json(response);
    expect(body).toMatchObject({ received: 6, published: 5, duplicates: 1, failed: 0, expected_rejections: 2 });
    expect(body.items[0]).toEqual({
      index: 0,
      message_id: expect.stringMatching(new RegExp(`^${testbed.sources[0]}:http-10:[0-9a-f]{32}$`)),
      status: 'published',
      outcome: 'accepted',
    });
    expect(body.items[3].expected_rejection.reason).toBe('bad_signature');
    expect(body.items[4].expected_rejection.reason).toBe('malformed_json');
    expect(body.items[4].message_id).toMatch(/^raw:[0-9a-f]{64}$/);
    expect(body.items[5].status).toBe('duplicate');

    await waitUntil(() => worker.consumer.totals.messages >= 5, 30_000, 'five messages processed');
    const stored = await pool.query('SELECT event_id FROM usage_events WHERE source = $1 ORDER BY event_id', [
      testbed.sources[0],
    ]);
    expect(stored.rows.map((row) => row.event_id)).toEqual(['http-10', 'http-11', 'http-12']);
    const rejected = await pool.query(
      `SELECT reason, convert_from(raw, 'UTF8') AS raw FROM rejected_events WHERE position(convert_to($1, 'UTF8') IN raw) > 0 ORDER BY stream_seq`,
      [testbed.name],
    );
    expect(rejected.rows).toEqual([
      { reason: 'bad_signature', raw: JSON.stringify(badSignature) },
      { reason: 'malformed_json', raw: `{"oops": ${JSON.stringify(testbed.name)}` },
    ]);
  });

  it('stores an array item with invalid UTF-8 as malformed_json with its raw bytes, not as its U+FFFD replacement', async () => {
    // Signed over the text a lenient decoder would make of the bytes: accepted today, with U+FFFD stored.
    const source = testbed.sources[0] as string;
    const signedOverReplacement = signEvent(
      buildUnsignedEvent({
        source,
        customer_id: `${testbed.name}-utf8`,
        event_id: 'http-40',
        timestamp: new Date().toISOString(),
        metadata: { sku: 'llm.tokens', region: 'us-\uFFFDeast' },
      }),
      testbed.keys[source] as string,
    );
    const good = event(41, { customer_id: `${testbed.name}-utf8` });
    const text = JSON.stringify([signedOverReplacement, good]);
    const replacement = Buffer.from('\uFFFD', 'utf8');
    const at = Buffer.from(text, 'utf8').indexOf(replacement);
    const bytes = Buffer.concat([
      Buffer.from(text, 'utf8').subarray(0, at),
      Buffer.from([0xff]),
      Buffer.from(text, 'utf8').subarray(at + replacement.length),
    ]);
    const response = await post(bytes, { contentType: 'application/json' });
    expect(response.status).toBe(202);
    const body = await json(response);
    expect(body.items[0]).toMatchObject({ outcome: 'rejected', expected_rejection: { reason: 'malformed_json' } });
    expect(body.items[1]).toMatchObject({ outcome: 'accepted' });
    await waitUntil(
      async () =>
        (
          await pool.query('SELECT 1 FROM rejected_events WHERE position($1 IN raw) > 0', [
            Buffer.from(`${testbed.name}-utf8`),
          ])
        ).rowCount === 1,
      30_000,
      'the invalid item stored as rejected',
    );
    const rejected = await pool.query<{ reason: string; raw: Buffer }>(
      'SELECT reason, raw FROM rejected_events WHERE position($1 IN raw) > 0',
      [Buffer.from(`${testbed.name}-utf8`)],
    );
    expect(rejected.rows.map((row) => row.reason)).toEqual(['malformed_json']);
    expect(rejected.rows[0]?.raw.includes(Buffer.from([0xff]))).toBe(true);
    const stored = await pool.query('SELECT event_id FROM usage_events WHERE customer_id = $1', [
      `${testbed.name}-utf8`,
    ]);
    expect(stored.rows).toEqual([{ event_id: 'http-41' }]);
  });

  it('400 too_deeply_nested for arrays nested 10,000 deep, naming the item', async () => {
    const deep = `[${JSON.stringify(event(50))},${'['.repeat(10_000)}${']'.repeat(10_000)}]`;
    const response = await post(deep, { contentType: 'application/json' });
    expect(response.status).toBe(400);
    expect((await json(response)).error).toEqual({
      code: 'too_deeply_nested',
      message: expect.stringContaining('item 1'),
    });
  });

  it('counts an upload the client aborts apart from errors, and answers the next request', async () => {
    const errorsBefore = await counterValue('tally_ingest_http_requests_total', { status: '500' });
    const abortedBefore = await counterValue('tally_ingest_http_aborted_total');
    const url = new URL(worker.httpUrl as string);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 5000\r\n\r\n{"partial":`,
          () => setTimeout(() => socket.destroy(), 100),
        );
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await waitUntil(
      async () => (await counterValue('tally_ingest_http_aborted_total')) === abortedBefore + 1,
      10_000,
      'the aborted upload counted',
    );
    expect(await counterValue('tally_ingest_http_requests_total', { status: '500' })).toBe(errorsBefore);
    expect((await fetch(`${worker.httpUrl}/healthz`)).status).toBe(200);
  });

  it('404 and 405 for other routes and methods', async () => {
    expect((await fetch(`${worker.httpUrl}/v2/events`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${worker.httpUrl}/v1/events`)).status).toBe(405);
    expect((await fetch(`${worker.httpUrl}/healthz`)).status).toBe(200);
  });
});

describe('HTTP ingest endpoint limits', () => {
  let limited: IngestWorker;
  beforeAll(async () => {
    const apiKeysFile = path.join(testbed.directory, 'api-keys.json');
    limited = await startTestWorker(testbed, {
      httpPort: 0,
      apiKeysFile,
      httpEventsPerSecondPerKey: 5,
      httpHeadersTimeoutMs: 500,
      httpRequestTimeoutMs: 2000,
      httpMaxConnections: 2,
    });
  });
  afterAll(async () => {
    await limited.stop();
  });

  const postTo = (body: string) =>
    fetch(`${limited.httpUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body,
    });

  it('429 with Retry-After beyond the per-key rate, and nothing of that batch published', async () => {
    const first = await postTo([60, 61, 62, 63, 64].map((index) => JSON.stringify(event(index))).join('\n'));
    expect(first.status).toBe(202);
    const second = await postTo([65, 66].map((index) => JSON.stringify(event(index))).join('\n'));
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await json(second)).error.code).toBe('rate_limited');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await waitUntil(
      async () =>
        (
          await pool.query('SELECT 1 FROM usage_events WHERE source = $1 AND event_id = $2', [
            testbed.sources[0],
            'http-64',
          ])
        ).rowCount === 1,
      30_000,
      'the accepted batch stored',
    );
    const refused = await pool.query('SELECT 1 FROM usage_events WHERE source = $1 AND event_id IN ($2, $3)', [
      testbed.sources[0],
      'http-65',
      'http-66',
    ]);
    expect(refused.rowCount).toBe(0);
  });

  it('closes a connection whose headers never finish, and refuses connections beyond the cap', async () => {
    const url = new URL(limited.httpUrl as string);
    const openSocket = () =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname, () => resolve(socket));
        socket.on('error', reject);
      });
    const slow = await openSocket();
    slow.write('POST /v1/events HTTP/1.1\r\nHost: x\r\n');
    const closedWithin = await new Promise<number>((resolve) => {
      const startedMs = Date.now();
      slow.on('close', () => resolve(Date.now() - startedMs));
      slow.on('error', () => undefined);
    });
    expect(closedWithin).toBeLessThan(5000);

    const held = [await openSocket(), await openSocket()];
    const third = await openSocket().catch(() => undefined);
    const thirdClosed = await new Promise<boolean>((resolve) => {
      if (third === undefined) return resolve(true);
      third.on('close', () => resolve(true));
      third.on('error', () => undefined);
      setTimeout(() => resolve(false), 3000);
    });
    expect(thirdClosed).toBe(true);
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await fetch(`${limited.httpUrl}/healthz`)).status).toBe(200);
  });
});
