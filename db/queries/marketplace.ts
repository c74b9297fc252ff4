import type pg from 'pg';
import type { MarketplaceKind } from '../../contracts/contract.ts';
import type {
  DeltaSource,
  HourlyAggregate,
  MarketplaceIdentity,
  OverReport,
  SealedBucket,
} from '../../domain/marketplace/index.ts';
import { Decimal, formatDecimal } from '../../domain/money.ts';
import type { UsageAggregationPlan } from '../../domain/rating/index.ts';
import { ratingGroupRowToAggregate, ratingGroupsSql, type RatingGroupRow } from './usage-aggregates.ts';

/**
 * Marketplace metering (migration 0500): the canonical hourly buckets, the records sent and the
 * marketplaces' answers. Plain SQL; the activities own the transactions and the rules.
 */

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** `YYYY-MM-DDTHH:MM:SS.sssZ` of a timestamptz column, the form the domain compares as text. */
const ISO = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * One customer's stored usage in [from, to), grouped by UTC hour and the rating engine's groups
 * (version segment, sku, unit, the sku's grouping keys: see domain/rating/README.md), so that the
 * price matching of a period's invoice applies hour by hour. Every stored event counts, late or not:
 * a marketplace takes late usage as a later hour's delta, whatever Tally's own invoices did.
 * Read through `corrected_usage_events` (SPEC §5): a voided event no longer counts and a replaced
 * one counts as replaced, in the hour of its corrected timestamp; an hour already sent then shows
 * a net change, which sealing turns into a delta or an over-report like any other restatement.
 * `skus` limits the read to the skus that can reach a dimension.
 */
export async function loadHourlyUsage(
  db: Queryable,
  plan: Pick<UsageAggregationPlan, 'segments' | 'keysBySku'>,
  options: { customerId: string; from: string; to: string; skus?: readonly string[] },
): Promise<HourlyAggregate[]> {
  const values: unknown[] = [options.customerId, options.from, options.to];
  const parameter = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const { segmentCases, keys, keyColumns, groupColumns } = ratingGroupsSql(plan, parameter);
  const skuFilter = options.skus === undefined ? '' : `AND sku = ANY(${parameter(options.skus)}::text[])`;
  const { rows } = await db.query<RatingGroupRow & { hour: string }>(
    `
WITH hour_events AS (
  SELECT date_trunc('hour', event_time, 'UTC') AS hour,
         ${segmentCases.length > 0 ? `CASE ${segmentCases} END` : 'NULL::text'} AS segment,
         sku, unit, quantity${keyColumns.map((column) => `,\n         ${column}`).join('')}
  FROM corrected_usage_events
  WHERE customer_id = $1 AND event_time >= $2::timestamptz AND event_time < $3::timestamptz ${skuFilter}
)
SELECT ${ISO('hour')} AS hour, segment, sku, unit${groupColumns.map((column) => `, ${column}`).join('')},
       count(*) AS event_count, sum(quantity)::text AS quantity_sum, max(quantity)::text AS quantity_max
FROM hour_events
GROUP BY hour, segment, sku, unit${groupColumns.map((column) => `, ${column}`).join('')}
ORDER BY hour`,
    values,
  );
  return rows.map((row) => ({ hour: row.hour, ...ratingGroupRowToAggregate(row, keys) }));
}

export interface MarketplaceLedgerRows {
  /** The latest hour sealed for the customer (any dimension), if any. */
  readonly lastHour: string | undefined;
  /** dimension → carry_out of its latest bucket. */
  readonly carries: ReadonlyMap<string, string>;
  /** dimension → hour → what the buckets accounted for that hour (hour_quantity + detected deltas), from `restatementFrom` on. */
  readonly seen: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

/** What the canonical table says of a customer's dimensions: where sealing resumes and what each hour was accounted as. */
export async function loadMarketplaceLedger(
  db: Queryable,
  options: { customerId: string; restatementFrom: string },
): Promise<MarketplaceLedgerRows> {
  const last = await db.query<{ last_hour: string | null }>(
    `SELECT ${ISO('max(hour)')} AS last_hour FROM marketplace_buckets WHERE customer_id = $1`,
    [options.customerId],
  );
  const carries = await db.query<{ dimension: string; carry_out: string }>(
    `SELECT DISTINCT ON (dimension) dimension, carry_out::text AS carry_out FROM marketplace_buckets
      WHERE customer_id = $1 ORDER BY dimension, hour DESC, (part = 'late') DESC`,
    [options.customerId],
  );
  const seen = await db.query<{ dimension: string; hour: string; quantity: string }>(
    `SELECT dimension, ${ISO('hour')} AS hour, sum(quantity)::text AS quantity FROM (
       SELECT dimension, hour, hour_quantity AS quantity FROM marketplace_buckets
        WHERE customer_id = $1 AND part = 'usage' AND hour >= $2::timestamptz
       UNION ALL
       SELECT dimension, source_hour, quantity FROM marketplace_delta_sources
        WHERE customer_id = $1 AND source_hour >= $2::timestamptz
     ) accounted GROUP BY dimension, hour`,
    [options.customerId, options.restatementFrom],
  );
  const byDimension = new Map<string, Map<string, string>>();
  for (const row of seen.rows) {
    const hours = byDimension.get(row.dimension) ?? new Map<string, string>();
    hours.set(row.hour, formatDecimal(new Decimal(row.quantity)));
    byDimension.set(row.dimension, hours);
  }
  return {
    lastHour: last.rows[0]?.last_hour ?? undefined,
    carries: new Map(carries.rows.map((row) => [row.dimension, formatDecimal(new Decimal(row.carry_out))])),
    seen: byDimension,
  };
}

/**
 * Stores one sealing pass: buckets, the restated hours they detected, over-reports. Keys are the
 * bucket ids, so a retried pass whose first attempt committed finds them and inserts nothing; the
 * caller holds the customer's sealing lock and has checked where sealing resumes.
 */
export async function insertSealedBuckets(
  client: pg.PoolClient,
  sealed: {
    buckets: readonly SealedBucket[];
    deltaSources: readonly DeltaSource[];
    overReports: readonly (OverReport & {
      refundAmount: string | null;
      currency: string | null;
      exceptionId: string;
    })[];
  },
): Promise<number> {
  if (sealed.buckets.length === 0) return 0;
  const inserted = await client.query(
    `INSERT INTO marketplace_buckets (bucket_id, customer_id, marketplace, dimension, hour, part, period, identity, record_key,
        unit_size, hour_quantity, late_quantity, carry_in, carry_out, sent_quantity)
     SELECT b.bucket_id, b.customer_id, b.marketplace, b.dimension, b.hour::timestamptz, b.part, left(b.hour, 7), b.identity::jsonb,
            b.record_key, b.unit_size::numeric, b.hour_quantity::numeric, b.late_quantity::numeric, b.carry_in::numeric,
            b.carry_out::numeric, b.sent_quantity::numeric
     FROM jsonb_to_recordset($1::jsonb) AS b(bucket_id text, customer_id text, marketplace text, dimension text, hour text,
        part text, identity text, record_key text, unit_size text, hour_quantity text, late_quantity text, carry_in text,
        carry_out text, sent_quantity text)
     ON CONFLICT (bucket_id) DO NOTHING`,
    [
      JSON.stringify(
        sealed.buckets.map((bucket) => ({
          bucket_id: bucket.bucketId,
          customer_id: bucket.customerId,
          marketplace: bucket.marketplace,
          dimension: bucket.dimension,
          hour: bucket.hour,
          part: bucket.part,
          identity: JSON.stringify(bucket.identity),
          record_key: bucket.recordKey,
          unit_size: bucket.unitSize,
          hour_quantity: bucket.hourQuantity,
          late_quantity: bucket.lateQuantity,
          carry_in: bucket.carryIn,
          carry_out: bucket.carryOut,
          sent_quantity: bucket.sentQuantity,
        })),
      ),
    ],
  );
  if (sealed.deltaSources.length > 0) {
    await client.query(
      `INSERT INTO marketplace_delta_sources (detected_by, customer_id, dimension, source_hour, quantity)
       SELECT d.detected_by, d.customer_id, d.dimension, d.source_hour::timestamptz, d.quantity::numeric
       FROM jsonb_to_recordset($1::jsonb) AS d(detected_by text, customer_id text, dimension text, source_hour text, quantity text)
       ON CONFLICT DO NOTHING`,
      [
        JSON.stringify(
          sealed.deltaSources.map((source) => ({
            detected_by: source.detectedBy,
            customer_id: source.customerId,
            dimension: source.dimension,
            source_hour: source.sourceHour,
            quantity: source.quantity,
          })),
        ),
      ],
    );
  }
  for (const report of sealed.overReports) {
    await client.query(
      `INSERT INTO marketplace_over_reports (over_report_id, bucket_id, customer_id, marketplace, dimension, hour, quantity,
          listing_quantity, refund_amount, currency, exception_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
      [
        report.overReportId,
        report.bucketId,
        report.customerId,
        report.marketplace,
        report.dimension,
        report.hour,
        report.quantity,
        report.listingQuantity,
        report.refundAmount,
        report.currency,
        report.exceptionId,
      ],
    );
  }
  return inserted.rowCount ?? 0;
}

/** A bucket as stored, with where its record stands. */
export interface StoredBucket extends SealedBucket {
  readonly period: string;
  readonly sealedAt: string;
  /** Attempts so far, and whether the latest one has an answer (no answer: in doubt). */
  readonly attempts: number;
  readonly lastAnswer: SendAnswerKind | null;
  readonly outcome: BucketOutcomeKind | null;
  readonly outcomeReason: string | null;
  readonly acceptedQuantity: string | null;
  readonly marketplaceRecordId: string | null;
}

export type SendAnswerKind = 'accepted' | 'duplicate' | 'rejected' | 'throttled' | 'unprocessed' | 'batch_rejected';
type BucketOutcomeKind = 'accepted' | 'duplicate' | 'rejected' | 'expired' | 'unknown';

interface BucketRow {
  bucket_id: string;
  customer_id: string;
  marketplace: MarketplaceKind;
  dimension: string;
  hour: string;
  part: 'usage' | 'late';
  period: string;
  identity: MarketplaceIdentity;
  record_key: string;
  unit_size: string;
  hour_quantity: string;
  late_quantity: string;
  carry_in: string;
  carry_out: string;
  sent_quantity: string;
  sealed_at: string;
  attempts: number;
  last_answer: SendAnswerKind | null;
  outcome: BucketOutcomeKind | null;
  outcome_reason: string | null;
  accepted_quantity: string | null;
  marketplace_record_id: string | null;
}

const BUCKET_SELECT = `
SELECT b.bucket_id, b.customer_id, b.marketplace, b.dimension, ${ISO('b.hour')} AS hour, b.part, b.period, b.identity,
       b.record_key, b.unit_size::text, b.hour_quantity::text, b.late_quantity::text, b.carry_in::text, b.carry_out::text,
       b.sent_quantity::text, ${ISO('b.sealed_at')} AS sealed_at,
       coalesce(a.attempts, 0)::int AS attempts, a.last_answer,
       o.outcome, o.reason AS outcome_reason, o.accepted_quantity::text AS accepted_quantity,
       o.marketplace_record_id
FROM marketplace_buckets b
LEFT JOIN LATERAL (
  SELECT t.attempt AS attempts, s.answer AS last_answer
  FROM marketplace_send_attempts t LEFT JOIN marketplace_send_answers s USING (bucket_id, attempt)
  WHERE t.bucket_id = b.bucket_id ORDER BY t.attempt DESC LIMIT 1
) a ON true
LEFT JOIN marketplace_outcomes o ON o.bucket_id = b.bucket_id`;

function rowToBucket(row: BucketRow): StoredBucket {
  const quantity = (text: string): string => formatDecimal(new Decimal(text));
  return {
    bucketId: row.bucket_id,
    customerId: row.customer_id,
    marketplace: row.marketplace,
    dimension: row.dimension,
    hour: row.hour,
    part: row.part,
    period: row.period,
    identity: row.identity,
    recordKey: row.record_key,
    unitSize: quantity(row.unit_size),
    hourQuantity: quantity(row.hour_quantity),
    lateQuantity: quantity(row.late_quantity),
    carryIn: quantity(row.carry_in),
    carryOut: quantity(row.carry_out),
    sentQuantity: quantity(row.sent_quantity),
    sealedAt: row.sealed_at,
    attempts: row.attempts,
    lastAnswer: row.last_answer,
    outcome: row.outcome,
    outcomeReason: row.outcome_reason,
    acceptedQuantity: row.accepted_quantity === null ? null : quantity(row.accepted_quantity),
    marketplaceRecordId: row.marketplace_record_id,
  };
}

/**
 * Buckets of one marketplace whose record has no final outcome yet and is sent at all (AWS: every
 * bucket; Azure and Google: a quantity above zero), oldest first.
 */
export async function listUnsettledBuckets(
  db: Queryable,
  options: { marketplace: MarketplaceKind; limit?: number },
): Promise<StoredBucket[]> {
  const { rows } = await db.query<BucketRow>(
    `${BUCKET_SELECT}
     WHERE b.marketplace = $1 AND o.bucket_id IS NULL AND (b.marketplace = 'aws' OR b.sent_quantity > 0)
     ORDER BY b.hour, b.customer_id, b.dimension, (b.part = 'late')
     LIMIT $2`,
    [options.marketplace, options.limit ?? 10_000],
  );
  return rows.map(rowToBucket);
}

/** Every bucket of a period (optionally one customer), in customer, hour, dimension order. */
export async function listPeriodBuckets(
  db: Queryable,
  options: { period: string; customerId?: string },
): Promise<StoredBucket[]> {
  const { rows } = await db.query<BucketRow>(
    `${BUCKET_SELECT}
     WHERE b.period = $1 AND ($2::text IS NULL OR b.customer_id = $2)
     ORDER BY b.customer_id, b.hour, b.dimension, (b.part = 'late')`,
    [options.period, options.customerId ?? null],
  );
  return rows.map(rowToBucket);
}

/** The next attempt number of each bucket (1 for a bucket never sent). */
export async function nextAttempts(client: Queryable, bucketIds: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await client.query<{ bucket_id: string; next: number }>(
    `SELECT id AS bucket_id, coalesce((SELECT max(attempt) FROM marketplace_send_attempts WHERE bucket_id = id), 0)::int + 1 AS next
     FROM unnest($1::text[]) AS id`,
    [bucketIds],
  );
  return new Map(rows.map((row) => [row.bucket_id, row.next]));
}

/** Records that these records are about to go out in one call (before the call: an unanswered attempt is in doubt). */
export async function insertSendAttempts(
  db: Queryable,
  attempts: readonly { bucketId: string; attempt: number; callId: string }[],
): Promise<void> {
  if (attempts.length === 0) return;
  await db.query(
    `INSERT INTO marketplace_send_attempts (bucket_id, attempt, call_id)
     SELECT a.bucket_id, a.attempt, a.call_id FROM jsonb_to_recordset($1::jsonb) AS a(bucket_id text, attempt int, call_id text)`,
    [
      JSON.stringify(
        attempts.map((entry) => ({ bucket_id: entry.bucketId, attempt: entry.attempt, call_id: entry.callId })),
      ),
    ],
  );
}

export interface SendAnswerRow {
  readonly bucketId: string;
  readonly attempt: number;
  readonly answer: SendAnswerKind;
  readonly reason?: string | undefined;
  readonly marketplaceRecordId?: string | undefined;
  readonly acceptedQuantity?: string | undefined;
}

export async function insertSendAnswers(db: Queryable, answers: readonly SendAnswerRow[]): Promise<void> {
  if (answers.length === 0) return;
  await db.query(
    `INSERT INTO marketplace_send_answers (bucket_id, attempt, answer, reason, marketplace_record_id, accepted_quantity)
     SELECT a.bucket_id, a.attempt, a.answer, a.reason, a.marketplace_record_id, a.accepted_quantity::numeric
     FROM jsonb_to_recordset($1::jsonb) AS a(bucket_id text, attempt int, answer text, reason text, marketplace_record_id text,
        accepted_quantity text)
     ON CONFLICT DO NOTHING`,
    [
      JSON.stringify(
        answers.map((answer) => ({
          bucket_id: answer.bucketId,
          attempt: answer.attempt,
          answer: answer.answer,
          reason: answer.reason ?? null,
          marketplace_record_id: answer.marketplaceRecordId ?? null,
          accepted_quantity: answer.acceptedQuantity ?? null,
        })),
      ),
    ],
  );
}

export interface OutcomeRow {
  readonly bucketId: string;
  readonly outcome: BucketOutcomeKind;
  readonly reason?: string | undefined;
  readonly marketplaceRecordId?: string | undefined;
  readonly acceptedQuantity?: string | undefined;
  readonly attempt?: number | undefined;
  readonly exceptionId?: string | undefined;
}

/** A bucket's final outcome, once: the first one recorded stands. Returns the buckets this call settled. */
export async function insertOutcomes(db: Queryable, outcomes: readonly OutcomeRow[]): Promise<string[]> {
  if (outcomes.length === 0) return [];
  const { rows } = await db.query<{ bucket_id: string }>(
    `INSERT INTO marketplace_outcomes (bucket_id, outcome, reason, marketplace_record_id, accepted_quantity, attempt, exception_id)
     SELECT o.bucket_id, o.outcome, o.reason, o.marketplace_record_id, o.accepted_quantity::numeric, o.attempt, o.exception_id
     FROM jsonb_to_recordset($1::jsonb) AS o(bucket_id text, outcome text, reason text, marketplace_record_id text,
        accepted_quantity text, attempt int, exception_id text)
     ON CONFLICT (bucket_id) DO NOTHING
     RETURNING bucket_id`,
    [
      JSON.stringify(
        outcomes.map((outcome) => ({
          bucket_id: outcome.bucketId,
          outcome: outcome.outcome,
          reason: outcome.reason ?? null,
          marketplace_record_id: outcome.marketplaceRecordId ?? null,
          accepted_quantity: outcome.acceptedQuantity ?? null,
          attempt: outcome.attempt ?? null,
          exception_id: outcome.exceptionId ?? null,
        })),
      ),
    ],
  );
  return rows.map((row) => row.bucket_id);
}

/** The attempt log of buckets, oldest first (for status and tests). */
export async function listSendLog(
  db: Queryable,
  bucketIds: readonly string[],
): Promise<
  { bucketId: string; attempt: number; callId: string; answer: SendAnswerKind | null; reason: string | null }[]
> {
  const { rows } = await db.query<{
    bucket_id: string;
    attempt: number;
    call_id: string;
    answer: SendAnswerKind | null;
    reason: string | null;
  }>(
    `SELECT t.bucket_id, t.attempt, t.call_id, s.answer, s.reason FROM marketplace_send_attempts t
     LEFT JOIN marketplace_send_answers s USING (bucket_id, attempt)
     WHERE t.bucket_id = ANY($1::text[]) ORDER BY t.bucket_id, t.attempt`,
    [bucketIds],
  );
  return rows.map((row) => ({
    bucketId: row.bucket_id,
    attempt: row.attempt,
    callId: row.call_id,
    answer: row.answer,
    reason: row.reason,
  }));
}

/** Over-reports detected at buckets of a period. */
export async function listOverReports(
  db: Queryable,
  options: { period: string; customerId?: string },
): Promise<
  {
    overReportId: string;
    bucketId: string;
    customerId: string;
    dimension: string;
    hour: string;
    quantity: string;
    listingQuantity: string;
    refundAmount: string | null;
    currency: string | null;
    exceptionId: string;
  }[]
> {
  const { rows } = await db.query<{
    over_report_id: string;
    bucket_id: string;
    customer_id: string;
    dimension: string;
    hour: string;
    quantity: string;
    listing_quantity: string;
    refund_amount: string | null;
    currency: string | null;
    exception_id: string;
  }>(
    `SELECT over_report_id, bucket_id, customer_id, dimension, ${ISO('hour')} AS hour, quantity::text, listing_quantity::text,
            refund_amount::text, currency, exception_id
     FROM marketplace_over_reports WHERE to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM') = $1 AND ($2::text IS NULL OR customer_id = $2)
     ORDER BY customer_id, hour, dimension`,
    [options.period, options.customerId ?? null],
  );
  return rows.map((row) => ({
    overReportId: row.over_report_id,
    bucketId: row.bucket_id,
    customerId: row.customer_id,
    dimension: row.dimension,
    hour: row.hour,
    quantity: formatDecimal(new Decimal(row.quantity)),
    listingQuantity: formatDecimal(new Decimal(row.listing_quantity)),
    refundAmount: row.refund_amount,
    currency: row.currency,
    exceptionId: row.exception_id,
  }));
}

/** What the buckets accounted for each hour of [from, to): hour_quantity plus detected deltas, per customer and dimension. */
export async function loadAccountedUsage(
  db: Queryable,
  options: { customerId: string; from: string; to: string },
): Promise<Map<string, Decimal>> {
  const { rows } = await db.query<{ dimension: string; quantity: string }>(
    `SELECT dimension, sum(quantity)::text AS quantity FROM (
       SELECT dimension, hour_quantity AS quantity FROM marketplace_buckets
        WHERE customer_id = $1 AND part = 'usage' AND hour >= $2::timestamptz AND hour < $3::timestamptz
       UNION ALL
       SELECT dimension, quantity FROM marketplace_delta_sources
        WHERE customer_id = $1 AND source_hour >= $2::timestamptz AND source_hour < $3::timestamptz
     ) accounted GROUP BY dimension`,
    [options.customerId, options.from, options.to],
  );
  return new Map(rows.map((row) => [row.dimension, new Decimal(row.quantity)]));
}

/**
 * Late usage that crossed a period's boundary, per dimension: `lateIn`, usage of earlier hours that
 * this period's buckets detected; `lateOut`, usage of this period's hours detected by later buckets.
 */
export async function loadLateCrossings(
  db: Queryable,
  options: { customerId: string; from: string; to: string },
): Promise<Map<string, { lateIn: Decimal; lateOut: Decimal }>> {
  const { rows } = await db.query<{ dimension: string; late_in: string; late_out: string }>(
    `SELECT d.dimension,
            coalesce(sum(d.quantity) FILTER (WHERE b.hour >= $2::timestamptz AND b.hour < $3::timestamptz AND d.source_hour < $2::timestamptz), 0)::text AS late_in,
            coalesce(sum(d.quantity) FILTER (WHERE d.source_hour >= $2::timestamptz AND d.source_hour < $3::timestamptz AND b.hour >= $3::timestamptz), 0)::text AS late_out
     FROM marketplace_delta_sources d JOIN marketplace_buckets b ON b.bucket_id = d.detected_by
     WHERE d.customer_id = $1 GROUP BY d.dimension`,
    [options.customerId, options.from, options.to],
  );
  return new Map(
    rows.map((row) => [row.dimension, { lateIn: new Decimal(row.late_in), lateOut: new Decimal(row.late_out) }]),
  );
}
