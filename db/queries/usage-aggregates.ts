import type pg from 'pg';
import { Decimal, formatDecimal } from '../../domain/money.ts';
import { compareAggregates, type UsageAggregate } from '../../contracts/usage-aggregate.ts';
import type { UsageAggregationPlan } from '../../domain/rating/index.ts';
import { EVENT_SET_FINGERPRINT_SQL, type EventSetSummary } from './period-snapshots.ts';

/**
 * The Postgres side of `aggregateEvents`: one GROUP BY over a customer's stored events that yields
 * exactly the UsageAggregates the offline path builds from the same events (the rating engine's
 * input). Deduplication is the table's: each (source, event_id) is stored once.
 */
export interface UsageAggregateQueryOptions {
  readonly customerId: string;
  /** Only events received at or before this instant (the invoice's event cut-off). */
  readonly receivedAtOrBefore?: string;
  /**
   * Which late events (committed after the customer-period closed) count. `exclude`: none, the
   * issued invoice's event set. `{ adjustedFor }`: also those claimed as adjustments of that invoice
   * (re-rating a closed period with its late usage), except those claimed by `excludingAdjusting`
   * (the period as it stood before that invoice's adjustment). `{ rerunSnapshot }`: also those a
   * re-run's snapshot took in (period_rerun_late_events). Unset: the column is not consulted.
   */
  readonly lateEvents?:
    | 'exclude'
    | { readonly adjustedFor: string; readonly excludingAdjusting?: string }
    | { readonly rerunSnapshot: string };
  /** The events table; the columns are those of `usage_events`. */
  readonly table?: string;
}

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

const IDENTIFIER = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/**
 * The query text and parameters. Segment boundaries and grouping keys come from the plan as
 * parameters; the only text spliced in is the table name, checked to be an identifier.
 */
function usageAggregateQuery(
  plan: UsageAggregationPlan,
  options: UsageAggregateQueryOptions,
): { text: string; values: unknown[] } {
  const parts = aggregateQueryParts(plan, options, []);
  return { text: `\nWITH period_events AS (${parts.periodEvents})\n${parts.groups}`, values: parts.values };
}

/**
 * The aggregates and, from the same read of the customer's rows, the count and fingerprint of the
 * event set they come from (see summarizeEventSet in period-snapshots.ts, which this must equal).
 * The snapshot needs both: one pass over the index range instead of two, and that range's heap pages
 * are the close's main Postgres cost (one customer's events are spread over the month's pages).
 */
export function usageAggregateWithEventSetQuery(
  plan: UsageAggregationPlan,
  options: UsageAggregateQueryOptions,
): { text: string; values: unknown[] } {
  const parts = aggregateQueryParts(plan, options, ['body_sha256']);
  return {
    text: `
WITH period_events AS MATERIALIZED (${parts.periodEvents}),
event_set AS (SELECT count(*)::text AS set_event_count, ${EVENT_SET_FINGERPRINT_SQL} AS set_fingerprint FROM period_events),
aggregate_groups AS (${parts.groups})
SELECT event_set.set_event_count, event_set.set_fingerprint, aggregate_groups.* FROM event_set LEFT JOIN aggregate_groups ON true`,
    values: parts.values,
  };
}

