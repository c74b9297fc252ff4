import type { RateCardVersion } from '../../contracts/ratecard.ts';
import { Decimal } from '../money.ts';
import type { BillingPeriod } from '../period.ts';
import { PriceMatcher } from '../rating/index.ts';
import { BOUNDARY_WINDOW_MINUTES, type BoundaryUsage } from './boundary-causes.ts';

/** What the boundary cause needs of one usage event. */
export interface EdgeEvent {
  /** The event time (ISO 8601). */
  readonly timestamp: string;
  readonly sku: string;
  readonly unit: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly quantity: string;
}

const MINUTE_MS = 60_000;

/**
 * Tally's usage near the period's edges per line key (`price_id`), from the customer's events within
 * `BOUNDARY_WINDOW_MINUTES` of the period's start or end, each priced by the rate-card version in
 * force at its time. Only additive prices can be re-cut by time: an event adds its quantity to a
 * `sum` price and 1 to a `count` price; a key with any other aggregation is left out (so no
 * `period_boundary` is claimed for it). Events of no price are skipped, as rating skips them.
 */
export function boundaryUsageFromEvents(
  events: readonly EdgeEvent[],
  versions: readonly RateCardVersion[],
  period: Pick<BillingPeriod, 'start' | 'end'>,
): BoundaryUsage[] {
  const ordered = [...versions].sort((a, b) => Date.parse(a.effective_from) - Date.parse(b.effective_from));
  const matchers = ordered.map((version) => ({
    from: Date.parse(version.effective_from),
    matcher: new PriceMatcher(version),
  }));
  const startMs = Date.parse(period.start);
  const endMs = Date.parse(period.end);
  const byKey = new Map<
    string,
    { nearStart: BoundaryUsage['nearStart'][number][]; nearEnd: BoundaryUsage['nearEnd'][number][] }
  >();
  const notAdditive = new Set<string>();
  for (const event of events) {
    const atMs = Date.parse(event.timestamp);
    const fromStart = (atMs - startMs) / MINUTE_MS;
    const fromEnd = (atMs - endMs) / MINUTE_MS;
    const nearStart = Math.abs(fromStart) < BOUNDARY_WINDOW_MINUTES;
    const nearEnd = Math.abs(fromEnd) < BOUNDARY_WINDOW_MINUTES;
    if (!nearStart && !nearEnd) continue;
    const inForce = matchers.filter((entry) => entry.from <= atMs).at(-1);
    if (inForce === undefined) continue;
    const match = inForce.matcher.match(event.sku, event.unit, event.metadata);
    if (!match.priced) continue;
    const { price } = match;
    if (price.aggregation !== 'sum' && price.aggregation !== 'count') {
      notAdditive.add(price.id);
      continue;
    }
    const quantity = price.aggregation === 'sum' ? new Decimal(event.quantity) : new Decimal(1);
    const usage = byKey.get(price.id) ?? { nearStart: [], nearEnd: [] };
    if (nearStart) usage.nearStart.push({ minutes: fromStart, quantity });
    else usage.nearEnd.push({ minutes: fromEnd, quantity });
    byKey.set(price.id, usage);
  }
  return [...byKey]
    .filter(([key]) => !notAdditive.has(key))
    .map(([key, usage]) => ({ key, nearStart: usage.nearStart, nearEnd: usage.nearEnd }));
}
