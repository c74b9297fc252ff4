import type { Discount, Fee, Price, RateCardVersion, Tier } from '../../../contracts/ratecard.ts';

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
 * sentence with old → new. Identical versions give an empty list.
 *
 * @example tokens-us tier 1 unit price 0.010 → 0.009 gives
 *   { subject: 'price tokens-us', change: 'changed', text: 'tier 1 (up to 1000): unit price 0.010 → 0.009' }
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

  compareById(before.prices, after.prices, (price) => `price ${price.id}`, describePrice, priceChanges, changes);
  compareById(
    before.fees,
    after.fees,
    (fee) => `fee ${fee.id}`,
    (fee) => `${fee.description}: ${fee.amount} per period`,
    feeChanges,
    changes,
  );
  compareById(
    before.discounts,
    after.discounts,
    (discount) => `discount ${discount.id}`,
    describeDiscount,
    discountChanges,
    changes,
  );
  return changes;
}

function compareById<T extends { readonly id: string }>(
  before: readonly T[],
  after: readonly T[],
  subject: (item: T) => string,
  describe: (item: T) => string,
  differences: (a: T, b: T) => string[],
  changes: RateCardChange[],
): void {
  const old = new Map(before.map((item) => [item.id, item]));
  const next = new Map(after.map((item) => [item.id, item]));
  for (const item of after) {
    const previous = old.get(item.id);
    if (previous === undefined)
      changes.push({ subject: subject(item), change: 'added', text: `new: ${describe(item)}` });
    else
      for (const text of differences(previous, item)) changes.push({ subject: subject(item), change: 'changed', text });
  }
  for (const item of before) {
    if (!next.has(item.id))
      changes.push({ subject: subject(item), change: 'removed', text: `removed (was: ${describe(item)})` });
  }
}

function priceChanges(a: Price, b: Price): string[] {
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
    out.push(`pricing ${describeModel(a)} → ${describeModel(b)}`);
    return out;
  }
  if (a.model === 'per_unit' && b.model === 'per_unit') {
    field('unit price', a.unit_price, b.unit_price);
    return out;
  }
  if (a.model !== 'per_unit' && b.model !== 'per_unit') out.push(...tierChanges(a.tiers, b.tiers));
  return out;
}

function tierChanges(a: readonly Tier[], b: readonly Tier[]): string[] {
  const sameBounds = a.length === b.length && a.every((tier, index) => tier.up_to === b[index]?.up_to);
  if (!sameBounds) return [`tiers ${describeTiers(a)} → ${describeTiers(b)}`];
  const out: string[] = [];
  a.forEach((tier, index) => {
    const other = b[index] as Tier;
    const name = `tier ${index + 1} (${tierRange(a, index)})`;
    if (tier.unit_price !== other.unit_price) out.push(`${name}: unit price ${tier.unit_price} → ${other.unit_price}`);
    if (tier.flat_fee !== other.flat_fee) out.push(`${name}: flat fee ${tier.flat_fee} → ${other.flat_fee}`);
  });
  return out;
}

function feeChanges(a: Fee, b: Fee): string[] {
  const out: string[] = [];
  if (a.amount !== b.amount) out.push(`amount ${a.amount} → ${b.amount} per period`);
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

function describePrice(price: Price): string {
  return `${price.sku} in ${price.unit}${Object.keys(price.dimensions).length > 0 ? ` where ${describeDimensions(price.dimensions)}` : ''}, ${describeAggregation(price)}, ${describePackage(
    price,
  )}, ${describeModel(price)}`;
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

function describeModel(price: Price): string {
  if (price.model === 'per_unit') return `per unit at ${price.unit_price}`;
  return `${price.model} ${describeTiers(price.tiers)}`;
}

function describeTiers(tiers: readonly Tier[]): string {
  return `[${tiers.map((tier, index) => `${tierRange(tiers, index)} at ${tier.unit_price}${tier.flat_fee !== '0' && !/^0+(\.0+)?$/.test(tier.flat_fee) ? ` + flat ${tier.flat_fee}` : ''}`).join('; ')}]`;
}

function tierRange(tiers: readonly Tier[], index: number): string {
  const lower = index === 0 ? undefined : tiers[index - 1]?.up_to;
  const upper = tiers[index]?.up_to ?? null;
  if (upper === null) return lower === undefined || lower === null ? 'all' : `above ${lower}`;
  return lower === undefined || lower === null ? `up to ${upper}` : `above ${lower} up to ${upper}`;
}
