import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** One accepted event, ready for the usage tables. Timestamps are ISO 8601 strings, the quantity a decimal string. */
export interface UsageEventRow {
  readonly source: string;
  readonly eventId: string;
  readonly customerId: string;
  /** The event's timestamp exactly as signed (RFC 3339 with an offset). */
  readonly eventTime: string;
  readonly receivedAt: string;
  readonly unit: string;
  readonly sku: string;
  /** The quantity exactly as signed (a decimal string). */
  readonly quantity: string;
  readonly metadataJson: string;
  readonly schemaVersion: number;
  readonly signature: string;
  readonly bodySha256Hex: string;
  readonly streamSeq: number;
  /**
   * The caller knows the customer_periods row of this event's customer-period exists (it saw one
   * committed): the outbox upsert skips it. False is always safe.
   */
  readonly periodKnown: boolean;
}

export interface StoredEventKey {
  readonly source: string;
  readonly eventId: string;
  readonly late: boolean;
}

/**
 * The per-session staging table of one batch: COPY fills it inside the ingest transaction, one
 * INSERT … SELECT moves the new keys and events out of it, and COMMIT empties it. Temporary (local
 * buffers, no WAL), one per connection.
 */
const CREATE_STAGING = `
CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
  ord int NOT NULL, source text NOT NULL, event_id text NOT NULL, customer_id text NOT NULL, signed_timestamp text NOT NULL,
  received_at timestamptz NOT NULL, unit text NOT NULL, sku text NOT NULL, signed_quantity text NOT NULL, metadata jsonb NOT NULL,
  schema_version smallint NOT NULL, signature text NOT NULL, body_sha256 bytea NOT NULL, stream_seq bigint NOT NULL,
  period_known boolean NOT NULL
) ON COMMIT DELETE ROWS`;

const COPY_STAGING = 'COPY ingest_staging FROM STDIN';

/**
 * Inserts events whose key is new: COPY of the batch into the session's staging table, then one
 * statement inserting the key into the unpartitioned key table (the cross-partition uniqueness of
 * (source, event_id)) and the event into its month partition, marked late when its customer-period
 * was already closed when it commits (see ADVISORY_LOCKS.INGEST_COMMIT: an event is then either in
 * the period's snapshot or late, never neither), the running totals (aggregated in SQL from the rows
 * stored) and the period outbox. A key is never claimed without its event: both are in one statement,
 * so in the caller's transaction, which must be open (the staging rows live until its COMMIT). `rows`
 * must be sorted by (source, event_id) and carry each key once; totals and periods are upserted in
 * key order too, so concurrent writers cannot deadlock on them.
 *
 * Returns the keys that were stored; the others already existed (duplicates or conflicts).
 */
export async function insertNewUsageEvents(
  client: pg.ClientBase,
  rows: readonly UsageEventRow[],
): Promise<StoredEventKey[]> {
  if (rows.length === 0) return [];
  // Every time: a table created in a transaction that rolled back is gone again; if it exists this is a catalog lookup.
  await client.query(CREATE_STAGING);
  await copyIntoStaging(client, stagingText(rows));
  const result = await client.query<{ source: string; event_id: string; late: boolean }>({
    name: 'insert-new-usage-events-from-staging',
    text: `
WITH input AS MATERIALIZED (
  SELECT s.*, s.signed_timestamp::timestamptz AS event_time, s.signed_quantity::numeric AS quantity
  FROM ingest_staging s
),
claimed AS (
  INSERT INTO usage_event_keys (source, event_id, body_sha256, event_time, received_at, stream_seq)
  SELECT source, event_id, body_sha256, event_time, received_at, stream_seq FROM input ORDER BY ord
  ON CONFLICT (source, event_id) DO NOTHING
  RETURNING source, event_id
),
stored AS (
  INSERT INTO usage_events (source, event_id, customer_id, event_time, received_at, period, unit, sku, quantity,
                            metadata, schema_version, signed_timestamp, signed_quantity, signature, body_sha256, late, stream_seq)
  SELECT i.source, i.event_id, i.customer_id, i.event_time, i.received_at, p.period, i.unit, i.sku, i.quantity,
         i.metadata, i.schema_version, i.signed_timestamp, i.signed_quantity, i.signature, i.body_sha256,
         c.customer_id IS NOT NULL, i.stream_seq
  FROM input i
  JOIN claimed k ON k.source = i.source AND k.event_id = i.event_id
  CROSS JOIN LATERAL (SELECT to_char(i.event_time AT TIME ZONE 'UTC', 'YYYY-MM') AS period) p
  LEFT JOIN period_closures c ON c.customer_id = i.customer_id AND c.period = p.period
  RETURNING source, event_id, customer_id, period, sku, unit, quantity, event_time, received_at, late
),
totals AS (
  INSERT INTO usage_running_totals AS t (customer_id, period, sku, unit, event_count, quantity_sum, updated_at)
  SELECT customer_id, period, sku, unit, count(*), sum(quantity), now() FROM stored
  GROUP BY customer_id, period, sku, unit ORDER BY customer_id, period, sku, unit
  ON CONFLICT (customer_id, period, sku, unit) DO UPDATE
    SET event_count = t.event_count + excluded.event_count,
        quantity_sum = t.quantity_sum + excluded.quantity_sum,
        updated_at = excluded.updated_at
),
periods AS (
  INSERT INTO customer_periods (customer_id, period, first_event_at, first_received_at)
  SELECT i.customer_id, to_char(i.event_time AT TIME ZONE 'UTC', 'YYYY-MM'), min(i.event_time), min(i.received_at)
  FROM input i JOIN claimed k ON k.source = i.source AND k.event_id = i.event_id
  WHERE NOT i.period_known
  GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (customer_id, period) DO NOTHING
)
SELECT source, event_id, late FROM stored`,
  });
  return result.rows.map((row) => ({ source: row.source, eventId: row.event_id, late: row.late }));
}

