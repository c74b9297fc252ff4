import type { Price, RateCardVersion } from '../../../contracts/ratecard.ts';
import { RatingInputError } from '../rating-input-error.ts';

export type UnpricedReason = 'no_matching_price' | 'unit_mismatch' | 'no_ratecard_version';

export type PriceMatch =
  { readonly priced: true; readonly price: Price } | { readonly priced: false; readonly reason: UnpricedReason };

/**
 * Rule 2 for one version: the price whose sku and unit equal the event's and whose dimensions all
 * match its metadata; of several, the one with the most dimension keys. A tie is refused (the
 * rate-card validation refuses such cards, so only an unvalidated card gets here).
 *
 * @example prices tokens-any {sku: llm.tokens} and tokens-us {sku: llm.tokens, dimensions: {region: us-east-1}}:
 *   metadata {sku: llm.tokens, region: us-east-1} → tokens-us; {region: eu-west-1} → tokens-any.
 */
export class PriceMatcher {
  /** Prices by `sku\0unit`, most dimension keys first. */
  private readonly bySkuUnit = new Map<string, Price[]>();
  private readonly skus = new Set<string>();

  constructor(readonly version: RateCardVersion) {
    for (const price of version.prices) {
      const key = `${price.sku}\u0000${price.unit}`;
      const list = this.bySkuUnit.get(key) ?? [];
      list.push(price);
      this.bySkuUnit.set(key, list);
      this.skus.add(price.sku);
    }
    for (const list of this.bySkuUnit.values())
      list.sort((a, b) => Object.keys(b.dimensions).length - Object.keys(a.dimensions).length);
  }

  match(sku: string, unit: string, metadata: Readonly<Record<string, string>>): PriceMatch {
    const candidates = this.bySkuUnit.get(`${sku}\u0000${unit}`);
    if (candidates === undefined)
      return { priced: false, reason: this.skus.has(sku) ? 'unit_mismatch' : 'no_matching_price' };
    let found: Price | undefined;
    for (const price of candidates) {
      const keys = Object.keys(price.dimensions);
      if (found !== undefined && keys.length < Object.keys(found.dimensions).length) break;
      if (!keys.every((key) => metadata[key] === price.dimensions[key])) continue;
      if (found !== undefined) {
        throw new RatingInputError(
          'ambiguous_price',
          `prices ${found.id} and ${price.id} of rate card ${this.version.ratecard} (${this.version.effective_from}) both match sku ${sku} with equally many dimensions`,
        );
      }
      found = price;
    }
    return found === undefined ? { priced: false, reason: 'no_matching_price' } : { priced: true, price: found };
  }
}
