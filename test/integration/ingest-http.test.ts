import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
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

function post(body: string, options: { token?: string | null; contentType?: string } = {}): Promise<Response> {
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
    expect(body.items[0]).toEqual({ index: 0, message_id: `${testbed.sources[0]}:http-10`, status: 'published' });
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

  it('404 and 405 for other routes and methods', async () => {
    expect((await fetch(`${worker.httpUrl}/v2/events`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${worker.httpUrl}/v1/events`)).status).toBe(405);
    expect((await fetch(`${worker.httpUrl}/healthz`)).status).toBe(200);
  });
});
