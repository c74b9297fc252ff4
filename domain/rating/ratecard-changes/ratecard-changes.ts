import type { Discount, Fee, Price, RateCardVersion, Tier } from '../../../contracts/ratecard.ts';
import { describeMoney, Decimal } from '../../money.ts';

/** One change between two rate-card versions, in words a finance person reads. */
export interface RateCardChange {
  /** What it is about: `price tokens-us`, `fee platform`, `discount launch-10`, `rate card`. */
  readonly subject: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly text: string;
}

/**
 * What changes from version `before` to version `after`: prices (unit prices, tiers and their
 * bounds, flat fees, packages, dimensions, what is measured), fees and discounts, each as a
 * sentence with old → new. Every price and fee names its currency, the old one the `before`
 * version's and the new one the `after` version's, at least in the minor digits and never rounded
 * (`describeMoney`); a price written differently but worth the same (0.010, 0.01) is no change.
 * Identical versions give an empty list.
 *
 * @example tokens-us tier 1 unit price 0.010 → 0.009 (USD) gives
 *   { subject: 'price tokens-us', change: 'changed', text: 'tier 1 (up to 1000): unit price 0.01 USD → 0.009 USD' }
 */
export function describeRateCardChanges(before: RateCardVersion, after: RateCardVersion): RateCardChange[] {
  const changes: RateCardChange[] = [];
  const card = (text: string): void => {
    changes.push({ subject: 'rate card', change: 'changed', text });
  };
  if (before.ratecard !== after.ratecard) card(`rate card ${before.ratecard} → ${after.ratecard}`);
  if (before.currency !== after.currency) card(`currency ${before.currency} → ${after.currency}`);
  if (before.effective_from !== after.effective_from)
    card(`in force from ${before.effective_from} → ${after.effective_from}`);
  if ((before.note ?? '') !== (after.note ?? '')) card(`note "${before.note ?? ''}" → "${after.note ?? ''}"`);

  const money = { before: before.currency, after: after.currency };
  compareById(
    before.prices,
    after.prices,
    (price) => `price ${price.id}`,
    describePrice,
    (a, b) => priceChanges(a, b, money),
    money,
    changes,
  );
  compareById(
    before.fees,
    after.fees,
    (fee) => `fee ${fee.id}`,
    (fee, currency) => `${fee.description}: ${describeMoney(fee.amount, currency)} per period`,
    (a, b) => feeChanges(a, b, money),
    money,
    changes,
  );
  compareById(
    before.discounts,
    after.discounts,
    (discount) => `discount ${discount.id}`,
    describeDiscount,
    discountChanges,
    money,
    changes,
  );
  return changes;
}

/** The currencies of the two versions: an old figure is shown in `before`'s, a new one in `after`'s. */
interface Currencies {
  readonly before: string;
  readonly after: string;
}

function compareById<T extends { readonly id: string }>(
  before: readonly T[],
  after: readonly T[],
  subject: (item: T) => string,
  describe: (item: T, currency: string) => string,
  differences: (a: T, b: T) => string[],
  currencies: Currencies,
  changes: RateCardChange[],
): void {
  const old = new Map(before.map((item) => [item.id, item]));
  const next = new Map(after.map((item) => [item.id, item]));
  for (const item of after) {
    const previous = old.get(item.id);
    if (previous === undefined)
      changes.push({ subject: subject(item), change: 'added', text: `new: ${describe(item, currencies.after)}` });
    else
      for (const text of differences(previous, item)) changes.push({ subject: subject(item), change: 'changed', text });
  }
  for (const item of before) {
    if (!next.has(item.id))
      changes.push({
        subject: subject(item),
        change: 'removed',
        text: `removed (was: ${describe(item, currencies.before)})`,
      });
  }
}

function priceChanges(a: Price, b: Price, currencies: Currencies): string[] {
  const out: string[] = [];
  const field = (name: string, x: string | undefined, y: string | undefined): void => {
    if (x !== y) out.push(`${name} ${x ?? '(none)'} → ${y ?? '(none)'}`);
  };
  field('sku', a.sku, b.sku);
  field('unit', a.unit, b.unit);
  field('applies to events', describeDimensions(a.dimensions), describeDimensions(b.dimensions));
  field('aggregation', describeAggregation(a), describeAggregation(b));
  field('billed per', describePackage(a), describePackage(b));
  if (a.model !== b.model) {
    out.push(`pricing ${describeModel(a, currencies.before)} → ${describeModel(b, currencies.after)}`);
    return out;
  }
  if (a.model === 'per_unit' && b.model === 'per_unit') {
    if (moneyDiffers(a.unit_price, b.unit_price, currencies))
      out.push(`unit price ${moneyChange(a.unit_price, b.unit_price, currencies)}`);
    return out;
  }
  if (a.model !== 'per_unit' && b.model !== 'per_unit') out.push(...tierChanges(a.tiers, b.tiers, currencies));
  return out;
}

