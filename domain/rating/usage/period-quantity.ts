import type { Aggregation } from '../../../contracts/ratecard.ts';
import { Decimal } from '../../money.ts';
import { instantKey } from '../time/instant-key.ts';
import { RatingInputError } from '../rating-input-error.ts';
import type { UsageAggregate } from '../aggregation/usage-aggregate.ts';

/** An aggregate matched to a price, with the index of the version segment it belongs to. */
export interface MatchedAggregate {
  readonly segment: number;
  readonly aggregate: UsageAggregate;
}

export interface PeriodQuantity {
  /** Rule 3: the price's aggregation over all its events of the period. */
  readonly total: Decimal;
  /**
   * How much of `total` each version segment contributes, in segment (time) order; the entries sum
   * to `total`. Tier positions and version prices are applied per contribution (rule 11).
   */
  readonly bySegment: readonly Decimal[];
}

/**
 * Rule 3 across version segments. Additive aggregations contribute what happened in each segment;
 * the others put the whole quantity in the one segment that decides it:
 * - `sum`: each segment's quantity sum.
 * - `count`: each segment's event count.
 * - `max`: the period maximum, in the earliest segment that reached it (where the maximum was first seen).
 * - `latest`: the quantity of the latest event (greatest timestamp, ties by greatest `${source}:${event_id}`), in its segment.
 * - `unique_count`: distinct values of metadata[unique_by]; each value counts in the segment where it
 *   first appeared. Events without the key add no value.
 *
 * @example sum over segment 0 {quantitySum "700"} and segment 1 {quantitySum "800"} → total 1500, bySegment [700, 800].
 * @example unique_count by user_id: segment 0 users {a, b}, segment 1 users {b, c} → total 3, bySegment [2, 1].
 */
export function periodQuantity(
  aggregation: Aggregation,
  uniqueBy: string | undefined,
  matched: readonly MatchedAggregate[],
  segmentCount: number,
): PeriodQuantity {
  const bySegment: Decimal[] = Array.from({ length: segmentCount }, () => new Decimal(0));
  const addTo = (segment: number, value: Decimal): void => {
    bySegment[segment] = (bySegment[segment] as Decimal).plus(value);
  };
  switch (aggregation) {
    case 'sum':
      for (const { segment, aggregate } of matched) addTo(segment, new Decimal(aggregate.quantitySum));
      break;
    case 'count':
      for (const { segment, aggregate } of matched) addTo(segment, new Decimal(aggregate.eventCount));
      break;
    case 'max': {
      let best: { segment: number; value: Decimal } | undefined;
      for (const { segment, aggregate } of matched) {
        const value = new Decimal(aggregate.quantityMax);
        if (best === undefined || value.gt(best.value) || (value.eq(best.value) && segment < best.segment))
          best = { segment, value };
      }
      if (best) addTo(best.segment, best.value);
      break;
    }
    case 'latest': {
      let best: { segment: number; key: string; eventKey: string; value: Decimal } | undefined;
      for (const { segment, aggregate } of matched) {
        const { latestTimestamp, latestEventKey, latestQuantity } = aggregate;
        if (latestTimestamp === undefined || latestEventKey === undefined || latestQuantity === undefined) {
          throw new RatingInputError(
            'invalid_aggregate',
            `aggregate for ${aggregate.sku} (${aggregate.unit}) has no latest event, which a latest price needs: it was built without this price's rate-card version`,
          );
        }
        const key = instantKey(latestTimestamp);
        if (best === undefined || key > best.key || (key === best.key && latestEventKey > best.eventKey)) {
          best = { segment, key, eventKey: latestEventKey, value: new Decimal(latestQuantity) };
        }
      }
      if (best) addTo(best.segment, best.value);
      break;
    }
    case 'unique_count': {
      const firstSegment = new Map<string, number>();
      for (const { segment, aggregate } of matched) {
        const value = uniqueBy === undefined ? undefined : aggregate.metadata[uniqueBy];
        if (value === undefined) continue;
        const seen = firstSegment.get(value);
        if (seen === undefined || segment < seen) firstSegment.set(value, segment);
      }
      for (const segment of firstSegment.values()) addTo(segment, new Decimal(1));
      break;
    }
  }
  let total = new Decimal(0);
  for (const value of bySegment) total = total.plus(value);
  return { total, bySegment };
}
