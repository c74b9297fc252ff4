import type { Price, RateCardVersion } from '../../contracts/ratecard.ts';
import { Decimal } from '../money.ts';
import { PriceMatcher, sortedVersions, type UsageAggregate } from '../rating/index.ts';

/** One dimension of a marketplace listing, as a customer's rate card reports to it. */
export interface ListingDimension {
  readonly dimension: string;
  /** The unit of the prices reported under it (one per dimension: the rate-card schema checks it). */
  readonly unit: string;
  /** Price units per listing unit. */
  readonly unitSize: string;
  /** The ids of the prices reported under it, in any version. */
  readonly priceIds: readonly string[];
}

/** Every dimension some version of the card reports to, sorted by name. */
export function listingDimensions(versions: readonly RateCardVersion[]): ListingDimension[] {
  const byName = new Map<string, { unit: string; unitSize: string; priceIds: Set<string> }>();
  for (const version of versions) {
    for (const price of version.prices) {
      if (price.marketplace_dimension === undefined) continue;
      const entry = byName.get(price.marketplace_dimension) ?? {
        unit: price.unit,
        unitSize: price.marketplace_unit_size ?? '1',
        priceIds: new Set<string>(),
      };
      entry.priceIds.add(price.id);
      byName.set(price.marketplace_dimension, entry);
    }
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([dimension, entry]) => ({
      dimension,
      unit: entry.unit,
      unitSize: entry.unitSize,
      priceIds: [...entry.priceIds].sort(),
    }));
}

/** Usage of one hour, grouped as the rating engine groups a period (plus the hour). */
export type HourlyAggregate = UsageAggregate & { readonly hour: string };

export interface HourlyDimensionUsage {
  /** dimension → hour → quantity in the prices' unit (sum of `sum` prices' quantities, count of `count` prices' events). */
  readonly usage: ReadonlyMap<string, ReadonlyMap<string, Decimal>>;
  /** Usage the rate card prices but reports to no dimension, or does not price: never sent to the marketplace. */
  readonly unreported: readonly {
    sku: string;
    unit: string;
    priceId: string | null;
    quantity: string;
    eventCount: number;
  }[];
}

/**
 * Sorts hourly aggregates into listing dimensions by the price that rates them (rule 2, for the
 * version in force at the events' time), exactly as the invoice would: a price's `sum` adds the
 * quantities, its `count` the events. Usage no price reports to a dimension is listed as unreported.
 */
export function hourlyDimensionUsage(
  versions: readonly RateCardVersion[],
  aggregates: readonly HourlyAggregate[],
): HourlyDimensionUsage {
  const matchers = new Map(
    sortedVersions(versions).map((version) => [version.effective_from, new PriceMatcher(version)]),
  );
  const usage = new Map<string, Map<string, Decimal>>();
  const unreported = new Map<
    string,
    { sku: string; unit: string; priceId: string | null; quantity: Decimal; eventCount: number }
  >();
  for (const aggregate of aggregates) {
    const matcher = aggregate.versionEffectiveFrom === null ? undefined : matchers.get(aggregate.versionEffectiveFrom);
    const match = matcher?.match(aggregate.sku, aggregate.unit, aggregate.metadata);
    const price: Price | undefined = match?.priced ? match.price : undefined;
    const quantity =
      price?.aggregation === 'count' ? new Decimal(aggregate.eventCount) : new Decimal(aggregate.quantitySum);
    if (price?.marketplace_dimension === undefined) {
      const key = `${aggregate.sku}\u0000${aggregate.unit}\u0000${price?.id ?? ''}`;
      const entry = unreported.get(key) ?? {
        sku: aggregate.sku,
        unit: aggregate.unit,
        priceId: price?.id ?? null,
        quantity: new Decimal(0),
        eventCount: 0,
      };
      entry.quantity = entry.quantity.plus(quantity);
      entry.eventCount += aggregate.eventCount;
      unreported.set(key, entry);
      continue;
    }
    const hours = usage.get(price.marketplace_dimension) ?? new Map<string, Decimal>();
    hours.set(aggregate.hour, (hours.get(aggregate.hour) ?? new Decimal(0)).plus(quantity));
    usage.set(price.marketplace_dimension, hours);
  }
  return {
    usage,
    unreported: [...unreported.values()]
      .sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0))
      .map((entry) => ({ ...entry, quantity: entry.quantity.toString() })),
  };
}
