import type { MarketplaceKind } from '../../contracts/contract.ts';

/** Who a record is for, in the marketplace's own terms: fixed when the bucket is sealed, so a resend is identical. */
export type MarketplaceIdentity =
  | {
      readonly kind: 'aws';
      readonly customerAwsAccountId: string;
      readonly licenseArn: string;
      /** Groups calls (one product per BatchMeterUsage); not sent with a LicenseArn identity. */
      readonly productCode: string | null;
    }
  | { readonly kind: 'azure'; readonly resourceId: string; readonly planId: string }
  | { readonly kind: 'gcp'; readonly consumerId: string; readonly serviceName: string };

/** `usage`: the hour's own record. `late`: late usage sent as a record of its own (Google's new operation). */
export type BucketPart = 'usage' | 'late';

/**
 * One row of the canonical hourly table: what a customer used of one listing dimension in one UTC
 * hour, and the one record that reports it. Sealed once, never changed. Quantities are decimal
 * strings; `hourQuantity`, `lateQuantity` and the carries are in the prices' unit, `sentQuantity`
 * in the listing's. Invariant: carryIn + hourQuantity + lateQuantity = sentQuantity × unitSize + carryOut.
 */
export interface SealedBucket {
  readonly bucketId: string;
  readonly customerId: string;
  readonly marketplace: MarketplaceKind;
  readonly dimension: string;
  /** The hour's start, `YYYY-MM-DDTHH:00:00.000Z`. */
  readonly hour: string;
  readonly part: BucketPart;
  readonly identity: MarketplaceIdentity;
  /** The record's deterministic key at the marketplace (Google's operationId; the natural key elsewhere). */
  readonly recordKey: string;
  readonly unitSize: string;
  /** The hour's own usage as known when sealed. */
  readonly hourQuantity: string;
  /** Late usage of earlier hours (net of their corrections) this record carries; negative only to take back an unsent remainder. */
  readonly lateQuantity: string;
  readonly carryIn: string;
  readonly carryOut: string;
  /** What the record reports, in listing units (0: AWS sends it; Azure and Google omit it). */
  readonly sentQuantity: string;
}

/** A restated earlier hour: its usage now minus what the records already accounted for it. */
export interface DeltaSource {
  /** The bucket that detected (and, when positive, carries) the difference. */
  readonly detectedBy: string;
  readonly customerId: string;
  readonly dimension: string;
  readonly sourceHour: string;
  /** Signed, never zero. */
  readonly quantity: string;
}

/**
 * Usage already reported that turned out not to exist (a correction lowered an hour that was sent),
 * beyond what an unsent remainder could absorb. No marketplace takes a record back: finance refunds it.
 */
export interface OverReport {
  readonly overReportId: string;
  readonly bucketId: string;
  readonly customerId: string;
  readonly marketplace: MarketplaceKind;
  readonly dimension: string;
  readonly hour: string;
  /** In the prices' unit, > 0. */
  readonly quantity: string;
  /** In listing units (quantity ÷ unit size). */
  readonly listingQuantity: string;
}

/** `<customer>/<dimension>/<hour>/<part>`: unique per bucket ('/' occurs in neither id). */
export function bucketIdFor(customerId: string, dimension: string, hour: string, part: BucketPart): string {
  return `${customerId}/${dimension}/${hour}/${part}`;
}
