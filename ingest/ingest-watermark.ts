import type { JetStreamManager } from '@nats-io/jetstream';

export interface IngestWatermark {
  /**
   * Every message the stream received before this instant is committed in Postgres (stored,
   * deduplicated or rejected): an invoice snapshot with `event_cutoff` before it misses nothing.
   * Null when it cannot be told (the consumer does not exist yet, or the message is gone).
   */
  readonly committedBefore: string | null;
  /** Messages not yet delivered to the worker (lag). */
  readonly pending: number;
  /** Messages delivered and not yet acked. */
  readonly ackPending: number;
}

/**
 * The ingest watermark, from the consumer's ack floor: every message up to the ack floor's stream
 * sequence is acked, hence committed (acks follow COMMIT); stream timestamps grow with the sequence,
 * so everything received before the first message after the floor is committed. When nothing is
 * pending at all, the watermark is the server's time of the answer.
 */
export async function readIngestWatermark(
  jsm: JetStreamManager,
  streamName: string,
  consumerName: string,
): Promise<IngestWatermark> {
  const info = await jsm.consumers.info(streamName, consumerName).catch(() => undefined);
  if (info === undefined) return { committedBefore: null, pending: 0, ackPending: 0 };
  const counts = { pending: info.num_pending, ackPending: info.num_ack_pending };
  if (info.num_pending === 0 && info.num_ack_pending === 0 && info.ts !== undefined) {
    return { committedBefore: new Date(info.ts).toISOString(), ...counts };
  }
  // The first unacked message: the one after the floor (skipping a few sequence gaps of deleted messages).
  for (let seq = info.ack_floor.stream_seq + 1; seq <= info.ack_floor.stream_seq + 16; seq++) {
    const message = await jsm.streams.getMessage(streamName, { seq }).catch(() => null);
    if (message !== null) return { committedBefore: message.time.toISOString(), ...counts };
  }
  return { committedBefore: null, ...counts };
}
