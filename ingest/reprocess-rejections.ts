import type pg from 'pg';
import type { RejectionReason } from '../contracts/rejection-reason.ts';
import type { VerificationKeys } from '../contracts/source-keys.ts';
import type { BatchWriter } from './batch-writer.ts';
import { classifyMessage, type AcceptWindow, type AcceptedEvent } from './classify-message.ts';

export interface ReprocessFilter {
  readonly reason: RejectionReason;
  readonly source: string | undefined;
  /** RFC 3339: only rejections received at or after this instant. */
  readonly since: string | undefined;
}

export interface ReprocessSummary {
  /** Stored rejections looked at again. */
  readonly examined: number;
  /** Of them, events now accepted and stored (for the first time). */
  readonly stored: number;
  /** Now valid but already stored (by an earlier reprocess or a corrected resend). */
  readonly duplicates: number;
  /** Still rejected under today's keys and window (their rows are unchanged). */
  readonly stillRejected: number;
}

const PAGE = 1000;

/**
 * Classifies stored rejections again under today's keys (after a key was added or rotated), with
 * each rejection's own receipt time, stream sequence and batch line, as the worker did. An event now
 * valid is written through the batch writer, so it is stored once (a second run finds duplicates);
 * nothing is updated or deleted: the rejection row stays, as history of what happened.
 */
export async function reprocessRejections(
  pool: pg.Pool,
  writer: BatchWriter,
  keys: VerificationKeys,
  window: AcceptWindow,
  filter: ReprocessFilter,
): Promise<ReprocessSummary> {
  let afterId = '0';
  let examined = 0;
  let stored = 0;
  let duplicates = 0;
  let stillRejected = 0;
  for (;;) {
    const page = await pool.query<{
      id: string;
      raw: Buffer;
      stream_seq: string;
      batch_line: number;
      received_us: string;
    }>(
      `SELECT id, raw, stream_seq, batch_line,
              (extract(epoch FROM received_at) * 1000000)::bigint::text AS received_us
         FROM rejected_events
        WHERE reason = $1 AND id > $2
          AND ($3::text IS NULL OR source = $3)
          AND ($4::timestamptz IS NULL OR received_at >= $4)
        ORDER BY id
        LIMIT ${PAGE}`,
      [filter.reason, afterId, filter.source ?? null, filter.since ?? null],
    );
    if (page.rows.length === 0) break;
    afterId = (page.rows[page.rows.length - 1] as { id: string }).id;
    examined += page.rows.length;
    const accepted: AcceptedEvent[] = [];
    for (const row of page.rows) {
      const classified = classifyMessage(
        {
          streamSeq: Number.parseInt(row.stream_seq, 10),
          batchLine: row.batch_line,
          receivedAtNanos: BigInt(row.received_us) * 1000n,
          data: row.raw,
        },
        keys,
        window,
      );
      if (classified.kind === 'accepted') accepted.push(classified);
      else stillRejected++;
    }
    if (accepted.length > 0) {
      const result = await writer.write(accepted);
      stored += result.accepted;
      duplicates += result.duplicates;
      // An id conflict (a different body already stored under the key) is counted as still rejected;
      // its rejection row (same stream sequence, receipt time and line) already exists.
      stillRejected += accepted.length - result.accepted - result.duplicates;
    }
  }
  return { examined, stored, duplicates, stillRejected };
}
