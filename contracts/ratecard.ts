import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  compareDecimalText,
  ConfigId,
  CurrencyCode,
  decimalText,
  InstantText,
  isZeroDecimalText,
  MetadataKeyText,
  moneyTextProblem,
  RateCardName,
} from './config-fields.ts';
import { parseYamlConfig, type ConfigProblem, type FieldPath, type YamlPositions } from './yaml-config.ts';

/**
 * The rate card of SPEC §2: Finance-owned YAML in `ratecards/<ratecard>/<effective_from>.yaml`.
 * The schema refuses what would make rating ambiguous or wrong (see `checkRateCard`), and
 * `checkRateCardHistory` refuses versions of one card that disagree on what a price id means.
 */

const AGGREGATIONS = ['sum', 'count', 'max', 'unique_count', 'latest'] as const;
const PRICE_MODELS = ['per_unit', 'graduated', 'volume'] as const;
const PACKAGE_ROUNDINGS = ['up', 'down', 'none'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];
export type PackageRounding = (typeof PACKAGE_ROUNDINGS)[number];

const TierSchema = z.strictObject({
  /** Inclusive upper bound in billable units; null (only) on the last tier. */
  up_to: decimalText('up_to').nullable(),
  unit_price: decimalText('unit_price'),
  flat_fee: decimalText('flat_fee').default('0'),
});

const PriceSchema = z.strictObject({
  id: ConfigId,
  sku: z.string().min(1).max(256),
  unit: z.string().min(1, 'unit is 1-32 characters').max(32, 'unit is 1-32 characters'),
  dimensions: z.record(MetadataKeyText, z.string().min(1).max(256)).default({}),
  aggregation: z.enum(AGGREGATIONS),
  unique_by: MetadataKeyText.optional(),
  package_size: decimalText('package_size').optional(),
  package_rounding: z.enum(PACKAGE_ROUNDINGS).optional(),
  model: z.enum(PRICE_MODELS),
  unit_price: decimalText('unit_price').optional(),
  tiers: z.array(TierSchema).optional(),
  /** The cloud-marketplace listing's dimension this price's usage is reported under (SPEC §12). */
  marketplace_dimension: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'marketplace_dimension is 1-64 chars of [A-Za-z0-9._-]')
    .optional(),
  /**
   * How many of this price's units make one unit of the listing's dimension (default "1"): tokens
   * priced per token and listed per 1,000 tokens say "1000". Marketplace quantities are in the
   * listing's unit; what a whole unit cannot carry waits for the next hour.
   */
  marketplace_unit_size: decimalText('marketplace_unit_size').optional(),
});

const FeeSchema = z.strictObject({
  id: ConfigId,
  description: z.string().min(1).max(256),
  amount: decimalText('amount'),
});

const DiscountSchema = z.strictObject({
  id: ConfigId,
  description: z.string().min(1).max(256).optional(),
  percent: decimalText('percent'),
  applies_to: z.array(ConfigId).min(1, 'applies_to names at least one price id'),
});

type RawRateCard = z.output<typeof RateCardFileShape>;
const RateCardFileShape = z.strictObject({
  ratecard: RateCardName,
  effective_from: InstantText,
  currency: CurrencyCode,
  note: z.string().max(2000).optional(),
  prices: z.array(PriceSchema).default([]),
  fees: z.array(FeeSchema).default([]),
  discounts: z.array(DiscountSchema).default([]),
});

/** The YAML file's shape with every cross-field rule of one version. */
const RateCardFileSchema = RateCardFileShape.superRefine((card, context) => {
  for (const problem of checkRateCard(card))
    context.addIssue({ code: 'custom', path: [...problem.path], message: problem.message });
});

export interface Tier {
  readonly up_to: string | null;
  readonly unit_price: string;
  readonly flat_fee: string;
}

interface PriceCommon {
  readonly id: string;
  readonly sku: string;
  readonly unit: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly aggregation: Aggregation;
  readonly unique_by?: string;
  readonly package_size?: string;
  /** Set (default `up`) exactly when package_size is. */
  readonly package_rounding?: PackageRounding;
  /** The cloud-marketplace dimension this price's usage is reported under (SPEC §12). */
  readonly marketplace_dimension?: string;
  /** Set (default "1") exactly when marketplace_dimension is: price units per listing unit. */
  readonly marketplace_unit_size?: string;
}
export type PerUnitPrice = PriceCommon & { readonly model: 'per_unit'; readonly unit_price: string };
type TieredPrice = PriceCommon & { readonly model: 'graduated' | 'volume'; readonly tiers: readonly Tier[] };
export type Price = PerUnitPrice | TieredPrice;

