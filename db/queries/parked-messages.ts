import type pg from 'pg';
import { storableText } from './rejected-events.ts';

export interface ParkedMessageRow {
  readonly streamSeq: number;
  readonly receivedAt: string;
  readonly batched: boolean;
  readonly deliveries: number;
  readonly error: string;
  readonly raw: Uint8Array;
}

/** Parks one message the worker cannot write; a message parked before (same sequence and receipt time) is kept once. */
export async function insertParkedMessage(client: pg.ClientBase, row: ParkedMessageRow): Promise<void> {
  await client.query(
    `INSERT INTO ingest_parked_messages (stream_seq, received_at, batched, deliveries, error, raw)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT ON CONSTRAINT ingest_parked_messages_message_key DO NOTHING`,
    [
      row.streamSeq,
      row.receivedAt,
      row.batched,
      row.deliveries,
      storableText(row.error),
      Buffer.from(row.raw.buffer, row.raw.byteOffset, row.raw.byteLength),
    ],
  );
}
