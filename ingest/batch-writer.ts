import type pg from 'pg';
import type { RejectionReason } from '../contracts/rejection-reason.ts';
import { ADVISORY_LOCKS } from '../db/advisory-locks.ts';
import { withTransaction } from '../db/pool.ts';
import { insertParkedMessage, type ParkedMessageRow } from '../db/queries/parked-messages.ts';
import { insertRejectedEvents, type RejectedEventRow } from '../db/queries/rejected-events.ts';
import {
  ensureUsageEventPartitions,
  findEventKeys,
  insertNewUsageEvents,
  type StoredEventKey,
  type UsageEventRow,
} from '../db/queries/usage-events.ts';
import type { AcceptedEvent, ClassifiedMessage, RejectedEvent } from './classify-message.ts';
import { TallyError } from '../contracts/tally-error.ts';

export interface BatchResult {
  readonly messages: number;
  /** Stored in usage_events by this batch (late ones included). */
  readonly accepted: number;
  /** Of the accepted, those whose customer-period was already closed. */
  readonly late: number;
  /** Repeats of a stored key with the same body: counted, not stored again. */
  readonly duplicates: number;
  /** Stored in rejected_events, by reason (a redelivered rejection counts once per delivery). */
  readonly rejected: Partial<Record<RejectionReason, number>>;
}