export interface Fee {
  readonly id: string;
  readonly description: string;
  readonly amount: string;
}

export interface Discount {
  readonly id: string;
  readonly description?: string;
  readonly percent: string;
  readonly applies_to: readonly string[];
}

/** One version of a rate card, as loaded and validated: plain data, safe to pass through workflow payloads. */
export interface RateCardVersion {
  readonly ratecard: string;
  /** UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`. In force from here until the next version of the same card. */
  readonly effective_from: string;
  readonly currency: string;
  readonly note?: string;
  readonly prices: readonly Price[];
  readonly fees: readonly Fee[];
  readonly discounts: readonly Discount[];
  /** sha256 (hex) of the file's bytes. */
  readonly content_hash: string;
  /** The file it came from, as given to the parser. */
  readonly file: string;
}

interface PathProblem {
  readonly path: FieldPath;
  readonly message: string;
}

/**
 * Rules of one version that a schema cannot say field by field. Each problem names the field to fix.
 */
function checkRateCard(card: RawRateCard): PathProblem[] {
  const problems: PathProblem[] = [];
  const add = (path: FieldPath, message: string): void => {
    problems.push({ path, message });
  };

  // Ids: invoice lines, legacy imports and shadow comparisons key by them, so one id names one thing.
  const owners = new Map<string, string>();
  const claim = (id: string, path: FieldPath): void => {
    const owner = owners.get(id);
    if (owner !== undefined)
      add(path, `id "${id}" is already used by ${owner}; ids are unique across prices, fees and discounts`);
    else owners.set(id, formatPath(path.slice(0, 2)));
  };
  card.prices.forEach((price, index) => claim(price.id, ['prices', index, 'id']));
  card.fees.forEach((fee, index) => claim(fee.id, ['fees', index, 'id']));
  card.discounts.forEach((discount, index) => claim(discount.id, ['discounts', index, 'id']));

  const unitsBySku = new Map<string, { unit: string; index: number }>();
  card.prices.forEach((price, index) => {
    const at = (...rest: PropertyKey[]): FieldPath => ['prices', index, ...rest];
    if (Object.hasOwn(price.dimensions, 'sku'))
      add(at('dimensions', 'sku'), "sku is matched by the price's own sku field, not as a dimension");

    if (price.aggregation === 'unique_count' && price.unique_by === undefined)
      add(at('unique_by'), 'unique_count needs unique_by: the metadata key whose distinct values are counted');
    if (price.aggregation !== 'unique_count' && price.unique_by !== undefined)
      add(at('unique_by'), `unique_by applies to unique_count only (this price aggregates by ${price.aggregation})`);

    if (price.package_size !== undefined && isZeroDecimalText(price.package_size))
      add(at('package_size'), 'package_size must be greater than 0');
    if (price.package_rounding !== undefined && price.package_size === undefined)
      add(at('package_rounding'), 'package_rounding needs a package_size');

    if (price.model === 'per_unit') {
      if (price.unit_price === undefined) add(at('unit_price'), 'a per_unit price needs unit_price');
      if (price.tiers !== undefined) add(at('tiers'), 'a per_unit price has no tiers (use model graduated or volume)');
    } else {
      if (price.unit_price !== undefined)
        add(at('unit_price'), `a ${price.model} price takes its unit prices from tiers, not unit_price`);
      if (price.tiers === undefined || price.tiers.length === 0)
        add(at('tiers'), `a ${price.model} price needs at least one tier`);
      else problems.push(...checkTiers(price.tiers, at('tiers')));
    }

    problems.push(...checkMarketplaceDimension(price, at));

    // One sku is measured in one unit: otherwise some of its events could never match a price.
    const seen = unitsBySku.get(price.sku);
    if (seen === undefined) unitsBySku.set(price.sku, { unit: price.unit, index });
    else if (seen.unit !== price.unit)
      add(
        at('unit'),
        `sku ${price.sku} is priced in "${seen.unit}" by prices[${seen.index}] but in "${price.unit}" here; one sku has one unit`,
      );
  });

  // One listing dimension has one unit: hourly buckets add the quantities of every price reported under it.
  const dimensionOwners = new Map<string, { unit: string; unitSize: string; index: number }>();
  card.prices.forEach((price, index) => {
    if (price.marketplace_dimension === undefined) return;
    const unitSize = price.marketplace_unit_size ?? '1';
    const owner = dimensionOwners.get(price.marketplace_dimension);
    if (owner === undefined) {
      dimensionOwners.set(price.marketplace_dimension, { unit: price.unit, unitSize, index });
      return;
    }
    if (owner.unit !== price.unit || compareDecimalText(owner.unitSize, unitSize) !== 0)
      add(
        ['prices', index, 'marketplace_dimension'],
        `marketplace dimension ${price.marketplace_dimension} is reported in "${owner.unit}" with marketplace_unit_size ${owner.unitSize} by prices[${owner.index}]; every price reported under one dimension has the same unit and unit size`,
      );
  });

  // Rule 2: where several prices match, the most dimension keys wins, and a tie is an error.
  // Two prices of one sku and unit with equally many keys tie on some event unless a shared key differs.
  for (let later = 0; later < card.prices.length; later += 1) {
    for (let earlier = 0; earlier < later; earlier += 1) {
      const a = card.prices[earlier];
      const b = card.prices[later];
      if (a === undefined || b === undefined || a.sku !== b.sku || a.unit !== b.unit) continue;
      const aKeys = Object.keys(a.dimensions);
      if (aKeys.length !== Object.keys(b.dimensions).length) continue;
      const disjoint = aKeys.some((key) => Object.hasOwn(b.dimensions, key) && b.dimensions[key] !== a.dimensions[key]);
      if (!disjoint) {
        add(
          ['prices', later, 'dimensions'],
          `prices "${a.id}" and "${b.id}" (sku ${a.sku}, ${aKeys.length} dimension key${aKeys.length === 1 ? '' : 's'} each) could both match the same event; give one of them more dimensions or make a shared dimension differ`,
        );
      }
    }
  }

  card.fees.forEach((fee, index) => {
    const problem = moneyTextProblem(fee.amount, card.currency);
    if (problem) add(['fees', index, 'amount'], problem);
  });

  const priceIds = new Set(card.prices.map((price) => price.id));
  card.discounts.forEach((discount, index) => {
    if (isZeroDecimalText(discount.percent) || compareDecimalText(discount.percent, '100') > 0)
      add(['discounts', index, 'percent'], 'percent must be greater than 0 and at most 100');
    const named = new Set<string>();
    discount.applies_to.forEach((id, position) => {
      if (!priceIds.has(id))
        add(
          ['discounts', index, 'applies_to', position],
          `unknown price id "${id}" (this version's prices: ${[...priceIds].join(', ') || 'none'})`,
        );
      if (named.has(id)) add(['discounts', index, 'applies_to', position], `price id "${id}" is named twice`);
      named.add(id);
    });
  });
  return problems;
}

