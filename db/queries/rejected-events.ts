import type pg from 'pg';
import type { RejectionReason } from '../../contracts/rejection-reason.ts';

export interface RejectedEventRow {
  readonly receivedAt: string;
  readonly reason: RejectionReason;
  readonly detail: string;
  readonly source: string | null;
  readonly eventId: string | null;
  readonly raw: Uint8Array;
  readonly streamSeq: number;
  /** The event's line in a batched message (0 for a single-event message). */
  readonly batchLine: number;
}

/**
 * Text that Postgres can store: U+0000 and unpaired surrogates (which parser messages may quote
 * from the raw input) become visible escapes. The raw bytes themselves are bytea and kept exactly.
 */
export function storableText(text: string): string {
  return text.replace(
    /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Stores rejected events; a redelivered one (same stream sequence, receipt time and batch line) is stored once. Returns how many were new. */
export async function insertRejectedEvents(client: pg.ClientBase, rows: readonly RejectedEventRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const sorted = [...rows].sort((a, b) => a.streamSeq - b.streamSeq || a.batchLine - b.batchLine);
  const result = await client.query({
    name: 'insert-rejected-events-by-line',
    text: `INSERT INTO rejected_events (received_at, reason, detail, source, event_id, raw, stream_seq, batch_line)
           SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bigint[], $8::int[])
           ON CONFLICT ON CONSTRAINT rejected_events_message_key DO NOTHING`,
    values: [
      sorted.map((row) => row.receivedAt),
      sorted.map((row) => row.reason),
      sorted.map((row) => storableText(row.detail)),
      sorted.map((row) => (row.source === null ? null : storableText(row.source))),
      sorted.map((row) => (row.eventId === null ? null : storableText(row.eventId))),
      sorted.map((row) => Buffer.from(row.raw.buffer, row.raw.byteOffset, row.raw.byteLength)),
      sorted.map((row) => row.streamSeq),
      sorted.map((row) => row.batchLine),
    ],
  });
  return result.rowCount ?? 0;
}