function aggregateQueryParts(
  plan: UsageAggregationPlan,
  options: UsageAggregateQueryOptions,
  extraColumns: readonly string[],
): { periodEvents: string; groups: string; values: unknown[] } {
  const table = options.table ?? 'usage_events';
  if (!IDENTIFIER.test(table)) throw new Error(`not a table name: ${table}`);
  const values: unknown[] = [options.customerId, plan.period.start, plan.period.end];
  const parameter = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const { segmentCases, keyColumns, groupColumns } = ratingGroupsSql(plan, parameter);
  // The latest event of a group is the greatest (event time, `source:event_id` as bytes). Each row
  // carries [fixed-width UTC time, key, quantity] as text compared byte-wise, so max() finds it in
  // one pass with no sort of the period's rows (an ordered array_agg sorted them all, and spilled).
  // Keys are unique, so the quantity never decides. Only rows of skus with a `latest` price build
  // the array (to_char and the array were a quarter of the query's time); the others give NULL.
  const latestCandidate =
    plan.latestSkus.length === 0
      ? 'NULL::text[]'
      : `CASE WHEN sku = ANY(${parameter(plan.latestSkus)}::text[]) THEN ARRAY[to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), source || ':' || event_id, quantity::text] COLLATE "C" END`;
  const cutoff =
    options.receivedAtOrBefore === undefined
      ? ''
      : `AND received_at <= ${parameter(options.receivedAtOrBefore)}::timestamptz`;
  const late =
    options.lateEvents === undefined
      ? ''
      : options.lateEvents === 'exclude'
        ? 'AND NOT late'
        : 'rerunSnapshot' in options.lateEvents
          ? `AND (NOT late OR EXISTS (SELECT 1 FROM period_rerun_late_events taken WHERE taken.snapshot_id = ${parameter(options.lateEvents.rerunSnapshot)}
         AND taken.source = ${table}.source AND taken.event_id = ${table}.event_id))`
          : `AND (NOT late OR EXISTS (SELECT 1 FROM late_event_adjustments claimed WHERE claimed.source = ${table}.source
         AND claimed.event_id = ${table}.event_id AND claimed.corrected_invoice_id = ${parameter(options.lateEvents.adjustedFor)}${
           options.lateEvents.excludingAdjusting === undefined
             ? ''
             : ` AND claimed.adjusting_invoice_id IS DISTINCT FROM ${parameter(options.lateEvents.excludingAdjusting)}`
         }))`;
  const periodEvents = `
  SELECT CASE ${segmentCases} END AS segment, sku, unit, quantity, event_time,${extraColumns.map((column) => ` ${column},`).join('')}
         ${latestCandidate} AS latest_candidate${keyColumns.map((column) => `,\n         ${column}`).join('')}
  FROM ${table}
  WHERE customer_id = $1 AND event_time >= $2::timestamptz AND event_time < $3::timestamptz ${cutoff} ${late}
`;
  const groups = `
SELECT segment, sku, unit${groupColumns.map((column) => `, ${column}`).join('')},
       count(*) AS event_count,
       sum(quantity)::text AS quantity_sum,
       max(quantity)::text AS quantity_max,
       to_char(max(event_time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS latest_timestamp,
       (max(latest_candidate))[3] AS latest_quantity,
       (max(latest_candidate))[2] AS latest_event_key
FROM period_events
GROUP BY segment, sku, unit${groupColumns.map((column) => `, ${column}`).join('')}`;
  return { periodEvents, groups, values };
}

interface AggregateRow extends RatingGroupRow {
  latest_timestamp: string;
  /** NULL for skus without a `latest` price (see UsageAggregationPlan.latestSkus). */
  latest_quantity: string | null;
  latest_event_key: string | null;
}

/** Runs the query and returns the aggregates in compareAggregates order, quantities as plain decimals. */
export async function loadUsageAggregates(
  db: Queryable,
  plan: UsageAggregationPlan,
  options: UsageAggregateQueryOptions,
): Promise<UsageAggregate[]> {
  const query = usageAggregateQuery(plan, options);
  const { rows } = await db.query<AggregateRow>(query.text, query.values);
  return rowsToAggregates(plan, rows);
}

/**
 * The aggregates and the event set's count and fingerprint in one read (usageAggregateWithEventSetQuery).
 * The event set is the one the options select: for a snapshot, `lateEvents: 'exclude'` and no cut-off,
 * which is summarizeEventSet's.
 */
export async function loadUsageAggregatesWithEventSet(
  db: Queryable,
  plan: UsageAggregationPlan,
  options: UsageAggregateQueryOptions,
): Promise<{ aggregates: UsageAggregate[]; eventSet: EventSetSummary }> {
  const query = usageAggregateWithEventSetQuery(plan, options);
  const { rows } = await db.query<Partial<AggregateRow> & { set_event_count: string; set_fingerprint: string }>(
    query.text,
    query.values,
  );
  const first = rows[0];
  if (first === undefined) throw new Error('the event-set query returned no row');
  // No events: one row of the event set with no group (the LEFT JOIN's nulls).
  const groups = rows.filter(
    (row): row is AggregateRow & { set_event_count: string; set_fingerprint: string } =>
      row.sku !== null && row.sku !== undefined,
  );
  return {
    aggregates: rowsToAggregates(plan, groups),
    eventSet: { eventCount: Number.parseInt(first.set_event_count, 10), fingerprint: first.set_fingerprint },
  };
}