/**
 * A price reported to a cloud marketplace (SPEC §12) is summed hour by hour and billed by the
 * listing at one rate per unit, so only additive aggregations (sum, count) and the per_unit model
 * fit: an hour's max, latest or distinct count does not add up to the month's.
 */
function checkMarketplaceDimension(
  price: z.output<typeof PriceSchema>,
  at: (...rest: PropertyKey[]) => FieldPath,
): PathProblem[] {
  const problems: PathProblem[] = [];
  if (price.marketplace_dimension === undefined) {
    if (price.marketplace_unit_size !== undefined)
      problems.push({
        path: at('marketplace_unit_size'),
        message: 'marketplace_unit_size needs a marketplace_dimension',
      });
    return problems;
  }
  if (price.aggregation !== 'sum' && price.aggregation !== 'count')
    problems.push({
      path: at('aggregation'),
      message: `a price reported to a marketplace aggregates by sum or count (hourly buckets add up); ${price.aggregation} does not`,
    });
  if (price.model !== 'per_unit')
    problems.push({
      path: at('model'),
      message: `a price reported to a marketplace is per_unit: the listing bills each dimension unit at one rate (not ${price.model})`,
    });
  if (price.marketplace_unit_size !== undefined && isZeroDecimalText(price.marketplace_unit_size))
    problems.push({ path: at('marketplace_unit_size'), message: 'marketplace_unit_size must be greater than 0' });
  return problems;
}

