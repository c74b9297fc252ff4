import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { OutgoingUsageMessage } from './usage-stream.ts';

export interface PublisherOptions {
  /** Publishes awaiting their server ack at once; `enqueue` waits when the window is full. */
  readonly maxInFlight: number;
  /** Attempts per message (the first included), each with the same message id. */
  readonly maxAttempts: number;
  /** How long one attempt waits for the server's ack. */
  readonly ackTimeoutMs: number;
}

export interface PublishSummary {
  readonly published: number;
  /** Acknowledged by the server as a repeat of a message id inside the duplicate window. */
  readonly duplicates: number;
  readonly failed: number;
}

export type PublishOutcome =
  | { readonly status: 'published' | 'duplicate'; readonly sequence: number }
  | { readonly status: 'failed'; readonly error: Error };

export const DEFAULT_PUBLISHER_OPTIONS: PublisherOptions = { maxInFlight: 2000, maxAttempts: 6, ackTimeoutMs: 10_000 };

/**
 * Publishes usage messages to JetStream with a bounded window of in-flight publishes. Every publish
 * carries `Nats-Msg-Id`, so a retry after a lost ack is dropped by the server as a duplicate rather
 * than stored twice (and Postgres dedupes whatever the window misses).
 */
export class EventPublisher {
  private inFlight = 0;
  private readonly slotWaiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private published = 0;
  private duplicates = 0;
  private failed = 0;

  constructor(private readonly js: JetStreamClient, private readonly options: PublisherOptions = DEFAULT_PUBLISHER_OPTIONS) {}

  /**
   * Starts publishing `message` once the window has room; resolves when it has started (not when
   * it is acked), so a loop of `await enqueue(…)` keeps the window full and memory bounded.
   * `onDone` receives the final outcome.
   */
  async enqueue(message: OutgoingUsageMessage, onDone?: (outcome: PublishOutcome) => void): Promise<void> {
    while (this.inFlight >= this.options.maxInFlight) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.inFlight++;
    void this.publishWithRetries(message).then((outcome) => {
      if (outcome.status === 'published') this.published++;
      else if (outcome.status === 'duplicate') this.duplicates++;
      else this.failed++;
      this.inFlight--;
      this.slotWaiters.shift()?.();
      if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      onDone?.(outcome);
    });
  }

  /** Publishes one message and waits for its outcome. */
  publish(message: OutgoingUsageMessage): Promise<PublishOutcome> {
    return new Promise<PublishOutcome>((resolve, reject) => {
      this.enqueue(message, resolve).catch(reject);
    });
  }

  /** Waits until every enqueued message has its outcome. */
  async flush(): Promise<PublishSummary> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    return this.summary();
  }

  summary(): PublishSummary {
    return { published: this.published, duplicates: this.duplicates, failed: this.failed };
  }

  get pending(): number {
    return this.inFlight;
  }

  private async publishWithRetries(message: OutgoingUsageMessage): Promise<PublishOutcome> {
    let lastError: Error = new Error('not attempted');
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      try {
        const ack: PubAck = await this.js.publish(message.subject, message.data, {
          msgID: message.messageId,
          timeout: this.options.ackTimeoutMs,
        });
        return { status: ack.duplicate ? 'duplicate' : 'published', sequence: ack.seq };
      } catch (error) {
        lastError = error instanceof Error ? error : new Error(String(error));
        if (attempt < this.options.maxAttempts) await sleep(Math.min(5000, 100 * 2 ** (attempt - 1)));
      }
    }
    return { status: 'failed', error: lastError };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
