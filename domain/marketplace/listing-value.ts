import type { PerUnitPrice, RateCardVersion } from '../../contracts/ratecard.ts';
import { Decimal, formatMoney } from '../money.ts';
import { sortedVersions } from '../rating/index.ts';

/**
 * What `quantity` (in the prices' unit) of a dimension is worth at the listing's rate, for the
 * amounts on finance's exceptions: an over-report to refund, a record the marketplace refused.
 * Marketplace prices are per_unit (the rate-card schema requires it): quantity ÷ package size ×
 * unit price of the dimension's first price in the latest version, in force at `hour` or before,
 * that reports to the dimension (a version that dropped the dimension still left the earlier price
 * billed), rounded half-up to the currency's minor unit once. Undefined when no version prices it.
 *
 * @example unit_price "0.002" per token, quantity 1,500 tokens → "3.00".
 */
export function listingValue(
  versions: readonly RateCardVersion[],
  dimension: string,
  hour: string,
  quantity: Decimal,
): { amount: string; currency: string } | undefined {
  const priceOf = (version: RateCardVersion): PerUnitPrice | undefined =>
    version.prices.find(
      (candidate): candidate is PerUnitPrice =>
        candidate.marketplace_dimension === dimension && candidate.model === 'per_unit',
    );
  const sorted = sortedVersions(versions);
  const inForce =
    sorted.filter((version) => version.effective_from <= hour && priceOf(version) !== undefined).at(-1) ??
    sorted.find((version) => priceOf(version) !== undefined);
  const price = inForce === undefined ? undefined : priceOf(inForce);
  if (inForce === undefined || price === undefined) return undefined;
  const packages = quantity.dividedBy(new Decimal(price.package_size ?? '1'));
  return {
    amount: formatMoney(packages.times(new Decimal(price.unit_price)), inForce.currency),
    currency: inForce.currency,
  };
}