function checkTiers(tiers: readonly z.output<typeof TierSchema>[], path: FieldPath): PathProblem[] {
  const problems: PathProblem[] = [];
  let lower = '0';
  tiers.forEach((tier, index) => {
    const last = index === tiers.length - 1;
    if (last) {
      if (tier.up_to !== null)
        problems.push({
          path: [...path, index, 'up_to'],
          message: 'the last tier has up_to: null (it covers everything above the previous bound)',
        });
      return;
    }
    if (tier.up_to === null) {
      problems.push({
        path: [...path, index, 'up_to'],
        message: 'only the last tier may have up_to: null; give this tier an upper bound',
      });
      return;
    }
    if (compareDecimalText(tier.up_to, lower) <= 0) {
      problems.push({
        path: [...path, index, 'up_to'],
        message: `tier bounds must increase: ${tier.up_to} is not above ${index === 0 ? 'zero' : `the previous tier's ${lower}`}`,
      });
    }
    lower = tier.up_to;
  });
  return problems;
}

function formatPath(path: FieldPath): string {
  return path
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : index === 0 ? String(segment) : `.${String(segment)}`,
    )
    .join('');
}

function toVersion(card: RawRateCard, contentHash: string, file: string): RateCardVersion {
  const prices = card.prices.map((raw): Price => {
    const common: PriceCommon = {
      id: raw.id,
      sku: raw.sku,
      unit: raw.unit,
      dimensions: raw.dimensions,
      aggregation: raw.aggregation,
      ...(raw.unique_by !== undefined ? { unique_by: raw.unique_by } : {}),
      ...(raw.package_size !== undefined
        ? { package_size: raw.package_size, package_rounding: raw.package_rounding ?? 'up' }
        : {}),
      ...(raw.marketplace_dimension !== undefined
        ? {
            marketplace_dimension: raw.marketplace_dimension,
            marketplace_unit_size: raw.marketplace_unit_size ?? '1',
          }
        : {}),
    };
    return raw.model === 'per_unit'
      ? { ...common, model: 'per_unit', unit_price: raw.unit_price as string }
      : { ...common, model: raw.model, tiers: raw.tiers as Tier[] };
  });
  return {
    ratecard: card.ratecard,
    effective_from: card.effective_from,
    currency: card.currency,
    ...(card.note !== undefined ? { note: card.note } : {}),
    prices,
    fees: card.fees,
    discounts: card.discounts.map((discount) => ({ ...discount })),
    content_hash: contentHash,
    file,
  };
}

export type ParsedRateCard =
  | { readonly ok: true; readonly version: RateCardVersion; readonly positions: YamlPositions }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

/** sha256 (hex) of the UTF-8 bytes of `text`: equal to the file's hash when the file was read as strict UTF-8. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Parses and validates one rate-card file. `filePath` names the file in problems and must say the
 * version: `<ratecard>/<effective_from>.yaml`, where the name is the instant as written in RFC 3339
 * (`2026-10-16T12:00:00Z.yaml`) or, for midnight UTC, the date alone (`2026-10-16.yaml`).
 */
export function parseRateCardText(text: string, filePath: string): ParsedRateCard {
  const parsed = parseYamlConfig(text, filePath, RateCardFileSchema);
  if (!parsed.ok) return parsed;
  const card = parsed.value;
  const problems: ConfigProblem[] = [];
  const { directory, stem, extension } = splitPath(filePath);
  if (extension !== '.yaml')
    problems.push(parsed.positions.problemAt([], 'rate-card files are named <effective_from>.yaml'));
  const named = instantFromFileStem(stem);
  if (named === undefined || named !== card.effective_from) {
    problems.push(
      parsed.positions.problemAt(
        ['effective_from'],
        `the file name says ${JSON.stringify(stem)} but effective_from is ${card.effective_from}; name the file ${fileStemFor(card.effective_from)}.yaml`,
      ),
    );
  }
  if (directory !== undefined && directory !== card.ratecard) {
    problems.push(
      parsed.positions.problemAt(
        ['ratecard'],
        `the file is in folder "${directory}" but says ratecard: ${card.ratecard}; a rate card's versions live in ratecards/<ratecard>/`,
      ),
    );
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, version: toVersion(card, contentHash(text), filePath), positions: parsed.positions };
}

/** The file name (without .yaml) a version effective at `effectiveFrom` gets: the date alone at midnight UTC. */
export function fileStemFor(effectiveFrom: string): string {
  const iso = new Date(effectiveFrom).toISOString();
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
  return iso.endsWith('.000Z') ? `${iso.slice(0, 19)}Z` : iso;
}

