import type pg from 'pg';
import type { RateCardVersionRef } from '../../contracts/invoice.ts';
import type { UsageAggregate } from '../../domain/rating/index.ts';
import { ADVISORY_LOCKS } from '../advisory-locks.ts';
import { customerHasCorrections } from './backfills.ts';

/** One group of in-period events: the rating engine's UsageAggregate, built in SQL (queries/usage-aggregates.ts). */
type AggregateRow = UsageAggregate;

export interface EventSetSummary {
  readonly eventCount: number;
  readonly fingerprint: string;
}

/** The events of a customer-period an invoice is computed from: those not late (committed before the period closed). */
export interface EventSetFilter {
  readonly customerId: string;
  readonly periodStart: string;
  readonly periodEnd: string;
  /** `corrected_usage_events` for the event set with corrections applied (default: the raw history). */
  readonly table?: 'usage_events' | 'corrected_usage_events';
}

/**
 * Closes a customer-period for ingest: records the closure (first writer wins) and waits until every
 * ingest transaction that might not have seen it has committed (see ADVISORY_LOCKS.INGEST_COMMIT).
 * Returns the cut-off that is in force.
 */
export async function closePeriodForIngest(
  pool: pg.Pool,
  customerId: string,
  period: string,
  cutoff: string,
): Promise<string> {
  await pool.query(
    `INSERT INTO period_closures (customer_id, period, event_cutoff, closed_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (customer_id, period) DO NOTHING`,
    [customerId, period, cutoff],
  );
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.INGEST_COMMIT]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  const { rows } = await pool.query<{ event_cutoff: Date }>(
    'SELECT event_cutoff FROM period_closures WHERE customer_id = $1 AND period = $2',
    [customerId, period],
  );
  const stored = rows[0]?.event_cutoff;
  if (stored === undefined) throw new Error(`period ${customerId} ${period} has no closure row after closing`);
  return stored.toISOString();
}

function eventSetWhere(filter: EventSetFilter, parameters: unknown[]): string {
  parameters.push(filter.customerId, filter.periodStart, filter.periodEnd);
  return 'customer_id = $1 AND event_time >= $2 AND event_time < $3 AND NOT late';
}

/**
 * The fingerprint of an event set, as an aggregate over rows with `body_sha256`: sha256 of the set's
 * body hashes (32 bytes each), sorted as bytes and concatenated. A body hash covers the whole
 * canonical event, source and event_id included, so the fingerprint pins the exact events and each
 * one's content. Sorting 32 random bytes is several times cheaper than sorting (source, event_id)
 * text, which made this the largest single part of a close's Postgres time
 * (docs/decisions/period-close.md). Shared with the snapshot's one-pass query (usage-aggregates.ts).
 */
export const EVENT_SET_FINGERPRINT_SQL = `encode(sha256(coalesce(string_agg(body_sha256, ''::bytea ORDER BY body_sha256), ''::bytea)), 'hex')`;

/** Count and sha256 fingerprint of the exact event set (EVENT_SET_FINGERPRINT_SQL). */
export async function summarizeEventSet(pool: pg.Pool, filter: EventSetFilter): Promise<EventSetSummary> {
  const parameters: unknown[] = [];
  const where = eventSetWhere(filter, parameters);
  const { rows } = await pool.query<{ event_count: string; fingerprint: string }>(
    `SELECT count(*)::text AS event_count, ${EVENT_SET_FINGERPRINT_SQL} AS fingerprint
       FROM ${filter.table ?? 'usage_events'} WHERE ${where}`,
    parameters,
  );
  const row = rows[0];
  return { eventCount: Number.parseInt(row?.event_count ?? '0', 10), fingerprint: row?.fingerprint ?? '' };
}

