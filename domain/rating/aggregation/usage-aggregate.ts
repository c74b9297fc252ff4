import type { RateCardVersion } from '../../../contracts/ratecard.ts';
import type { UsageEvent } from '../../../contracts/usage-event.ts';
import { Decimal, formatDecimal } from '../../money.ts';
import type { BillingPeriod } from '../../period.ts';
import { instantKey } from '../time/instant-key.ts';
import { compareAggregates, compareText, type UsageAggregate } from '../../../contracts/usage-aggregate.ts';
import { SegmentLocator, sortedVersions, versionSegments } from '../segments/version-segments.ts';

/** The aggregate and its canonical order are a contract (contracts/usage-aggregate.ts): re-exported for the engine's users. */
export { type UsageAggregate };

export interface EventCounters {
  /** Events read for this customer and period, duplicates included. */
  readonly read: number;
  /** Repeats of an already-counted (source, event_id). */
  readonly duplicates: number;
  /** Unique events whose timestamp is outside [period_start, period_end). */
  readonly outside_period: number;
}

/** The fields of an event that rating reads. */
export type RatableEvent = Pick<UsageEvent, 'source' | 'event_id' | 'timestamp' | 'unit' | 'quantity' | 'metadata'>;

/**
 * The metadata keys that can change how an event is priced, per sku: the dimension keys and
 * `unique_by` keys of every price of that sku in any of the versions. Aggregates of a sku carry
 * exactly these keys, so two events in one group are priced alike and `unique_count` stays exact.
 * (Per sku, not global, so an sku priced by user never splits another sku's groups by user.)
 */
export function groupingKeysBySku(versions: readonly RateCardVersion[]): ReadonlyMap<string, readonly string[]> {
  const keys = new Map<string, Set<string>>();
  for (const version of versions) {
    for (const price of version.prices) {
      const set = keys.get(price.sku) ?? new Set<string>();
      for (const key of Object.keys(price.dimensions)) set.add(key);
      if (price.unique_by !== undefined) set.add(price.unique_by);
      keys.set(price.sku, set);
    }
  }
  return new Map(
    [...keys].sort(([a], [b]) => compareText(a, b)).map(([sku, set]) => [sku, [...set].sort(compareText)]),
  );
}

/** The skus some price of some version aggregates by `latest`, sorted: only their aggregates carry the latest event. */
export function latestSkus(versions: readonly RateCardVersion[]): string[] {
  const skus = new Set<string>();
  for (const version of versions)
    for (const price of version.prices) if (price.aggregation === 'latest') skus.add(price.sku);
  return [...skus].sort(compareText);
}

/** Every key any price groups by (the union of `groupingKeysBySku`), sorted. */
export function groupingKeys(versions: readonly RateCardVersion[]): string[] {
  const all = new Set<string>();
  for (const keys of groupingKeysBySku(versions).values()) for (const key of keys) all.add(key);
  return [...all].sort(compareText);
}

interface Accumulator {
  readonly segment: number;
  readonly sku: string;
  readonly unit: string;
  readonly metadata: Record<string, string>;
  /** Only skus some price aggregates by `latest` track their latest event (see latestSkus). */
  readonly tracksLatest: boolean;
  eventCount: number;
  /** Quantities of the usual form (see scaledQuantity), in units of 10^-12: exact integer sums, cheaper than Decimal's. */
  scaledSum: bigint;
  scaledMax: bigint | undefined;
  /** Quantities of any other form, in Decimal as before (a validated event never has one). */
  otherSum: Decimal | undefined;
  otherMax: Decimal | undefined;
  latestKey: string;
  latestQuantity: string;
  latestEventKey: string;
}

/** Maps from one part of a group's key to the next part's map; the last map, by unit, holds the group. */
type GroupNode = Map<string | undefined, GroupNode | Accumulator>;
const NO_KEYS: readonly string[] = [];

function childNode(node: GroupNode, part: string | undefined): GroupNode {
  let next = node.get(part) as GroupNode | undefined;
  if (next === undefined) {
    next = new Map();
    node.set(part, next);
  }
  return next;
}

/** Decimal places of a quantity (QUANTITY_PATTERN in contracts/usage-event.ts allows at most 12). */
const QUANTITY_DECIMALS = 12;
const USUAL_QUANTITY = /^(\d{1,20})(?:\.(\d{1,12}))?$/;

/**
 * A quantity of the usual form (up to 20 digits, up to 12 decimals) as an integer of 10^-12 units;
 * undefined for any other form. Exact: the aggregator sums these as integers and turns the total
 * back into a Decimal once, instead of one Decimal addition per event (the offline rating's inner loop).
 */
function scaledQuantity(text: string): bigint | undefined {
  if (isWholeQuantity(text)) return BigInt(text) * SCALE;
  const match = USUAL_QUANTITY.exec(text);
  if (match === null) return undefined;
  const fraction = match[2] ?? '';
  return BigInt(`${match[1] as string}${fraction}${'0'.repeat(QUANTITY_DECIMALS - fraction.length)}`);
}

const SCALE = 10n ** BigInt(QUANTITY_DECIMALS);