async function copyIntoStaging(client: pg.ClientBase, text: string): Promise<void> {
  const stream = client.query(copyFrom(COPY_STAGING));
  await pipeline(Readable.from([Buffer.from(text, 'utf8')]), stream);
}

/** The rows in COPY text format, columns in the staging table's order. */
function stagingText(rows: readonly UsageEventRow[]): string {
  let text = '';
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as UsageEventRow;
    text +=
      `${index}\t${copyField(row.source)}\t${copyField(row.eventId)}\t${copyField(row.customerId)}\t${copyField(row.eventTime)}\t` +
      `${copyField(row.receivedAt)}\t${copyField(row.unit)}\t${copyField(row.sku)}\t${copyField(row.quantity)}\t${copyField(row.metadataJson)}\t` +
      `${row.schemaVersion}\t${copyField(row.signature)}\t\\\\x${copyField(row.bodySha256Hex)}\t${row.streamSeq}\t${row.periodKnown ? 't' : 'f'}\n`;
  }
  return text;
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A text value escaped for COPY's text format (backslash, tab, newline and carriage return). */
function copyField(value: string): string {
  return COPY_SPECIAL.test(value)
    ? value.replace(/[\\\t\n\r]/g, (character) => COPY_ESCAPES[character] as string)
    : value;
}

export interface ExistingEventKey {
  readonly source: string;
  readonly eventId: string;
  readonly bodySha256Hex: string;
  readonly streamSeq: number;
}

/** The stored body hashes of these keys (committed by anyone, or by the caller's transaction). */
export async function findEventKeys(
  client: pg.ClientBase,
  keys: ReadonlyArray<{ source: string; eventId: string }>,
): Promise<ExistingEventKey[]> {
  if (keys.length === 0) return [];
  const result = await client.query<{ source: string; event_id: string; body: string; stream_seq: string }>({
    name: 'find-event-keys',
    text: `SELECT k.source, k.event_id, encode(k.body_sha256, 'hex') AS body, k.stream_seq
           FROM usage_event_keys k JOIN unnest($1::text[], $2::text[]) AS w(source, event_id)
             ON k.source = w.source AND k.event_id = w.event_id`,
    values: [keys.map((key) => key.source), keys.map((key) => key.eventId)],
  });
  return result.rows.map((row) => ({
    source: row.source,
    eventId: row.event_id,
    bodySha256Hex: row.body,
    streamSeq: Number.parseInt(row.stream_seq, 10),
  }));
}

/** Creates the month partitions of usage_events that hold these instants (idempotent, concurrency-safe). */
export async function ensureUsageEventPartitions(
  client: pg.ClientBase,
  instants: readonly string[],
): Promise<string[]> {
  if (instants.length === 0) return [];
  const result = await client.query<{ name: string }>(
    'SELECT ensure_usage_events_partition(t) AS name FROM unnest($1::timestamptz[]) AS t',
    [instants],
  );
  return result.rows.map((row) => row.name);
}

/**
 * A customer's stored events within `windowMinutes` of the period's start or end (for the shadow
 * comparison's period-boundary cause), late events of the period itself left out as its snapshot
 * leaves them out. Few rows: two windows of hours around the month's edges.
 */
export async function customerEventsNearPeriodEdges(
  db: Pick<pg.Pool, 'query'>,
  input: { customerId: string; period: string; periodStart: string; periodEnd: string; windowMinutes: number },
): Promise<{ timestamp: string; sku: string; unit: string; metadata: Record<string, string>; quantity: string }[]> {
  const { rows } = await db.query<{
    event_time: Date;
    sku: string;
    unit: string;
    metadata: Record<string, string>;
    quantity: string;
  }>(
    `SELECT event_time, sku, unit, metadata, quantity::text AS quantity FROM usage_events
      WHERE customer_id = $1 AND NOT (late AND period = $2)
        AND (event_time >= $3::timestamptz - make_interval(mins => $5) AND event_time < $3::timestamptz + make_interval(mins => $5)
          OR event_time >= $4::timestamptz - make_interval(mins => $5) AND event_time < $4::timestamptz + make_interval(mins => $5))`,
    [input.customerId, input.period, input.periodStart, input.periodEnd, input.windowMinutes],
  );
  return rows.map((row) => ({
    timestamp: row.event_time.toISOString(),
    sku: row.sku,
    unit: row.unit,
    metadata: row.metadata,
    quantity: row.quantity,
  }));
}
