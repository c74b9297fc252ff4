import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { RejectionReason } from '../contracts/rejection-reason.ts';
import { TransientDatabaseError, type BatchResult, type BatchWriter } from './batch-writer.ts';
import {
  classifyMessage,
  nanosToIsoMicros,
  type AcceptWindow,
  type ClassifiedMessage,
  type IncomingMessage,
} from './classify-message.ts';
import type { IngestMetrics } from './ingest-metrics.ts';
import type { CurrentKeys } from './key-files.ts';
import { BATCH_FORMAT, BATCH_HEADER, splitBatchLines } from './usage-batch.ts';

export interface IngestConsumerOptions {
  readonly streamName: string;
  readonly durableName: string;
  /** A batch is written when it has this many messages… */
  readonly batchSize: number;
  /** …or when its first message has waited this long. */
  readonly batchMaxWaitMs: number;
  /** Batches written concurrently (each in its own transaction). */
  readonly writers: number;
  /** Redelivery delay asked for when the database fails. */
  readonly nakDelayMs: number;
  readonly acceptWindow: AcceptWindow;
  /**
   * From this delivery on, a batch that fails is split into its messages; a message that fails alone
   * is parked (stored whole in ingest_parked_messages) and acked, so it cannot loop forever.
   */
  readonly parkAfterDeliveries: number;
}

export interface IngestTotals {
  messages: number;
  accepted: number;
  late: number;
  duplicates: number;
  rejected: Partial<Record<RejectionReason, number>>;
  batches: number;
  databaseErrors: number;
  parked: number;
}

/**
 * The ingest loop: one durable pull consumer, explicit acks. Messages are gathered into batches by
 * count or time; each batch is classified, written in one transaction, and its messages acked only
 * after COMMIT. A database failure naks the batch with a delay (and pauses that writer); a bad
 * message is stored as rejected and acked with the rest, never naked.
 *
 * Memory is bounded: the reader stops taking messages while `writers` batches wait, and the server
 * delivers at most the consumer's max_ack_pending unacked messages.
 */
export class IngestConsumer {
  private stopping = false;
  /** Set once the reader has finished and its last partial batch is queued: writers may then exit when idle. */
  private draining = false;
  private readerDone: Promise<void> = Promise.resolve();
  private stopReading: (() => void) | undefined;
  private current: PendingBatch = emptyBatch();
  private currentTimer: NodeJS.Timeout | undefined;
  private readonly ready: PendingBatch[] = [];
  private readonly readyWaiters: Array<() => void> = [];
  private readonly spaceWaiters: Array<() => void> = [];
  private writerLoops: Array<Promise<void>> = [];
  readonly totals: IngestTotals = {
    messages: 0,
    accepted: 0,
    late: 0,
    duplicates: 0,
    rejected: {},
    batches: 0,
    databaseErrors: 0,
    parked: 0,
  };

  constructor(
    private readonly js: JetStreamClient,
    private readonly writer: BatchWriter,
    /** Read per message: a reloaded key file takes effect at once. */
    private readonly keys: CurrentKeys,
    private readonly metrics: IngestMetrics,
    private readonly logger: Logger,
    private readonly options: IngestConsumerOptions,
  ) {}

  /** Starts reading and writing; returns at once. */
  start(): void {
    this.readerDone = this.readLoop();
    this.writerLoops = Array.from({ length: this.options.writers }, (_, index) => this.writeLoop(index));
  }

  /** Stops fetching, writes and acks what was fetched, and resolves when every writer is idle. */
  async stop(): Promise<void> {
    if (this.stopping) return Promise.all(this.writerLoops).then(() => undefined);
    this.stopping = true;
    this.stopReading?.();
    await this.readerDone;
    this.flushCurrent();
    this.draining = true;
    this.wakeAll();
    await Promise.all(this.writerLoops);
  }