export interface SnapshotRecord {
  readonly snapshotId: string;
  readonly customerId: string;
  readonly period: string;
  readonly mode: 'live' | 'shadow';
  readonly calculationVersion: string;
  readonly eventCutoff: string;
  readonly eventCount: number;
  readonly eventFingerprint: string;
  readonly aggregates: readonly AggregateRow[];
  readonly counters: { read: number; duplicates: number; outside_period: number };
  /** The terms the snapshot was taken under (absent on snapshots from before they were recorded). */
  readonly contractHash?: string | undefined;
  readonly ratecardVersions?: readonly RateCardVersionRef[] | undefined;
  /** When it was taken (read back from the row; not written). */
  readonly createdAt?: string | undefined;
}

/** Stores a snapshot once; a retried activity gets the first one back (it is the one the invoice cites). */
export async function saveSnapshot(pool: pg.Pool, snapshot: SnapshotRecord): Promise<SnapshotRecord> {
  await pool.query(
    `INSERT INTO period_snapshots (snapshot_id, customer_id, period, mode, calculation_version, event_cutoff, event_count,
       event_fingerprint, aggregates, counters, contract_hash, ratecard_versions)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (snapshot_id) DO NOTHING`,
    [
      snapshot.snapshotId,
      snapshot.customerId,
      snapshot.period,
      snapshot.mode,
      snapshot.calculationVersion,
      snapshot.eventCutoff,
      snapshot.eventCount,
      snapshot.eventFingerprint,
      JSON.stringify(snapshot.aggregates),
      JSON.stringify(snapshot.counters),
      snapshot.contractHash ?? null,
      snapshot.ratecardVersions === undefined ? null : JSON.stringify(snapshot.ratecardVersions),
    ],
  );
  const stored = await loadSnapshot(pool, snapshot.snapshotId);
  if (stored === undefined) throw new Error(`snapshot ${snapshot.snapshotId} vanished after insert`);
  return stored;
}

export async function loadSnapshot(pool: pg.Pool, snapshotId: string): Promise<SnapshotRecord | undefined> {
  const { rows } = await pool.query<{
    snapshot_id: string;
    customer_id: string;
    period: string;
    mode: 'live' | 'shadow';
    calculation_version: string;
    event_cutoff: Date;
    event_count: string;
    event_fingerprint: string;
    aggregates: AggregateRow[];
    counters: SnapshotRecord['counters'];
    contract_hash: string | null;
    ratecard_versions: RateCardVersionRef[] | null;
    created_at: Date;
  }>('SELECT * FROM period_snapshots WHERE snapshot_id = $1', [snapshotId]);
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    snapshotId: row.snapshot_id,
    customerId: row.customer_id,
    period: row.period,
    mode: row.mode,
    calculationVersion: row.calculation_version,
    eventCutoff: row.event_cutoff.toISOString(),
    eventCount: Number.parseInt(row.event_count, 10),
    eventFingerprint: row.event_fingerprint,
    aggregates: row.aggregates,
    counters: row.counters,
    contractHash: row.contract_hash ?? undefined,
    ratecardVersions: row.ratecard_versions ?? undefined,
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * Where an issued invoice's own event set is: the raw history, or the corrected event set when the
 * close rated corrections amended before it. Which one is told by the fingerprint the invoice recorded,
 * so a correction amended after the invoice (billed as an adjustment on a later invoice, SPEC §5) is
 * not taken for part of what it billed. Reconciliation and pricing simulations re-rate this set.
 */
export async function invoicedEventTable(
  pool: pg.Pool,
  invoice: {
    readonly customer_id: string;
    readonly period_start: string;
    readonly period_end: string;
    readonly event_fingerprint: string;
  },
): Promise<'usage_events' | 'corrected_usage_events'> {
  if (!(await customerHasCorrections(pool, invoice.customer_id))) return 'usage_events';
  const raw = await summarizeEventSet(pool, {
    customerId: invoice.customer_id,
    periodStart: invoice.period_start,
    periodEnd: invoice.period_end,
  });
  return raw.fingerprint === invoice.event_fingerprint ? 'usage_events' : 'corrected_usage_events';
}