/** 1 to 20 digits and nothing else (the usual form without a fraction), checked without a pattern. */
function isWholeQuantity(text: string): boolean {
  if (text.length === 0 || text.length > 20) return false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

function scaledToDecimal(scaled: bigint): Decimal {
  return new Decimal(`${scaled}e-${QUANTITY_DECIMALS}`);
}

function groupSum(group: Accumulator): Decimal {
  const scaled = scaledToDecimal(group.scaledSum);
  return group.otherSum === undefined ? scaled : scaled.plus(group.otherSum);
}

function groupMax(group: Accumulator): Decimal {
  const scaled = group.scaledMax === undefined ? undefined : scaledToDecimal(group.scaledMax);
  if (scaled === undefined) return group.otherMax as Decimal;
  return group.otherMax === undefined || scaled.gte(group.otherMax) ? scaled : group.otherMax;
}

/**
 * Groups in-period events into UsageAggregates one event at a time, so memory grows with the
 * number of groups, not events. It does not deduplicate: the caller feeds each (source, event_id)
 * once (see aggregateEvents).
 */
export class UsageAggregator {
  private readonly locator: SegmentLocator;
  private readonly keysBySku: ReadonlyMap<string, readonly string[]>;
  private readonly latestSkus: ReadonlySet<string>;
  /**
   * The groups, found through one map per part of the group key (sku, unit, then each grouping key's
   * value, `undefined` when the event lacks it) under each segment: no key text is built per event.
   */
  private readonly roots: GroupNode[];
  private readonly groups: Accumulator[] = [];

  constructor(
    versions: readonly RateCardVersion[],
    readonly period: BillingPeriod,
  ) {
    const sorted = sortedVersions(versions);
    this.locator = new SegmentLocator(versionSegments(sorted, period));
    this.keysBySku = groupingKeysBySku(sorted);
    this.latestSkus = new Set(latestSkus(sorted));
    this.roots = this.locator.segments.map(() => new Map());
  }

  /** Adds one unique event; returns false (and keeps nothing) when it is outside the period. */
  add(event: RatableEvent): boolean {
    const key = instantKey(event.timestamp);
    const segment = this.locator.indexOf(key);
    if (segment < 0) return false;
    const sku = event.metadata.sku ?? '';
    const groupKeys = this.keysBySku.get(sku) ?? NO_KEYS;
    let node = childNode(this.roots[segment] as GroupNode, sku);
    for (const name of groupKeys) node = childNode(node, event.metadata[name]);
    // `node` now holds the groups of this segment, sku and grouping values, by unit.
    let group = node.get(event.unit) as Accumulator | undefined;
    if (group === undefined) {
      const metadata: Record<string, string> = {};
      for (const name of groupKeys) {
        const value = event.metadata[name];
        if (value !== undefined) metadata[name] = value;
      }
      group = {
        segment,
        sku,
        unit: event.unit,
        metadata,
        tracksLatest: this.latestSkus.has(sku),
        eventCount: 0,
        scaledSum: 0n,
        scaledMax: undefined,
        otherSum: undefined,
        otherMax: undefined,
        latestKey: '',
        latestQuantity: '',
        latestEventKey: '',
      };
      node.set(event.unit, group);
      this.groups.push(group);
    }
    group.eventCount += 1;
    const scaled = scaledQuantity(event.quantity);
    if (scaled !== undefined) {
      group.scaledSum += scaled;
      if (group.scaledMax === undefined || scaled > group.scaledMax) group.scaledMax = scaled;
    } else {
      const quantity = new Decimal(event.quantity);
      group.otherSum = group.otherSum === undefined ? quantity : group.otherSum.plus(quantity);
      if (group.otherMax === undefined || quantity.gt(group.otherMax)) group.otherMax = quantity;
    }
    if (group.tracksLatest) {
      const eventKey = `${event.source}:${event.event_id}`;
      if (
        group.eventCount === 1 ||
        key > group.latestKey ||
        (key === group.latestKey && eventKey > group.latestEventKey)
      ) {
        group.latestKey = key;
        group.latestQuantity = event.quantity;
        group.latestEventKey = eventKey;
      }
    }
    return true;
  }

  /** The groups so far, sorted by compareAggregates. */
  aggregates(): UsageAggregate[] {
    return this.groups
      .map((group): UsageAggregate => ({
        versionEffectiveFrom: this.locator.segments[group.segment]?.effectiveFrom ?? null,
        sku: group.sku,
        unit: group.unit,
        metadata: group.metadata,
        eventCount: group.eventCount,
        quantitySum: formatDecimal(groupSum(group)),
        quantityMax: formatDecimal(groupMax(group)),
        ...(group.tracksLatest
          ? {
              latestTimestamp: group.latestKey,
              latestQuantity: formatDecimal(new Decimal(group.latestQuantity)),
              latestEventKey: group.latestEventKey,
            }
          : {}),
      }))
      .sort(compareAggregates);
  }
}

/**
 * The offline path of rule 1: keeps the first copy of each (source, event_id), then the events with
 * period_start <= timestamp < period_end, and groups them. `counters` says what was dropped.
 */
export function aggregateEvents(
  events: Iterable<RatableEvent>,
  versions: readonly RateCardVersion[],
  period: BillingPeriod,
): { aggregates: UsageAggregate[]; counters: EventCounters } {
  const aggregator = new UsageAggregator(versions, period);
  const seen = new Set<string>();
  let read = 0;
  let duplicates = 0;
  let outsidePeriod = 0;
  for (const event of events) {
    read += 1;
    const key = `${event.source}\u0000${event.event_id}`;
    if (seen.has(key)) {
      duplicates += 1;
      continue;
    }
    seen.add(key);
    if (!aggregator.add(event)) outsidePeriod += 1;
  }
  return { aggregates: aggregator.aggregates(), counters: { read, duplicates, outside_period: outsidePeriod } };
}