  private async readLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        const consumer = await this.js.consumers.get(this.options.streamName, this.options.durableName);
        // Bounded by bytes, not messages: a batched message holds up to 1,000 events.
        const messages = await consumer.consume({ max_bytes: CONSUME_MAX_BYTES });
        this.stopReading = () => messages.stop();
        if (this.stopping) messages.stop();
        for await (const message of messages) {
          // Classified as it arrives: the CPU work of the next batch overlaps the database write of the previous ones.
          // Every event of a message goes into the same database batch: the message is acked after its last event commits.
          this.current.messages.push(message);
          for (const incoming of eventsOf(message))
            this.current.classified.push(classifyMessage(incoming, this.keys.current, this.options.acceptWindow));
          if (this.current.messages.length === 1)
            this.currentTimer = setTimeout(() => this.flushCurrent(), this.options.batchMaxWaitMs);
          if (this.current.classified.length >= this.options.batchSize) this.flushCurrent();
          // Backpressure: while every writer has a batch waiting, take no more messages.
          while (this.ready.length >= this.options.writers && !this.stopping) {
            await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
          }
        }
      } catch (error) {
        if (this.stopping) break;
        this.logger.warn({ err: error }, 'consumer interrupted; resuming in 1 s');
        await sleep(1000);
      }
    }
  }

  private flushCurrent(): void {
    clearTimeout(this.currentTimer);
    this.currentTimer = undefined;
    if (this.current.messages.length === 0) return;
    // While the writers are busy, a batch already waits for one: grow it (up to the batch size) rather
    // than queue another small one, so that a lagging worker writes fewer, larger transactions and
    // catches up, instead of paying a transaction's fixed cost per 50 ms of input.
    const waiting = this.ready[this.ready.length - 1];
    if (waiting !== undefined && waiting.classified.length + this.current.classified.length <= this.options.batchSize) {
      waiting.messages.push(...this.current.messages);
      waiting.classified.push(...this.current.classified);
      this.current = emptyBatch();
      return;
    }
    this.ready.push(this.current);
    this.current = emptyBatch();
    this.readyWaiters.shift()?.();
  }

  private wakeAll(): void {
    for (const resolve of this.readyWaiters.splice(0)) resolve();
    for (const resolve of this.spaceWaiters.splice(0)) resolve();
  }

  private async writeLoop(index: number): Promise<void> {
    for (;;) {
      const batch = this.ready.shift();
      if (batch === undefined) {
        if (this.draining) return;
        await new Promise<void>((resolve) => this.readyWaiters.push(resolve));
        continue;
      }
      this.spaceWaiters.shift()?.();
      await this.processBatch(batch, index);
    }
  }

  private async processBatch({ messages: batch, classified }: PendingBatch, writerIndex: number): Promise<void> {
    const startedMs = performance.now();
    let result: BatchResult;
    try {
      result = await this.writer.write(classified);
    } catch (error) {
      const sqlState = error instanceof TransientDatabaseError ? error.sqlState : undefined;
      this.totals.databaseErrors++;
      this.metrics.databaseErrors.inc({ sqlstate: sqlState ?? 'none' });
      this.logger.warn(
        { err: error, writer: writerIndex, messages: batch.length, nakDelayMs: this.options.nakDelayMs },
        'batch not stored; naked for redelivery',
      );
      if (
        !isInfrastructureFailure(error) &&
        batch.some((message) => message.info.deliveryCount >= this.options.parkAfterDeliveries)
      ) {
        await this.isolate(batch, classified, writerIndex);
        return;
      }
      for (const message of batch) message.nak(this.options.nakDelayMs);
      await sleep(this.options.nakDelayMs);
      return;
    }
    const committedAtMs = Date.now();
    for (const message of batch) message.ack();
    this.metrics.recordBatch(
      result,
      classified.map((message) => message.receivedAtMs),
      (performance.now() - startedMs) / 1000,
      committedAtMs,
    );
    this.addTotals(result);
    this.logger.debug({ writer: writerIndex, ...result }, 'batch committed');
  }

  /**
   * A batch failed again after many deliveries: write its messages one by one, so that one poison
   * message cannot hold back the others; a message that still fails and has been delivered often
   * enough is parked whole and acked. Parking needs the database, so an outage parks nothing: every
   * message whose write or park fails is naked as before.
   */
  private async isolate(
    batch: readonly JsMsg[],
    classified: readonly ClassifiedMessage[],
    writerIndex: number,
  ): Promise<void> {
    const eventsBySeq = new Map<number, ClassifiedMessage[]>();
    for (const event of classified) {
      const events = eventsBySeq.get(event.message.streamSeq) ?? [];
      events.push(event);
      eventsBySeq.set(event.message.streamSeq, events);
    }
    for (const message of batch) {
      const events = eventsBySeq.get(message.seq) ?? [];
      try {
        const result = await this.writer.write(events);
        message.ack();
        this.addTotals(result);
        continue;
      } catch (error) {
        // An unreachable or restarting database is waited out, never parked for: parking is for failures the database answered.
        if (message.info.deliveryCount < this.options.parkAfterDeliveries || isInfrastructureFailure(error)) {
          message.nak(this.options.nakDelayMs);
          continue;
        }
        try {
          await this.writer.park({
            streamSeq: message.seq,
            receivedAt: nanosToIsoMicros(message.timestampNanos),
            batched: message.headers?.get(BATCH_HEADER) === BATCH_FORMAT,
            deliveries: message.info.deliveryCount,
            error: error instanceof Error ? error.message : String(error),
            raw: message.data,
          });
        } catch (parkError) {
          this.logger.warn({ err: parkError, streamSeq: message.seq }, 'message neither written nor parked; naked');
          message.nak(this.options.nakDelayMs);
          continue;
        }
        message.ack();
        this.totals.parked++;
        this.metrics.parked.inc();
        this.logger.error(
          { err: error, writer: writerIndex, streamSeq: message.seq, deliveries: message.info.deliveryCount },
          'message parked in ingest_parked_messages after repeated failures',
        );
      }
    }
  }

  private addTotals(result: BatchResult): void {
    this.totals.messages += result.messages;
    this.totals.accepted += result.accepted;
    this.totals.late += result.late;
    this.totals.duplicates += result.duplicates;
    this.totals.batches++;
    for (const [reason, count] of Object.entries(result.rejected) as Array<[RejectionReason, number]>) {
      this.totals.rejected[reason] = (this.totals.rejected[reason] ?? 0) + count;
    }
  }
}

