import { Decimal, formatDecimal } from '../money.ts';
import type { ListingDimension } from './listing-dimensions.ts';
import type { MarketplaceRules } from './marketplace-rules.ts';
import { splitSendable } from './marketplace-rules.ts';
import { recordKeyFor } from './record-keys.ts';
import {
  bucketIdFor,
  type BucketPart,
  type DeltaSource,
  type MarketplaceIdentity,
  type OverReport,
  type SealedBucket,
} from './sealed-bucket.ts';

/** What the canonical table already says about one dimension of one customer. */
export interface DimensionLedger {
  /** carryOut of its latest bucket (0 when it has none). */
  readonly carry: string;
  /**
   * Per hour from `restatementFrom` on: what the buckets accounted for that hour so far (its
   * hourQuantity plus every delta detected for it). Missing: nothing.
   */
  readonly seen: ReadonlyMap<string, string>;
}

export interface SealHoursInput {
  readonly customerId: string;
  readonly identity: MarketplaceIdentity;
  readonly rules: MarketplaceRules;
  readonly dimensions: readonly ListingDimension[];
  /** Consecutive hours to seal, oldest first; every earlier hour is sealed already. */
  readonly hours: readonly string[];
  /** Earlier hours from here on may still change (late events, corrections); older ones are settled. */
  readonly restatementFrom: string;
  /** Usage now, per dimension and hour (price units), from `restatementFrom` through the last hour to seal. */
  readonly usage: ReadonlyMap<string, ReadonlyMap<string, Decimal>>;
  /** Per dimension; absent: a dimension with no bucket yet. */
  readonly ledgers: ReadonlyMap<string, DimensionLedger>;
  /**
   * The first hour whose record the marketplace still takes (its window open at sealing time).
   * Earlier hours sealed now (the sender was down, or the customer's first usage arrived late) send
   * nothing: their usage is carried to the first open hour, so it is late usage, not lost usage.
   * Unset: every hour is open.
   */
  readonly openFrom?: string;
}

export interface SealHoursResult {
  readonly buckets: SealedBucket[];
  readonly deltaSources: DeltaSource[];
  readonly overReports: OverReport[];
}

/**
 * Seals the next hours of one customer's listing dimensions into buckets: one record per dimension
 * and hour, never changed afterwards. Pure; the caller stores the result in one transaction.
 *
 * An hour's record carries that hour's usage plus, on the first hour sealed by a pass, the net
 * change of every earlier, still restatable hour since it was accounted for (late events arrive,
 * corrections lower usage): the marketplace takes no second record for an hour, so late usage is a
 * positive delta in a later hour (Google: a record of its own, a new operation). A net decrease is
 * first taken out of the unsent remainder; what is left was billed and cannot be taken back: an
 * over-report for finance to refund. The hour's own usage is never netted against earlier hours.
 * Whatever a record cannot carry (a fraction of a listing unit where the marketplace wants whole
 * ones, or beyond its largest quantity) is carried to the next hour.
 *
 * @example AWS, listing unit 1000 tokens. Hour 09: 2,500 tokens → sends 2, carries 500. Hour 10:
 *   1,700 tokens, and 300 tokens of hour 09 arrived late → 500 + 1,700 + 300 = 2,500 → sends 2, carries 500.
 */
