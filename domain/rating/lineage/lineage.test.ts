import { describe, expect, it } from 'vitest';
import { buildAggregate, buildPrice, buildRateCardVersion } from '../../../test/builders/rating.ts';
import { aggregatesByPrice } from './lineage.ts';

describe('aggregatesByPrice', () => {
  const version = buildRateCardVersion({
    prices: [
      buildPrice({ id: 'tokens-any', dimensions: {} }),
      buildPrice({ id: 'tokens-eu', dimensions: { region: 'eu-west-1' } }),
    ],
  });

  it('puts each group under the most specific price of its version, and unmatched groups under null', () => {
    const us = buildAggregate({ metadata: { region: 'us-east-1' } });
    const eu = buildAggregate({ metadata: { region: 'eu-west-1' } });
    const images = buildAggregate({ sku: 'llm.images', unit: 'images' });
    const beforeFirstVersion = buildAggregate({ versionEffectiveFrom: null });
    const byPrice = aggregatesByPrice([us, eu, images, beforeFirstVersion], [version]);
    expect(byPrice.get('tokens-any')).toEqual([us]);
    expect(byPrice.get('tokens-eu')).toEqual([eu]);
    expect(byPrice.get(null)).toEqual([images, beforeFirstVersion]);
  });
});