/** Messages taken from the consumer, each with its classification (same order). */
interface PendingBatch {
  readonly messages: JsMsg[];
  readonly classified: ClassifiedMessage[];
}

function emptyBatch(): PendingBatch {
  return { messages: [], classified: [] };
}

/**
 * A failure of the connection or of the server itself (not of this message): SQLSTATE classes 08
 * (connection), 40 (rollback), 53 (resources), 55 (object state), 57 (operator intervention, e.g. a
 * restart), 58 (system), or a system error (ECONNREFUSED…) or a dropped client underneath.
 */
export function isInfrastructureFailure(error: unknown): boolean {
  if (error instanceof TransientDatabaseError && error.sqlState !== undefined)
    return /^(08|40|53|55|57|58)/.test(error.sqlState);
  const cause = error instanceof TransientDatabaseError ? error.cause : error;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string')
    return /^E[A-Z]+$/.test(cause.code) || /^(08|40|53|55|57|58)/.test(cause.code);
  return cause instanceof Error && /connection|terminated|not queryable|timeout|timed out/i.test(cause.message);
}

/** The events of one message: the message itself, or each line of a batched message (SPEC §1). */
function eventsOf(message: JsMsg): IncomingMessage[] {
  const receivedAtNanos = message.timestampNanos;
  if (message.headers?.get(BATCH_HEADER) !== BATCH_FORMAT)
    return [{ streamSeq: message.seq, batchLine: 0, receivedAtNanos, data: message.data }];
  return splitBatchLines(message.data).map(({ line, data }) => ({
    streamSeq: message.seq,
    batchLine: line,
    receivedAtNanos,
    data,
  }));
}

/** What the server may hand out ahead of the writers: several batches of single events, a few thousand batched. */
const CONSUME_MAX_BYTES = 8 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
