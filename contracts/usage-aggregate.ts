/**
 * A snapshot's rating input (SPEC §2 rules 1-3 per group): what the close's SQL aggregation and the
 * offline engine produce, what `period_snapshots.aggregates` stores and what activities hand to the
 * rating. Its canonical order (compareAggregates) is part of the contract: a snapshot is stored and
 * rated in that order, whichever side produced it.
 *
 * One group of deduplicated in-period events that share a rate-card version segment, sku, unit and
 * the metadata values that matter. The engine rates these, never raw events: the workflow builds
 * them with one `GROUP BY` in Postgres, the offline command with `aggregateEvents`, and both give
 * the same groups for the same events.
 */
export interface UsageAggregate {
  /** effective_from of the rate-card version in force at these events' timestamps (see versionSegments); null before the card's first version. */
  readonly versionEffectiveFrom: string | null;
  readonly sku: string;
  readonly unit: string;
  /** Only the keys of `groupingKeysBySku(versions)[sku]` that the events carry (a missing key is absent, as SQL's NULL). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly eventCount: number;
  /** Decimal strings. */
  readonly quantitySum: string;
  readonly quantityMax: string;
  /**
   * The group's latest event, by timestamp then greatest event key: its instant (instantKey form),
   * quantity and `${source}:${event_id}`. Only for the skus some price aggregates by `latest`
   * (latestSkus): finding it is a large part of the SQL aggregation's cost, and no other price needs it.
   */
  readonly latestTimestamp?: string;
  readonly latestQuantity?: string;
  readonly latestEventKey?: string;
}

/** A total order on aggregates (segment, sku, unit, metadata), the order SQL should `ORDER BY` to compare. */
export function compareAggregates(a: UsageAggregate, b: UsageAggregate): number {
  return (
    compareText(a.versionEffectiveFrom ?? '', b.versionEffectiveFrom ?? '') ||
    compareText(a.sku, b.sku) ||
    compareText(a.unit, b.unit) ||
    compareText(metadataText(a.metadata), metadataText(b.metadata))
  );
}

function metadataText(metadata: Readonly<Record<string, string>>): string {
  return Object.keys(metadata)
    .sort(compareText)
    .map((key) => `${key}\u0000${metadata[key] as string}`)
    .join('\u0001');
}

/** Code-unit order, the same in every locale (SQL: COLLATE "C"). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
