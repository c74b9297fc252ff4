import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECTION_REASONS, type RejectionReason } from '../contracts/rejection-reason.ts';
import type { BatchResult } from './batch-writer.ts';

/** The ingest worker's Prometheus metrics, on their own registry (one per worker). */
export class IngestMetrics {
  readonly registry = new Registry();
  readonly events = new Counter({
    name: 'tally_ingest_events_total',
    help: 'Messages processed, by outcome (accepted includes late).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'tally_ingest_rejected_total',
    help: 'Rejected events stored, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly late = new Counter({
    name: 'tally_ingest_late_total',
    help: 'Accepted events whose customer-period was already closed.',
    registers: [this.registry],
  });
  readonly batches = new Counter({
    name: 'tally_ingest_batches_total',
    help: 'Batches committed.',
    registers: [this.registry],
  });
  readonly databaseErrors = new Counter({
    name: 'tally_ingest_database_errors_total',
    help: 'Batches naked after a database error, by SQLSTATE.',
    labelNames: ['sqlstate'] as const,
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'tally_ingest_batch_seconds',
    help: 'Time to write and commit one batch.',
    registers: [this.registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  readonly eventToCommitSeconds = new Histogram({
    name: 'tally_ingest_event_to_commit_seconds',
    help: 'From JetStream receipt of an event to the commit that stored it.',
    registers: [this.registry],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300],
  });
  readonly consumerPending = new Gauge({
    name: 'tally_ingest_consumer_pending',
    help: 'Messages in the stream not yet delivered to the consumer (lag).',
    registers: [this.registry],
  });
  readonly consumerLagSeconds = new Gauge({
    name: 'tally_ingest_consumer_lag_seconds',
    help: 'Age of the oldest message not yet committed (0 when caught up); alert on it long before the stream max age.',
    registers: [this.registry],
  });
  readonly consumerAckPending = new Gauge({
    name: 'tally_ingest_consumer_ack_pending',
    help: 'Messages delivered and not yet acked.',
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'tally_ingest_http_requests_total',
    help: 'HTTP ingest requests, by status code.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly parked = new Counter({
    name: 'tally_ingest_parked_total',
    help: 'Messages parked in ingest_parked_messages after repeated failed writes (kept whole for a person).',
    registers: [this.registry],
  });
  readonly httpAborted = new Counter({
    name: 'tally_ingest_http_aborted_total',
    help: 'HTTP ingest uploads the client aborted before its body arrived (nothing was published; not an error).',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const outcome of ['accepted', 'duplicate', 'rejected']) this.events.inc({ outcome }, 0);
    for (const reason of REJECTION_REASONS) this.rejected.inc({ reason }, 0);
  }

  recordBatch(result: BatchResult, receivedAtMs: readonly number[], batchSeconds: number, committedAtMs: number): void {
    this.batches.inc();
    this.batchSeconds.observe(batchSeconds);
    this.events.inc({ outcome: 'accepted' }, result.accepted);
    this.events.inc({ outcome: 'duplicate' }, result.duplicates);
    this.late.inc(result.late);
    let rejectedCount = 0;
    for (const [reason, count] of Object.entries(result.rejected) as Array<[RejectionReason, number]>) {
      this.rejected.inc({ reason }, count);
      rejectedCount += count;
    }
    this.events.inc({ outcome: 'rejected' }, rejectedCount);
    for (const receivedMs of receivedAtMs)
      this.eventToCommitSeconds.observe(Math.max(0, committedAtMs - receivedMs) / 1000);
  }
}

/** Serves `GET /metrics` (Prometheus text format) from the registry. */
export function createMetricsServer(registry: Registry): http.Server {
  return http.createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'Content-Type': registry.contentType });
        response.end(text);
      },
      (error: unknown) => {
        response.writeHead(500).end(String(error));
      },
    );
  });
}
