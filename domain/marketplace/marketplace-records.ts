import { addHours } from './utc-hours.ts';
import type { SealedBucket } from './sealed-bucket.ts';

/**
 * Each marketplace's record, as its metering API takes it, built from a sealed bucket. Quantities
 * stay decimal strings here; the adapters write them onto the wire (AWS's SDK wants a number, and
 * gets one only for a whole quantity within its range).
 */

/** AWS BatchMeterUsage `UsageRecord` with the current identity (CustomerAWSAccountId + LicenseArn). */
interface AwsUsageRecord {
  /** The hour's start, UTC. */
  readonly timestamp: string;
  readonly customerAwsAccountId: string;
  readonly licenseArn: string;
  readonly dimension: string;
  /** Whole units, "0" to "2147483647". */
  readonly quantity: string;
}

/** Azure `batchUsageEvent` item. */
interface AzureUsageEvent {
  readonly resourceId: string;
  readonly planId: string;
  readonly dimension: string;
  /** > 0, decimals allowed. */
  readonly quantity: string;
  /** The hour's start, UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  readonly effectiveStartTime: string;
}

/** Google Service Control `Operation` reporting one metric for one hour. */
interface GcpOperation {
  /** UUIDv5 of the bucket: Service Control deduplicates by it. */
  readonly operationId: string;
  readonly operationName: string;
  /** The entitlement's usageReportingId. */
  readonly consumerId: string;
  readonly startTime: string;
  readonly endTime: string;
  readonly metricValueSets: readonly [
    { readonly metricName: string; readonly metricValues: readonly [{ readonly int64Value: string }] },
  ];
}

export type MarketplaceRecord =
  | {
      readonly kind: 'aws';
      readonly bucketId: string;
      readonly productCode: string | null;
      readonly record: AwsUsageRecord;
    }
  | { readonly kind: 'azure'; readonly bucketId: string; readonly record: AzureUsageEvent }
  | { readonly kind: 'gcp'; readonly bucketId: string; readonly serviceName: string; readonly record: GcpOperation };

/** Seconds precision, no fraction: what the marketplaces' examples show for an hour. */
function utcSeconds(instant: string): string {
  return `${instant.slice(0, 19)}Z`;
}

export function marketplaceRecord(bucket: SealedBucket): MarketplaceRecord {
  const identity = bucket.identity;
  switch (identity.kind) {
    case 'aws':
      return {
        kind: 'aws',
        bucketId: bucket.bucketId,
        productCode: identity.productCode,
        record: {
          timestamp: utcSeconds(bucket.hour),
          customerAwsAccountId: identity.customerAwsAccountId,
          licenseArn: identity.licenseArn,
          dimension: bucket.dimension,
          quantity: bucket.sentQuantity,
        },
      };
    case 'azure':
      return {
        kind: 'azure',
        bucketId: bucket.bucketId,
        record: {
          resourceId: identity.resourceId,
          planId: identity.planId,
          dimension: bucket.dimension,
          quantity: bucket.sentQuantity,
          effectiveStartTime: utcSeconds(bucket.hour),
        },
      };
    case 'gcp':
      return {
        kind: 'gcp',
        bucketId: bucket.bucketId,
        serviceName: identity.serviceName,
        record: {
          operationId: bucket.recordKey,
          operationName: bucket.part === 'late' ? 'tally/late-usage' : 'tally/hourly-usage',
          consumerId: identity.consumerId,
          startTime: utcSeconds(bucket.hour),
          endTime: utcSeconds(addHours(bucket.hour, 1)),
          metricValueSets: [
            {
              metricName: `${identity.serviceName}/${bucket.dimension}`,
              metricValues: [{ int64Value: bucket.sentQuantity }],
            },
          ],
        },
      };
  }
}

/** Whether the bucket's record goes to the marketplace at all: AWS takes zeros, Azure and Google take none. */
export function isSent(bucket: Pick<SealedBucket, 'marketplace' | 'sentQuantity'>): boolean {
  return bucket.marketplace === 'aws' || bucket.sentQuantity !== '0';
}

/**
 * Records grouped into calls: at most `maxPerCall` each, never mixing what one call cannot carry
 * (one AWS product per BatchMeterUsage, one Google service per services.report). Order is kept.
 */
export function groupIntoCalls(records: readonly MarketplaceRecord[], maxPerCall: number): MarketplaceRecord[][] {
  const groups = new Map<string, MarketplaceRecord[]>();
  for (const record of records) {
    const key =
      record.kind === 'aws'
        ? `aws:${record.productCode ?? ''}`
        : record.kind === 'gcp'
          ? `gcp:${record.serviceName}`
          : 'azure';
    const group = groups.get(key) ?? [];
    group.push(record);
    groups.set(key, group);
  }
  const calls: MarketplaceRecord[][] = [];
  for (const group of groups.values())
    for (let start = 0; start < group.length; start += maxPerCall) calls.push(group.slice(start, start + maxPerCall));
  return calls;
}