/** A database failure that is worth retrying later (connection lost, server restarting, lock trouble). */
export class TransientDatabaseError extends TallyError {
  constructor(
    readonly sqlState: string | undefined,
    cause: unknown,
  ) {
    super(
      'database_unavailable',
      `database error${sqlState ? ` ${sqlState}` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { permanent: false, cause },
    );
  }
}

const MAX_LOCK_RETRIES = 5;
const MONTH_MS_SLACK = 1000;

/**
 * Writes one batch of classified messages in one transaction: new events (with their keys, running
 * totals and period outbox rows), then rejections, including the id conflicts found against the
 * stored keys. The caller acks the batch's messages only after this resolves (after COMMIT).
 *
 * A deadlock or serialization failure is retried at once; a row Postgres refuses as data (which the
 * schema should have caught) is isolated by splitting the batch and stored as rejected, so one bad
 * message can never block the stream; anything else is a TransientDatabaseError for the caller to
 * retry later (nak with delay).
 */
export class BatchWriter {
  private readonly knownMonths = new Set<string>();
  /** `customer\u0000period` pairs whose customer_periods row this writer saw committed (rows are never removed). */
  private readonly knownPeriods = new Set<string>();

  constructor(private readonly pool: pg.Pool) {}

  /** Parks a message that cannot be written (see ingest_parked_messages); throws when the database cannot take even that. */
  async park(row: ParkedMessageRow): Promise<void> {
    try {
      await withTransaction(this.pool, (client) => insertParkedMessage(client, row));
    } catch (error) {
      throw toTransient(error);
    }
  }

  async write(batch: readonly ClassifiedMessage[]): Promise<BatchResult> {
    try {
      return await this.writeWithRetries(batch);
    } catch (error) {
      if (!isDataError(error)) throw toTransient(error);
      if (batch.length === 1) return this.writeUnstorable(batch[0] as ClassifiedMessage, error);
      const middle = Math.ceil(batch.length / 2);
      const first = await this.write(batch.slice(0, middle));
      const second = await this.write(batch.slice(middle));
      return addResults(first, second);
    }
  }

  private async writeWithRetries(batch: readonly ClassifiedMessage[]): Promise<BatchResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeOnce(batch);
      } catch (error) {
        const state = sqlState(error);
        if ((state === '40P01' || state === '40001') && attempt < MAX_LOCK_RETRIES) continue;
        throw error;
      }
    }
  }

  private async writeOnce(batch: readonly ClassifiedMessage[]): Promise<BatchResult> {
    const rejections: RejectedEventRow[] = [];
    const candidates = new Map<string, AcceptedEvent>();
    const repeats: AcceptedEvent[] = [];
    for (const message of batch) {
      if (message.kind === 'rejected') {
        rejections.push(rejectedRow(message));
      } else {
        const key = keyOf(message);
        if (candidates.has(key)) repeats.push(message);
        else candidates.set(key, message);
      }
    }
    // Key order: the lock order of every writer, so two writers with overlapping keys cannot deadlock.
    const sorted = [...candidates.values()].sort(compareKeys);
    await this.ensurePartitions(sorted);

    return withTransaction(this.pool, async (client) => {
      // Shared with every other ingest transaction; a period close waits for all holders (db/advisory-locks.ts).
      await client.query('SELECT pg_advisory_xact_lock_shared($1)', [ADVISORY_LOCKS.INGEST_COMMIT]);
      const stored = await insertNewUsageEvents(
        client,
        sorted.map((event) =>
          usageRow(event, !nearMonthBoundary(event.eventTimeMs) && this.knownPeriods.has(periodKey(event))),
        ),
      );
      // Every candidate carries a distinct key, so when all were stored only the batch's own repeats remain.
      const unstored = stored.length === sorted.length ? repeats : [...notStored(sorted, stored), ...repeats];
      let duplicates = 0;
      if (unstored.length > 0) {
        const existing = new Map(
          (await findEventKeys(client, uniqueKeys(unstored))).map((row) => [`${row.source}\u0000${row.eventId}`, row]),
        );
        for (const event of unstored) {
          const first = existing.get(keyOf(event));
          if (first === undefined) {
            // Cannot happen (the key conflicted, so it exists); refuse to guess rather than drop the event.
            throw new Error(`key ${event.event.source}:${event.event.event_id} neither stored nor found`);
          }
          if (first.bodySha256Hex === event.bodySha256) {
            duplicates++;
          } else {
            rejections.push({
              receivedAt: event.receivedAt,
              reason: 'id_conflict',
              source: event.event.source,
              eventId: event.event.event_id,
              detail:
                `(${event.event.source}, ${event.event.event_id}) is already stored with body sha256 ${first.bodySha256Hex} ` +
                `(stream seq ${first.streamSeq}); this body has sha256 ${event.bodySha256}`,
              raw: event.message.data,
              streamSeq: event.message.streamSeq,
              batchLine: event.message.batchLine,
            });
          }
        }
      }
      await insertRejectedEvents(client, rejections);
      const rejected: Partial<Record<RejectionReason, number>> = {};
      for (const row of rejections) rejected[row.reason] = (rejected[row.reason] ?? 0) + 1;
      return {
        messages: batch.length,
        accepted: stored.length,
        late: stored.filter((row) => row.late).length,
        duplicates,
        rejected,
      };
    }).then((result) => {
      // Committed: every accepted key now exists, and with it (same transaction, then or earlier) its period row.
      if (this.knownPeriods.size > 500_000) this.knownPeriods.clear();
      for (const event of sorted) if (!nearMonthBoundary(event.eventTimeMs)) this.knownPeriods.add(periodKey(event));
      return result;
    });
  }

  /** Creates missing month partitions before the data transaction (DDL commits on its own; an empty partition claims nothing). */
  private async ensurePartitions(events: readonly AcceptedEvent[]): Promise<void> {
    const needed = new Map<string, string>();
    for (const event of events) {
      const month = monthOf(event.eventTimeMs);
      // Postgres rounds to microseconds, JS to milliseconds: near a month boundary, ask Postgres itself.
      if (nearMonthBoundary(event.eventTimeMs)) needed.set(`exact:${event.event.timestamp}`, event.event.timestamp);
      else if (!this.knownMonths.has(month)) needed.set(month, event.event.timestamp);
    }
    if (needed.size === 0) return;
    const client = await this.pool.connect();
    try {
      await ensureUsageEventPartitions(client, [...needed.values()]);
    } finally {
      client.release();
    }
    for (const key of needed.keys()) if (!key.startsWith('exact:')) this.knownMonths.add(key);
  }

  private async writeUnstorable(message: ClassifiedMessage, error: unknown): Promise<BatchResult> {
    const detail = `not storable: ${error instanceof Error ? error.message : String(error)}`;
    const row: RejectedEventRow =
      message.kind === 'rejected'
        ? { ...rejectedRow(message), detail: `${message.detail}; ${detail}` }
        : {
            receivedAt: message.receivedAt,
            reason: 'schema_violation',
            detail,
            source: message.event.source,
            eventId: message.event.event_id,
            raw: message.message.data,
            streamSeq: message.message.streamSeq,
            batchLine: message.message.batchLine,
          };
    try {
      await withTransaction(this.pool, (client) => insertRejectedEvents(client, [row]));
    } catch (storeError) {
      if (!isDataError(storeError)) throw toTransient(storeError);
      // Last resort: the raw bytes (bytea) and a fixed detail always store, so the message is never lost or retried forever.
      const minimal: RejectedEventRow = {
        ...row,
        detail: 'not storable; detail withheld (see raw)',
        source: null,
        eventId: null,
      };
      try {
        await withTransaction(this.pool, (client) => insertRejectedEvents(client, [minimal]));
      } catch (minimalError) {
        throw toTransient(minimalError);
      }
    }
    return { messages: 1, accepted: 0, late: 0, duplicates: 0, rejected: { [row.reason]: 1 } };
  }
}

function usageRow(event: AcceptedEvent, periodKnown: boolean): UsageEventRow {
  return {
    source: event.event.source,
    eventId: event.event.event_id,
    customerId: event.event.customer_id,
    eventTime: event.event.timestamp,
    receivedAt: event.receivedAt,
    unit: event.event.unit,
    sku: event.event.metadata.sku as string,
    quantity: event.event.quantity,
    metadataJson: event.metadataJson,
    schemaVersion: event.event.schema_version,
    signature: event.event.signature,
    bodySha256Hex: event.bodySha256,
    streamSeq: event.message.streamSeq,
    periodKnown,
  };
}

function notStored(candidates: readonly AcceptedEvent[], stored: readonly StoredEventKey[]): AcceptedEvent[] {
  const storedKeys = new Set(stored.map((row) => `${row.source}\u0000${row.eventId}`));
  return candidates.filter((event) => !storedKeys.has(keyOf(event)));
}

function rejectedRow(message: RejectedEvent): RejectedEventRow {
  return {
    receivedAt: message.receivedAt,
    reason: message.reason,
    detail: message.detail,
    source: message.source,
    eventId: message.eventId,
    raw: message.message.data,
    streamSeq: message.message.streamSeq,
    batchLine: message.message.batchLine,
  };
}

function keyOf(event: AcceptedEvent): string {
  return `${event.event.source}\u0000${event.event.event_id}`;
}

function uniqueKeys(events: readonly AcceptedEvent[]): Array<{ source: string; eventId: string }> {
  const keys = new Map<string, { source: string; eventId: string }>();
  for (const event of events) keys.set(keyOf(event), { source: event.event.source, eventId: event.event.event_id });
  return [...keys.values()];
}

/** Byte order of the ASCII ids, the same order as Postgres's C collation. */
function compareKeys(a: AcceptedEvent, b: AcceptedEvent): number {
  if (a.event.source !== b.event.source) return a.event.source < b.event.source ? -1 : 1;
  if (a.event.event_id !== b.event.event_id) return a.event.event_id < b.event.event_id ? -1 : 1;
  return 0;
}

/** `YYYY-MM` in UTC. */
function monthOf(ms: number): string {
  const date = new Date(ms);
  const month = date.getUTCMonth() + 1;
  return `${date.getUTCFullYear()}-${month < 10 ? '0' : ''}${month}`;
}

function nearMonthBoundary(ms: number): boolean {
  const month = monthOf(ms);
  return monthOf(ms - MONTH_MS_SLACK) !== month || monthOf(ms + MONTH_MS_SLACK) !== month;
}

function periodKey(event: AcceptedEvent): string {
  return `${event.event.customer_id}\u0000${monthOf(event.eventTimeMs)}`;
}

function addResults(a: BatchResult, b: BatchResult): BatchResult {
  const rejected: Partial<Record<RejectionReason, number>> = { ...a.rejected };
  for (const [reason, count] of Object.entries(b.rejected) as Array<[RejectionReason, number]>)
    rejected[reason] = (rejected[reason] ?? 0) + count;
  return {
    messages: a.messages + b.messages,
    accepted: a.accepted + b.accepted,
    late: a.late + b.late,
    duplicates: a.duplicates + b.duplicates,
    rejected,
  };
}

function sqlState(error: unknown): string | undefined {
  return typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(error.code)
    ? error.code
    : undefined;
}

/** Postgres refused the data itself (class 22 data exception, 23 integrity, 54 limits): retrying the same rows cannot help. */
function isDataError(error: unknown): boolean {
  const state = sqlState(error);
  return (
    state !== undefined &&
    (state.startsWith('22') || (state.startsWith('23') && state !== '23505') || state.startsWith('54'))
  );
}

function toTransient(error: unknown): TransientDatabaseError {
  return error instanceof TransientDatabaseError ? error : new TransientDatabaseError(sqlState(error), error);
}
