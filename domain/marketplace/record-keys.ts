import { uuidV5 } from '../../contracts/uuid-v5.ts';
import type { MarketplaceIdentity } from './sealed-bucket.ts';

/** The namespace of Tally's operation ids at Google (RFC 9562 v5): fixed forever, or every id would change. */
const TALLY_OPERATION_NAMESPACE = '5b0f6a53-2c8e-4d1a-9a57-7d3f0b6c2e41';

/**
 * The key under which the marketplace knows a record, the same for every resend:
 * - AWS: customer account, license, dimension and hour (a different quantity under it is DuplicateRecord);
 * - Azure: resource, dimension and hour (one event each; a second is 409 Conflict);
 * - Google: the operationId, UUIDv5 of the bucket id (Service Control deduplicates by it).
 */
export function recordKeyFor(identity: MarketplaceIdentity, dimension: string, hour: string, bucketId: string): string {
  switch (identity.kind) {
    case 'aws':
      return `${identity.customerAwsAccountId}|${identity.licenseArn}|${dimension}|${hour}`;
    case 'azure':
      return `${identity.resourceId}|${dimension}|${hour}`;
    case 'gcp':
      return uuidV5(bucketId, TALLY_OPERATION_NAMESPACE);
  }
}
