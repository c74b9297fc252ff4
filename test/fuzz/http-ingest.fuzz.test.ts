import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEvent } from '../../contracts/event-signature.ts';
import type { IngestWorker } from '../../workers/ingest-worker.ts';
import { unsignedEventArbitrary } from '../builders/usage-event-arbitraries.ts';
import { createIngestTestbed, startTestWorker, waitUntil, type IngestTestbed } from '../harness/ingest-harness.ts';
import { testPool } from '../harness/services.ts';

/**
 * Fuzzes the HTTP ingest endpoint's bodies and headers, NDJSON lines and JSON-array items among
 * them, on the real worker. Invariants: no 5xx, no hang (every answer within a deadline), every
 * refusal names a code and a reason, and every item of an accepted body is accounted for — the
 * worker processes exactly the messages the endpoint published, each accepted, a duplicate or a
 * stored rejection. Bounded for the normal run; TALLY_FUZZ_HTTP_REQUESTS asks for more.
 */
const REQUESTS = Number.parseInt(process.env.TALLY_FUZZ_HTTP_REQUESTS ?? '', 10) || 160;
const SEED = Number.parseInt(process.env.TALLY_FUZZ_SEED ?? '', 10) || 20261206;
const TOKEN = 'fuzz-http-token-0123456789abcdef';
const ANSWER_DEADLINE_MS = 15_000;

const pool = testPool();
let testbed: IngestTestbed;
let worker: IngestWorker;

beforeAll(async () => {
  testbed = await createIngestTestbed({ sources: 1 });
  const apiKeysFile = path.join(testbed.directory, 'api-keys.json');
  await writeFile(apiKeysFile, JSON.stringify({ keys: [{ id: 'fuzz', token: TOKEN, sources: testbed.sources }] }));
  worker = await startTestWorker(testbed, {
    httpPort: 0,
    apiKeysFile,
    httpMaxBodyBytes: 256 * 1024,
    httpMaxEvents: 200,
  });
});

afterAll(async () => {
  await worker.stop();
  await testbed.close();
  await pool.end();
});

interface FuzzRequest {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
}

