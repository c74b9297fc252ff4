import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Logger } from 'pino';
import type { ApiKeysFile } from '../contracts/ingest-api-keys.ts';
import { classifyMessage, type AcceptWindow } from './classify-message.ts';
import type { EventPublisher, PublishOutcome } from './event-publisher.ts';
import type { IngestMetrics } from './ingest-metrics.ts';
import type { CurrentKeys } from './key-files.ts';
import { BatchBodyError, parseBatchBody } from './http-batch-body.ts';
import { addressUsageMessage } from './usage-stream.ts';
import { TallyError } from '../contracts/tally-error.ts';

export interface HttpIngestOptions {
  readonly maxBodyBytes: number;
  readonly maxEvents: number;
  readonly subjectPrefix: string;
  /** Headers must arrive within this; the whole request within `requestTimeoutMs` (Node answers 408 and closes). */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Open connections at once; the server drops connections beyond it at accept. */
  readonly maxConnections: number;
  /** Events per second per API key, as a token bucket of one second's capacity; beyond it 429 with Retry-After. */
  readonly eventsPerSecondPerKey: number;
}

export interface HttpIngestDeps {
  readonly publisher: EventPublisher;
  readonly apiKeys: ApiKeysFile;
  /** Used only to tell the caller at once which items the worker will reject; the worker decides. */
  readonly sourceKeys: CurrentKeys;
  readonly acceptWindow: AcceptWindow;
  readonly metrics: IngestMetrics;
  readonly logger: Logger;
}

interface BoundKey {
  readonly id: string;
  readonly sources: ReadonlySet<string>;
}

class HttpError extends TallyError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message, { permanent: status < 500 });
  }
}

/**
 * `POST /v1/events`: a JSON array or NDJSON batch of events, authenticated by a per-source API key
 * (`Authorization: Bearer <token>`). Every item is published to the usage stream with the same
 * message id as the NATS path (`<source>:<event_id>`), raw, exactly as received: items that will be
 * rejected are published too, so the worker stores them in rejected_events like any other
 * rejection; the response names them at once. 202 means every item is durably in the stream.
 */