/** The instant a version file's name (`2026-10-01` or a full instant) stands for; undefined when it is not one. */
export function instantFromFileStem(stem: string): string | undefined {
  const text = /^\d{4}-\d{2}-\d{2}$/.test(stem) ? `${stem}T00:00:00Z` : stem;
  if (!z.iso.datetime({ offset: true }).safeParse(text).success) return undefined;
  return new Date(text).toISOString();
}

function splitPath(filePath: string): { directory: string | undefined; stem: string; extension: string } {
  const parts = filePath.split(/[\\/]/).filter((part) => part !== '' && part !== '.');
  const base = parts.at(-1) ?? '';
  const dot = base.lastIndexOf('.');
  return {
    directory: parts.at(-2),
    stem: dot > 0 ? base.slice(0, dot) : base,
    extension: dot > 0 ? base.slice(dot) : '',
  };
}

/** A parsed version and where its fields are written, for problems found across versions. */
export interface LocatedRateCardVersion {
  readonly version: RateCardVersion;
  readonly positions: YamlPositions;
}

/**
 * Rules across the versions of one rate card. A price id is stable across versions (invoice lines,
 * legacy imports and cumulative tiers key by it), so what it measures may not change: sku, unit,
 * aggregation, unique_by, package_size and package_rounding. Its model, tiers, prices and dimensions
 * may change. All versions share one rate-card name and one currency, and no two take effect at
 * the same instant.
 */
export function checkRateCardHistory(files: readonly LocatedRateCardVersion[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const sorted = [...files].sort((a, b) => compareText(a.version.effective_from, b.version.effective_from));
  const first = sorted[0];
  if (first === undefined) return problems;
  const seenAt = new Map<string, LocatedRateCardVersion>();
  const priceOrigin = new Map<string, { price: Price; file: string }>();
  const dimensionOrigin = new Map<string, { price: Price; file: string }>();
  for (const located of sorted) {
    const { version, positions } = located;
    const earlier = seenAt.get(version.effective_from);
    if (earlier)
      problems.push(
        positions.problemAt(
          ['effective_from'],
          `${earlier.version.file} takes effect at the same instant (${version.effective_from})`,
        ),
      );
    seenAt.set(version.effective_from, located);
    if (version.ratecard !== first.version.ratecard)
      problems.push(
        positions.problemAt(
          ['ratecard'],
          `versions of one card share its name; ${first.version.file} says ${first.version.ratecard}`,
        ),
      );
    if (version.currency !== first.version.currency) {
      problems.push(
        positions.problemAt(
          ['currency'],
          `the currency of a rate card cannot change between versions (${first.version.file} bills in ${first.version.currency}); start a new rate card instead`,
        ),
      );
    }
    version.prices.forEach((price, index) => {
      // A listing dimension keeps its unit: remainders carried from one hour to the next are in it.
      if (price.marketplace_dimension !== undefined) {
        const first = dimensionOrigin.get(price.marketplace_dimension);
        if (first === undefined) dimensionOrigin.set(price.marketplace_dimension, { price, file: version.file });
        else if (
          first.price.unit !== price.unit ||
          compareDecimalText(first.price.marketplace_unit_size ?? '1', price.marketplace_unit_size ?? '1') !== 0
        )
          problems.push(
            positions.problemAt(
              ['prices', index, 'marketplace_dimension'],
              `marketplace dimension ${price.marketplace_dimension} is reported in "${first.price.unit}" with marketplace_unit_size ${first.price.marketplace_unit_size ?? '1'} in ${first.file}; a dimension keeps its unit across versions`,
            ),
          );
      }
      const origin = priceOrigin.get(price.id);
      if (origin === undefined) {
        priceOrigin.set(price.id, { price, file: version.file });
        return;
      }
      for (const field of ['sku', 'unit', 'aggregation', 'unique_by', 'package_size', 'package_rounding'] as const) {
        if (price[field] !== origin.price[field]) {
          problems.push(
            positions.problemAt(
              ['prices', index, field],
              `price "${price.id}" has ${field} ${JSON.stringify(origin.price[field] ?? null)} in ${origin.file}; a price id keeps what it measures across versions (use a new id)`,
            ),
          );
        }
      }
    });
  }
  return problems;
}

/** Versions sorted by effective_from, the order the engine expects. */
export function sortVersions<T extends { readonly effective_from: string }>(versions: readonly T[]): T[] {
  return [...versions].sort((a, b) => compareText(a.effective_from, b.effective_from));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