function itemArbitrary(source: string, secret: string, nowMs: number): fc.Arbitrary<Buffer> {
  const nearValid = fc
    .tuple(
      unsignedEventArbitrary,
      fc.integer({ min: -40 * 86_400, max: 600 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom('keep', 'keep', 'byte', 'field', 'drop', 'wrong-key', 'other-source'),
    )
    .map(([event, offsetSeconds, position, byte, how]) => {
      const timestamp = new Date(nowMs + offsetSeconds * 1000).toISOString();
      const signed = signEvent(
        { ...event, source: how === 'other-source' ? `${source}x` : source, timestamp },
        how === 'wrong-key' ? 'not-the-key-0123456789abcdef' : secret,
      );
      const bytes = Buffer.from(JSON.stringify(signed));
      if (how === 'byte') bytes[position % bytes.length] = byte;
      if (how === 'field')
        return Buffer.from(JSON.stringify({ ...signed, quantity: Number.parseFloat(signed.quantity) }));
      if (how === 'drop') return bytes.subarray(0, position % bytes.length);
      return bytes;
    });
  const nasty = fc.constantFrom(
    Buffer.from('\u{feff}{"schema_version":1}'),
    Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
    Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`),
    Buffer.from(`{"a":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`),
    Buffer.from('{"metadata":{"sku":"\\u0000"},"unit":"\\ud800"}'),
    Buffer.from('\u001b[31mred\u001b[0m'),
    Buffer.from('null'),
    Buffer.from('"just a string"'),
    Buffer.from('1e999999'),
  );
  return fc.oneof(
    { arbitrary: nearValid, weight: 6 },
    { arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)), weight: 1 },
    { arbitrary: fc.json().map((text) => Buffer.from(text)), weight: 1 },
    { arbitrary: nasty, weight: 1 },
  );
}

function requestArbitrary(source: string, secret: string, nowMs: number): fc.Arbitrary<FuzzRequest> {
  const items = fc.array(itemArbitrary(source, secret, nowMs), { minLength: 0, maxLength: 12 });
  const body = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(items, fc.constantFrom('\n', '\r\n'), fc.boolean())
        .map(([lines, separator, trailing]) =>
          Buffer.concat(
            lines.flatMap((line, index) => [
              line.filter((byte) => byte !== 0x0a),
              Buffer.from(index < lines.length - 1 || trailing ? separator : ''),
            ]),
          ),
        ),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(items, fc.constantFrom('', ' ', '\n  '))
        .map(([elements, space]) =>
          Buffer.concat([
            Buffer.from(`${space}[`),
            ...elements.flatMap((element, index) => [
              Buffer.from(index > 0 ? `,${space}` : ''),
              element.filter((byte) => byte !== 0x0a),
            ]),
            Buffer.from(`]${space}`),
          ]),
        ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Buffer.alloc(0),
        Buffer.from('[]'),
        Buffer.from('[,]'),
        Buffer.from('[1,]'),
        Buffer.from('[{}]]'),
        Buffer.from('[{"a":"\\"]"}, 2]'),
        Buffer.from(`[${'['.repeat(10_000)}${']'.repeat(10_000)}]`),
        Buffer.from(`\u{feff}[{"a":1}]`),
        Buffer.alloc(300 * 1024, 0x61),
      ),
    },
  );
  const contentType = fc.constantFrom(
    'application/json',
    'application/x-ndjson',
    'application/json; charset=latin1',
    'text/plain',
    'APPLICATION/JSON',
    '',
    '\u00e9/\u00e9',
  );
  const authorization = fc.constantFrom(
    `Bearer ${TOKEN}`,
    `Bearer ${TOKEN}`,
    `Bearer ${TOKEN}`,
    `bearer   ${TOKEN}  `,
    'Bearer',
    'Bearer not-a-token-0123456789abcdef',
    `Basic ${TOKEN}`,
    '',
  );
  return fc
    .tuple(fc.constantFrom('POST', 'POST', 'POST', 'PUT', 'GET'), body, contentType, authorization)
    .map(([method, payload, type, auth]) => ({
      method,
      body: method === 'GET' ? undefined : payload,
      headers: { ...(type === '' ? {} : { 'content-type': type }), ...(auth === '' ? {} : { authorization: auth }) },
    }));
}

describe('fuzzing the HTTP ingest endpoint', () => {
  it('answers every body and header set without a 5xx or a hang, and accounts for every published item', async () => {
    const source = testbed.sources[0] as string;
    const secret = testbed.keys[source] as string;
    const requests = fc.sample(requestArbitrary(source, secret, Date.now()), { numRuns: REQUESTS, seed: SEED });
    let published = 0;
    const statuses = new Map<number, number>();
    for (const [index, request] of requests.entries()) {
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(([, value]) => /^[\t\x20-\x7e]*$/.test(value)),
      );
      const response = await fetch(`${worker.httpUrl}/v1/events`, {
        method: request.method,
        headers,
        body: request.body === undefined ? undefined : new Uint8Array(request.body),
        signal: AbortSignal.timeout(ANSWER_DEADLINE_MS),
      });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const text = await response.text();
      const context = `request ${index} (seed ${SEED}): ${request.method} ${JSON.stringify(headers)} ${request.body?.subarray(0, 200).toString('latin1')} → ${response.status} ${text.slice(0, 300)}`;
      expect(response.status, context).toBeLessThan(500);
      const answer = JSON.parse(text) as {
        error?: { code?: unknown; message?: unknown };
        received?: number;
        published?: number;
        duplicates?: number;
        items?: Array<{ status: string; outcome: string }>;
      };
      if (response.status === 202) {
        expect(answer.items?.length, context).toBe(answer.received);
        expect((answer.published ?? 0) + (answer.duplicates ?? 0), context).toBe(answer.received);
        for (const item of answer.items ?? [])
          expect(['accepted', 'duplicate', 'rejected'], context).toContain(item.outcome);
        published += answer.published ?? 0;
      } else {
        expect(typeof answer.error?.code, context).toBe('string');
        expect(String(answer.error?.message).length, context).toBeGreaterThan(10);
      }
    }
    // The generators reach both outcomes.
    expect(statuses.get(202) ?? 0).toBeGreaterThan(0);
    expect([...statuses.keys()].some((status) => status >= 400)).toBe(true);

    await waitUntil(
      () => worker.consumer.totals.messages >= published,
      60_000,
      `the worker to process the ${published} published items`,
    );
    const totals = worker.consumer.totals;
    const rejected = Object.values(totals.rejected).reduce((sum, count) => sum + count, 0);
    expect(totals.messages).toBe(published);
    expect(totals.accepted + totals.duplicates + rejected).toBe(published);
    expect(totals.databaseErrors).toBe(0);
    expect(totals.accepted).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
    const stored = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_events WHERE source = $1', [
      source,
    ]);
    expect(stored.rows[0]?.n).toBe(totals.accepted);
    const info = await testbed.jsm.consumers.info(testbed.config.streamName, testbed.config.consumerName);
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  }, 240_000);
});