function rowsToAggregates(plan: UsageAggregationPlan, rows: readonly AggregateRow[]): UsageAggregate[] {
  const keys = groupingKeys(plan);
  return rows
    .map((row): UsageAggregate => ({
      ...ratingGroupRowToAggregate(row, keys),
      ...(row.latest_event_key === null
        ? {}
        : {
            latestTimestamp: row.latest_timestamp,
            latestQuantity: formatDecimal(new Decimal(row.latest_quantity as string)),
            latestEventKey: row.latest_event_key,
          }),
    }))
    .sort(compareAggregates);
}

/**
 * The SQL of the rating engine's groups, shared by the period snapshot and the marketplace's hourly
 * usage: the CASE that puts an event in its rate-card version segment, and one column per grouping
 * key of its sku. `parameter` adds a value to the query and returns its placeholder. A group's row
 * comes back as an aggregate through `ratingGroupRowToAggregate`.
 */
export function ratingGroupsSql(
  plan: Pick<UsageAggregationPlan, 'segments' | 'keysBySku'>,
  parameter: (value: unknown) => string,
): { segmentCases: string; keys: string[]; keyColumns: string[]; groupColumns: string[] } {
  // Latest segment first: the first start the event is not before decides its segment.
  const segmentCases = [...plan.segments]
    .reverse()
    .map(
      (segment) =>
        `WHEN event_time >= ${parameter(segment.start)}::timestamptz THEN ${segment.effectiveFrom === null ? 'NULL' : `${parameter(segment.effectiveFrom)}::text`}`,
    )
    .join(' ');
  const keys = groupingKeys(plan);
  const keyColumns = keys.map((key, index) => {
    const skus = plan.keysBySku.filter((entry) => entry.keys.includes(key)).map((entry) => entry.sku);
    return `CASE WHEN sku = ANY(${parameter(skus)}::text[]) THEN metadata ->> ${parameter(key)}::text END AS group_${index}`;
  });
  return { segmentCases, keys, keyColumns, groupColumns: keys.map((_key, index) => `group_${index}`) };
}

/** The columns of a group the SQL of `ratingGroupsSql` made: its segment, sku, unit, key values and sums. */
export interface RatingGroupRow {
  segment: string | null;
  sku: string;
  unit: string;
  event_count: string;
  quantity_sum: string;
  quantity_max: string;
  [group: `group_${number}`]: string | null;
}

/**
 * A group's row as an aggregate (all but the latest event, which only the period's query reads):
 * `keys` are `ratingGroupsSql`'s, whose `group_<i>` column holds the value of `keys[i]` (NULL, a
 * key the events do not carry, is left out of the metadata). Quantities as plain decimals.
 */
export function ratingGroupRowToAggregate(row: RatingGroupRow, keys: readonly string[]): UsageAggregate {
  const metadata: Record<string, string> = {};
  keys.forEach((key, index) => {
    const value = row[`group_${index}`];
    if (value !== null && value !== undefined) metadata[key] = value;
  });
  return {
    versionEffectiveFrom: row.segment,
    sku: row.sku,
    unit: row.unit,
    metadata,
    eventCount: Number.parseInt(row.event_count, 10),
    quantitySum: formatDecimal(new Decimal(row.quantity_sum)),
    quantityMax: formatDecimal(new Decimal(row.quantity_max)),
  };
}

/** Every grouping key of the plan's skus, once each, sorted: the order of the `group_<i>` columns. */
function groupingKeys(plan: Pick<UsageAggregationPlan, 'keysBySku'>): string[] {
  return [...new Set(plan.keysBySku.flatMap((entry) => entry.keys))].sort();
}
