import type pg from 'pg';
import { Decimal, formatDecimal } from '../../domain/money.ts';
import { compareAggregates, type UsageAggregate, type UsageAggregationPlan } from '../../domain/rating/index.ts';

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
   * (re-rating a closed period with its late usage). Unset: the column is not consulted.
   */
  readonly lateEvents?: 'exclude' | { readonly adjustedFor: string };
  /** The events table; the columns are those of `usage_events`. */
  readonly table?: string;
}

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

const IDENTIFIER = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/**
 * The query text and parameters. Segment boundaries and grouping keys come from the plan as
 * parameters; the only text spliced in is the table name, checked to be an identifier.
 */
export function usageAggregateQuery(plan: UsageAggregationPlan, options: UsageAggregateQueryOptions): { text: string; values: unknown[] } {
  const table = options.table ?? 'usage_events';
  if (!IDENTIFIER.test(table)) throw new Error(`not a table name: ${table}`);
  const values: unknown[] = [options.customerId, plan.period.start, plan.period.end];
  const parameter = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  // Latest segment first: the first start the event is not before decides its segment.
  const segmentCases = [...plan.segments].reverse()
    .map((segment) => `WHEN event_time >= ${parameter(segment.start)}::timestamptz THEN ${segment.effectiveFrom === null ? 'NULL' : `${parameter(segment.effectiveFrom)}::text`}`)
    .join(' ');
  const keys = [...new Set(plan.keysBySku.flatMap((entry) => entry.keys))].sort();
  const keyColumns = keys.map((key, index) => {
    const skus = plan.keysBySku.filter((entry) => entry.keys.includes(key)).map((entry) => entry.sku);
    return `CASE WHEN sku = ANY(${parameter(skus)}::text[]) THEN metadata ->> ${parameter(key)}::text END AS group_${index}`;
  });
  const groupColumns = keys.map((_key, index) => `group_${index}`);
  // The latest event of a group is the greatest (event time, `source:event_id` as bytes). Each row
  // carries [fixed-width UTC time, key, quantity] as text compared byte-wise, so max() finds it in
  // one pass with no sort of the period's rows (an ordered array_agg sorted them all, and spilled).
  // Keys are unique, so the quantity never decides.
  const cutoff = options.receivedAtOrBefore === undefined ? '' : `AND received_at <= ${parameter(options.receivedAtOrBefore)}::timestamptz`;
  const late = options.lateEvents === undefined ? ''
    : options.lateEvents === 'exclude' ? 'AND NOT late'
    : `AND (NOT late OR EXISTS (SELECT 1 FROM late_event_adjustments claimed WHERE claimed.source = ${table}.source
         AND claimed.event_id = ${table}.event_id AND claimed.corrected_invoice_id = ${parameter(options.lateEvents.adjustedFor)}))`;
  const text = `
WITH period_events AS (
  SELECT CASE ${segmentCases} END AS segment, sku, unit, quantity, event_time,
         ARRAY[to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), source || ':' || event_id, quantity::text] COLLATE "C"
           AS latest_candidate${keyColumns.map((column) => `,\n         ${column}`).join('')}
  FROM ${table}
  WHERE customer_id = $1 AND event_time >= $2::timestamptz AND event_time < $3::timestamptz ${cutoff} ${late}
)
SELECT segment, sku, unit${groupColumns.map((column) => `, ${column}`).join('')},
       count(*) AS event_count,
       sum(quantity)::text AS quantity_sum,
       max(quantity)::text AS quantity_max,
       to_char(max(event_time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS latest_timestamp,
       (max(latest_candidate))[3] AS latest_quantity,
       (max(latest_candidate))[2] AS latest_event_key
FROM period_events
GROUP BY segment, sku, unit${groupColumns.map((column) => `, ${column}`).join('')}`;
  return { text, values };
}

interface AggregateRow {
  segment: string | null;
  sku: string;
  unit: string;
  event_count: string;
  quantity_sum: string;
  quantity_max: string;
  latest_timestamp: string;
  latest_quantity: string;
  latest_event_key: string;
  [group: `group_${number}`]: string | null;
}

/** Runs the query and returns the aggregates in compareAggregates order, quantities as plain decimals. */
export async function loadUsageAggregates(db: Queryable, plan: UsageAggregationPlan, options: UsageAggregateQueryOptions): Promise<UsageAggregate[]> {
  const query = usageAggregateQuery(plan, options);
  const keys = [...new Set(plan.keysBySku.flatMap((entry) => entry.keys))].sort();
  const { rows } = await db.query<AggregateRow>(query.text, query.values);
  return rows.map((row): UsageAggregate => {
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
      latestTimestamp: row.latest_timestamp,
      latestQuantity: formatDecimal(new Decimal(row.latest_quantity)),
      latestEventKey: row.latest_event_key,
    };
  }).sort(compareAggregates);
}