export function createHttpIngestServer(deps: HttpIngestDeps, options: HttpIngestOptions): http.Server {
  const keysBySha = new Map<string, BoundKey>();
  for (const key of deps.apiKeys.keys) {
    const sha = 'token' in key ? sha256Hex(key.token) : key.token_sha256;
    keysBySha.set(sha, { id: key.id, sources: new Set(key.sources) });
  }

  const buckets = new Map<string, { tokens: number; refilledAtMs: number }>();
  /** Takes `events` tokens from the key's bucket, or says in how many seconds there will be enough. */
  function takeTokens(keyId: string, events: number): number | undefined {
    const capacity = options.eventsPerSecondPerKey;
    const nowMs = Date.now();
    const bucket = buckets.get(keyId) ?? { tokens: capacity, refilledAtMs: nowMs };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((nowMs - bucket.refilledAtMs) / 1000) * capacity);
    bucket.refilledAtMs = nowMs;
    buckets.set(keyId, bucket);
    const needed = Math.min(events, capacity);
    if (bucket.tokens >= needed) {
      bucket.tokens -= needed;
      return undefined;
    }
    return Math.max(1, Math.ceil((needed - bucket.tokens) / capacity));
  }

  const server = http.createServer(
    // Timeouts are checked on this interval (Node's default, 30 s, would let a silent client hold a socket that long).
    { connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs) },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        if (error instanceof ClientAbortedError) {
          // The client's doing, not ours: counted apart and logged quietly; there is nobody to answer.
          deps.metrics.httpAborted.inc();
          deps.logger.debug({ bytesRead: error.bytesRead }, 'http ingest upload aborted by the client');
          return;
        }
        deps.logger.error({ err: error }, 'http ingest request failed');
        if (!response.headersSent)
          send(response, 500, { error: { code: 'internal_error', message: 'internal error' } });
      });
    },
  );
  // A slow or silent client cannot hold a socket: Node answers 408 and closes at these limits.
  server.headersTimeout = options.headersTimeoutMs;
  server.requestTimeout = options.requestTimeoutMs;
  server.maxConnections = options.maxConnections;
  server.on('drop', () => deps.metrics.httpRequests.inc({ status: 'connection_refused' }));
  return server;

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    try {
      if (url.pathname === '/healthz') return send(response, 200, { ok: true });
      if (url.pathname !== '/v1/events') throw new HttpError(404, 'not_found', `no such endpoint: ${url.pathname}`);
      if (request.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST /v1/events');
      const key = authenticate(request.headers.authorization);
      const body = await readBody(request, options.maxBodyBytes);
      const items = parseItems(body, request.headers['content-type']);
      if (items.length > options.maxEvents)
        throw new HttpError(
          413,
          'too_many_events',
          `a batch holds at most ${options.maxEvents} events; this one has ${items.length}`,
        );
      const retryAfterSeconds = takeTokens(key.id, items.length);
      if (retryAfterSeconds !== undefined) {
        response.setHeader('Retry-After', String(retryAfterSeconds));
        throw new HttpError(
          429,
          'rate_limited',
          `API key ${key.id} may send ${options.eventsPerSecondPerKey} events per second; retry this batch of ${items.length} after ${retryAfterSeconds} s (nothing of it was published)`,
        );
      }
      const addressed = items.map((item) => addressUsageMessage(item.raw, item.parsed, options.subjectPrefix));
      addressed.forEach((message, index) => {
        if (message.source !== undefined && !key.sources.has(message.source)) {
          throw new HttpError(
            403,
            'source_not_allowed',
            `item ${index}: API key ${key.id} may not send events of source ${JSON.stringify(message.source)}; nothing in this batch was accepted`,
          );
        }
      });
      const outcomes: PublishOutcome[] = await Promise.all(addressed.map((message) => deps.publisher.publish(message)));
      const nowNanos = BigInt(Date.now()) * 1_000_000n;
      const itemReports = addressed.map((message, index) => {
        const outcome = outcomes[index] as PublishOutcome;
        const preview = classifyMessage(
          { streamSeq: 0, batchLine: 0, receivedAtNanos: nowNanos, data: message.data },
          deps.sourceKeys.current,
          deps.acceptWindow,
        );
        return {
          index,
          message_id: message.messageId,
          status: outcome.status,
          // What the resend is for the producer (SPEC §1): a body the worker will reject is rejected
          // again with its reason, even when the server already holds the same bytes.
          outcome:
            outcome.status === 'failed'
              ? 'failed'
              : preview.kind === 'rejected'
                ? 'rejected'
                : outcome.status === 'duplicate'
                  ? 'duplicate'
                  : 'accepted',
          ...(outcome.status === 'failed' ? { error: outcome.error.message } : {}),
          ...(preview.kind === 'rejected'
            ? { expected_rejection: { reason: preview.reason, detail: preview.detail } }
            : {}),
        };
      });
      const failed = outcomes.filter((outcome) => outcome.status === 'failed').length;
      const summary = {
        received: items.length,
        published: outcomes.filter((outcome) => outcome.status === 'published').length,
        duplicates: outcomes.filter((outcome) => outcome.status === 'duplicate').length,
        failed,
        expected_rejections: itemReports.filter((item) => 'expected_rejection' in item).length,
        items: itemReports,
      };
      if (failed > 0) {
        // Retrying the whole batch is safe: message ids and Postgres keys make every repeat count once.
        return send(response, 503, {
          error: {
            code: 'stream_unavailable',
            message: `${failed} of ${items.length} events could not be published; retry the batch`,
          },
          ...summary,
        });
      }
      return send(response, 202, summary);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      if (error.status === 413) response.setHeader('Connection', 'close');
      return send(response, error.status, { error: { code: error.code, message: error.message } });
    }
  }

  function authenticate(header: string | undefined): BoundKey {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) throw new HttpError(401, 'missing_api_key', 'send an API key: Authorization: Bearer <token>');
    const key = keysBySha.get(sha256Hex(match[1] as string));
    if (key === undefined) throw new HttpError(401, 'invalid_api_key', 'the API key is not valid');
    return key;
  }

  function send(response: http.ServerResponse, status: number, body: unknown): void {
    deps.metrics.httpRequests.inc({ status: String(status) });
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    response.end(text);
  }
}

/** The client closed the connection before its body arrived whole. */
class ClientAbortedError extends Error {
  constructor(readonly bytesRead: number) {
    super('the client aborted the upload');
  }
}

function parseItems(body: Buffer, contentType: string | undefined): ReturnType<typeof parseBatchBody> {
  try {
    return parseBatchBody(body, contentType);
  } catch (error) {
    if (error instanceof BatchBodyError) throw new HttpError(400, error.code, error.message);
    throw error;
  }
}

async function readBody(request: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number.parseInt(request.headers['content-length'] ?? '', 10);
  if (Number.isInteger(declared) && declared > maxBytes) {
    request.resume();
    throw new HttpError(413, 'batch_too_large', `the body is ${declared} bytes; a batch is at most ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of request) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > maxBytes) {
        request.resume();
        throw new HttpError(413, 'batch_too_large', `the body exceeds ${maxBytes} bytes, the largest batch accepted`);
      }
      chunks.push(buffer);
    }
  } catch (error) {
    if (!(error instanceof HttpError) && (request.destroyed || isAbort(error))) throw new ClientAbortedError(size);
    throw error;
  }
  if (!request.complete) throw new ClientAbortedError(size);
  return Buffer.concat(chunks);
}

function isAbort(error: unknown): boolean {
  return (
    (error instanceof Error &&
      ('code' in error ? error.code === 'ECONNRESET' || error.code === 'ERR_STREAM_PREMATURE_CLOSE' : false)) ||
    (error instanceof Error && error.message === 'aborted')
  );
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
