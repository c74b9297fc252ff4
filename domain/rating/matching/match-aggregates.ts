import type { Invoice } from '../../../contracts/invoice.ts';
import type { Price } from '../../../contracts/ratecard.ts';
import { NON_NEGATIVE_DECIMAL_PATTERN } from '../../../contracts/patterns.ts';
import { Decimal, formatDecimal } from '../../money.ts';
import type { BillingPeriod } from '../../period.ts';
import type { UsageAggregate } from '../aggregation/usage-aggregate.ts';
import { RatingInputError } from '../rating-input-error.ts';
import type { SegmentWithVersion } from '../segments/segments-in-force.ts';
import { instantMs } from '../time/instant-key.ts';
import type { MatchedAggregate } from '../usage/period-quantity.ts';
import { PriceMatcher, type UnpricedReason } from './price-matching.ts';

/** The aggregates one price id rated, across the segments where it matched. */
export interface PriceBucket {
  readonly matched: MatchedAggregate[];
  /** The price as defined by each segment's version (by segment index). */
  readonly definitions: Map<number, Price>;
  eventCount: number;
}

export interface MatchedUsage {
  /** By price id. */
  readonly buckets: ReadonlyMap<string, PriceBucket>;
  /** What no price matched, by sku, unit and reason, in that order. */
  readonly unpriced: Invoice['unpriced'];
}

/**
 * Stage 2 of `ratePeriod` (rule 2): each aggregate goes to the price its segment's version matches,
 * or to the unpriced usage with the reason. Refuses an aggregate of a segment the period does not
 * have, or with invalid counts or quantities.
 */
export function matchAggregates(
  aggregates: readonly UsageAggregate[],
  segments: readonly SegmentWithVersion[],
  period: BillingPeriod,
): MatchedUsage {
  const segmentIndex = new Map(segments.map(({ segment }, index) => [segment.effectiveFrom ?? '', index]));
  const matchers = segments.map(({ version }) => (version === null ? null : new PriceMatcher(version)));
  const buckets = new Map<string, PriceBucket>();
  const unpriced = new Map<
    string,
    { sku: string; unit: string; reason: UnpricedReason; eventCount: number; quantity: Decimal }
  >();
  for (const aggregate of aggregates) {
    const index = segmentIndex.get(
      aggregate.versionEffectiveFrom === null ? '' : normalizedInstant(aggregate.versionEffectiveFrom),
    );
    if (index === undefined) {
      throw new RatingInputError(
        'unknown_version_segment',
        `an aggregate is for version ${aggregate.versionEffectiveFrom ?? '(none)'}, which is not a segment of ${period.name} (segments: ${segments.map(({ segment }) => segment.effectiveFrom ?? '(none)').join(', ')})`,
      );
    }
    checkAggregate(aggregate);
    const matcher = matchers[index] ?? null;
    const match =
      matcher === null
        ? { priced: false as const, reason: 'no_ratecard_version' as const }
        : matcher.match(aggregate.sku, aggregate.unit, aggregate.metadata);
    if (!match.priced) {
      const key = `${aggregate.sku}\u0000${aggregate.unit}\u0000${match.reason}`;
      const entry = unpriced.get(key) ?? {
        sku: aggregate.sku,
        unit: aggregate.unit,
        reason: match.reason,
        eventCount: 0,
        quantity: new Decimal(0),
      };
      entry.eventCount += aggregate.eventCount;
      entry.quantity = entry.quantity.plus(new Decimal(aggregate.quantitySum));
      unpriced.set(key, entry);
      continue;
    }
    const bucket: PriceBucket = buckets.get(match.price.id) ?? { matched: [], definitions: new Map(), eventCount: 0 };
    bucket.matched.push({ segment: index, aggregate });
    bucket.definitions.set(index, match.price);
    bucket.eventCount += aggregate.eventCount;
    buckets.set(match.price.id, bucket);
  }
  return {
    buckets,
    unpriced: [...unpriced.values()]
      .sort((a, b) => compareText(a.sku, b.sku) || compareText(a.unit, b.unit) || compareText(a.reason, b.reason))
      .map((entry) => ({
        sku: entry.sku,
        unit: entry.unit,
        event_count: entry.eventCount,
        quantity: formatDecimal(entry.quantity),
        reason: entry.reason,
      })),
  };
}

function normalizedInstant(text: string): string {
  return new Date(instantMs(text)).toISOString();
}

function checkAggregate(aggregate: UsageAggregate): void {
  const decimals = [
    aggregate.quantitySum,
    aggregate.quantityMax,
    ...(aggregate.latestQuantity === undefined ? [] : [aggregate.latestQuantity]),
  ];
  if (
    !Number.isSafeInteger(aggregate.eventCount) ||
    aggregate.eventCount <= 0 ||
    decimals.some((text) => !NON_NEGATIVE_DECIMAL_PATTERN.test(text))
  ) {
    throw new RatingInputError(
      'invalid_aggregate',
      `aggregate for ${aggregate.sku} (${aggregate.unit}) has invalid counts or quantities: ${JSON.stringify(aggregate)}`,
    );
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