export function sealHours(input: SealHoursInput): SealHoursResult {
  const buckets: SealedBucket[] = [];
  const deltaSources: DeltaSource[] = [];
  const overReports: OverReport[] = [];
  const firstHour = input.hours[0];
  if (firstHour === undefined) return { buckets, deltaSources, overReports };

  for (const listing of input.dimensions) {
    const unitSize = new Decimal(listing.unitSize);
    const usageByHour = input.usage.get(listing.dimension) ?? new Map<string, Decimal>();
    const ledger = input.ledgers.get(listing.dimension);
    let carry = new Decimal(ledger?.carry ?? '0');

    // Restated hours: usage now minus what was accounted for them (only hours before this pass).
    const restated: { hour: string; delta: Decimal }[] = [];
    const candidates = new Set<string>([...usageByHour.keys(), ...(ledger?.seen.keys() ?? [])]);
    for (const hour of [...candidates].sort()) {
      if (hour < input.restatementFrom || hour >= firstHour) continue;
      const delta = (usageByHour.get(hour) ?? new Decimal(0)).minus(new Decimal(ledger?.seen.get(hour) ?? '0'));
      if (!delta.isZero()) restated.push({ hour, delta });
    }
    let pendingLate = restated.reduce((sum, entry) => sum.plus(entry.delta), new Decimal(0));

    const seal = (hour: string, part: BucketPart, hourQuantity: Decimal, lateQuantity: Decimal): SealedBucket => {
      const bucketId = bucketIdFor(input.customerId, listing.dimension, hour, part);
      const total = carry.plus(hourQuantity).plus(lateQuantity);
      const closed = input.openFrom !== undefined && hour < input.openFrom;
      const { sent, carried } = closed
        ? { sent: new Decimal(0), carried: total }
        : splitSendable(total, unitSize, input.rules.quantityScale, input.rules.maxQuantity);
      const bucket: SealedBucket = {
        bucketId,
        customerId: input.customerId,
        marketplace: input.rules.kind,
        dimension: listing.dimension,
        hour,
        part,
        identity: input.identity,
        recordKey: recordKeyFor(input.identity, listing.dimension, hour, bucketId),
        unitSize: formatDecimal(unitSize),
        hourQuantity: formatDecimal(hourQuantity),
        lateQuantity: formatDecimal(lateQuantity),
        carryIn: formatDecimal(carry),
        carryOut: formatDecimal(carried),
        sentQuantity: formatDecimal(sent),
      };
      carry = carried;
      buckets.push(bucket);
      return bucket;
    };
    const recordSources = (detectedBy: string): void => {
      for (const entry of restated)
        deltaSources.push({
          detectedBy,
          customerId: input.customerId,
          dimension: listing.dimension,
          sourceHour: entry.hour,
          quantity: formatDecimal(entry.delta),
        });
      restated.length = 0;
    };

    for (const hour of input.hours) {
      const hourQuantity = usageByHour.get(hour) ?? new Decimal(0);
      if (pendingLate.isNegative()) {
        // Take the decrease out of the unsent remainder first; the rest was billed: an over-report.
        const absorbed = Decimal.min(carry, pendingLate.negated());
        const bucket = seal(hour, 'usage', hourQuantity, absorbed.negated());
        const over = pendingLate.negated().minus(absorbed);
        if (over.greaterThan(0)) {
          overReports.push({
            overReportId: `over/${bucket.bucketId}`,
            bucketId: bucket.bucketId,
            customerId: input.customerId,
            marketplace: input.rules.kind,
            dimension: listing.dimension,
            hour,
            quantity: formatDecimal(over),
            listingQuantity: formatDecimal(over.dividedBy(unitSize)),
          });
        }
        recordSources(bucket.bucketId);
        pendingLate = new Decimal(0);
      } else if (pendingLate.greaterThan(0) && input.rules.lateUsage === 'fold') {
        const bucket = seal(hour, 'usage', hourQuantity, pendingLate);
        recordSources(bucket.bucketId);
        pendingLate = new Decimal(0);
      } else if (pendingLate.greaterThan(0)) {
        seal(hour, 'usage', hourQuantity, new Decimal(0));
        const late = seal(hour, 'late', new Decimal(0), pendingLate);
        recordSources(late.bucketId);
        pendingLate = new Decimal(0);
      } else {
        // A net change of zero (a late event and a correction that cancel) is still on record.
        const bucket = seal(hour, 'usage', hourQuantity, new Decimal(0));
        recordSources(bucket.bucketId);
      }
    }
  }
  return { buckets, deltaSources, overReports };
}
