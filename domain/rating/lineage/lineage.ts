import type { RateCardVersion } from '../../../contracts/ratecard.ts';
import { PriceMatcher } from '../matching/price-matching.ts';
import type { UsageAggregate } from '../aggregation/usage-aggregate.ts';
import { sortedVersions } from '../segments/version-segments.ts';

/**
 * Which aggregate groups each price rated: the lineage of a usage line (`usage:<price_id>`) down
 * to the groups, and through them to the events (each group is one sku, unit, metadata values and
 * version segment). Groups no price matches are under `null` (the unpriced usage).
 *
 * Example: groups {llm.tokens, tokens, region us-east-1, v2026-10-01} and {… v2026-10-16} both
 * rate under `tokens-us`; {llm.images, images} is under null.
 */
export function aggregatesByPrice(
  aggregates: readonly UsageAggregate[],
  versions: readonly RateCardVersion[],
): Map<string | null, UsageAggregate[]> {
  const matchers = new Map(
    sortedVersions(versions).map((version) => [version.effective_from, new PriceMatcher(version)]),
  );
  const byPrice = new Map<string | null, UsageAggregate[]>();
  for (const aggregate of aggregates) {
    const matcher = aggregate.versionEffectiveFrom === null ? undefined : matchers.get(aggregate.versionEffectiveFrom);
    const match = matcher?.match(aggregate.sku, aggregate.unit, aggregate.metadata);
    const priceId = match?.priced === true ? match.price.id : null;
    byPrice.set(priceId, [...(byPrice.get(priceId) ?? []), aggregate]);
  }
  return byPrice;
}