function tierChanges(a: readonly Tier[], b: readonly Tier[], currencies: Currencies): string[] {
  const sameBounds = a.length === b.length && a.every((tier, index) => tier.up_to === b[index]?.up_to);
  if (!sameBounds) return [`tiers ${describeTiers(a, currencies.before)} → ${describeTiers(b, currencies.after)}`];
  const out: string[] = [];
  a.forEach((tier, index) => {
    const other = b[index] as Tier;
    const name = `tier ${index + 1} (${tierRange(a, index)})`;
    if (moneyDiffers(tier.unit_price, other.unit_price, currencies))
      out.push(`${name}: unit price ${moneyChange(tier.unit_price, other.unit_price, currencies)}`);
    if (moneyDiffers(tier.flat_fee, other.flat_fee, currencies))
      out.push(`${name}: flat fee ${moneyChange(tier.flat_fee, other.flat_fee, currencies)}`);
  });
  return out;
}

/**
 * Two prices differ when their values do (0.010 and 0.01 are one price), or when the currency
 * changes and the price is not zero (0.023 USD is not 0.023 EUR; a zero flat fee is zero in both).
 */
function moneyDiffers(a: string, b: string, currencies: Currencies): boolean {
  const before = new Decimal(a);
  if (!before.eq(b)) return true;
  return currencies.before !== currencies.after && !before.isZero();
}

/** `0.01 USD → 0.009 USD`: each side in its own version's currency. */
function moneyChange(a: string, b: string, currencies: Currencies): string {
  return `${describeMoney(a, currencies.before)} → ${describeMoney(b, currencies.after)}`;
}

function feeChanges(a: Fee, b: Fee, currencies: Currencies): string[] {
  const out: string[] = [];
  if (moneyDiffers(a.amount, b.amount, currencies))
    out.push(`amount ${moneyChange(a.amount, b.amount, currencies)} per period`);
  if (a.description !== b.description) out.push(`description "${a.description}" → "${b.description}"`);
  return out;
}

function discountChanges(a: Discount, b: Discount): string[] {
  const out: string[] = [];
  if (a.percent !== b.percent) out.push(`${a.percent}% → ${b.percent}%`);
  const before = [...a.applies_to].sort().join(', ');
  const after = [...b.applies_to].sort().join(', ');
  if (before !== after) out.push(`applies to ${before} → ${after}`);
  if ((a.description ?? '') !== (b.description ?? ''))
    out.push(`description "${a.description ?? ''}" → "${b.description ?? ''}"`);
  return out;
}

function describePrice(price: Price, currency: string): string {
  return `${price.sku} in ${price.unit}${Object.keys(price.dimensions).length > 0 ? ` where ${describeDimensions(price.dimensions)}` : ''}, ${describeAggregation(price)}, ${describePackage(
    price,
  )}, ${describeModel(price, currency)}`;
}

function describeDiscount(discount: Discount): string {
  return `${discount.percent}% off ${discount.applies_to.join(', ')}${discount.description !== undefined ? ` (${discount.description})` : ''}`;
}

function describeDimensions(dimensions: Readonly<Record<string, string>>): string {
  const keys = Object.keys(dimensions).sort();
  return keys.length === 0 ? 'all' : keys.map((key) => `${key} = ${dimensions[key] as string}`).join(' and ');
}

function describeAggregation(price: Price): string {
  switch (price.aggregation) {
    case 'sum':
      return 'total quantity of the period';
    case 'count':
      return 'number of events';
    case 'max':
      return 'highest quantity of the period';
    case 'latest':
      return 'latest quantity of the period';
    case 'unique_count':
      return `number of distinct ${price.unique_by ?? '?'}`;
  }
  return price.aggregation;
}

function describePackage(price: Price): string {
  if (price.package_size === undefined) return 'each unit';
  const rounding = price.package_rounding ?? 'up';
  const how = rounding === 'none' ? 'fractions of a package billed' : `rounded ${rounding} to whole packages`;
  return `package of ${price.package_size} ${price.unit} (${how})`;
}

function describeModel(price: Price, currency: string): string {
  if (price.model === 'per_unit') return `per unit at ${describeMoney(price.unit_price, currency)}`;
  return `${price.model} ${describeTiers(price.tiers, currency)}`;
}

function describeTiers(tiers: readonly Tier[], currency: string): string {
  return `[${tiers.map((tier, index) => `${tierRange(tiers, index)} at ${describeMoney(tier.unit_price, currency)}${new Decimal(tier.flat_fee).isZero() ? '' : ` + flat ${describeMoney(tier.flat_fee, currency)}`}`).join('; ')}]`;
}

function tierRange(tiers: readonly Tier[], index: number): string {
  const lower = index === 0 ? undefined : tiers[index - 1]?.up_to;
  const upper = tiers[index]?.up_to ?? null;
  if (upper === null) return lower === undefined || lower === null ? 'all' : `above ${lower}`;
  return lower === undefined || lower === null ? `up to ${upper}` : `above ${lower} up to ${upper}`;
}
