import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  MarketplaceMeteringServiceException,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import type { MarketplaceRecord } from '../../domain/marketplace/index.ts';
import { MarketplaceCallError, type MarketplaceAdapter, type RecordAnswer } from './marketplace-adapter.ts';

export interface AwsMeteringOptions {
  /** The metering endpoint (the emulator's in tests; unset: the SDK's regional endpoint). */
  readonly endpoint?: string;
  readonly region: string;
  /** Static credentials; unset: the SDK's default chain (instance role, …). */
  readonly credentials?: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  /** Attempts of one call by the SDK itself (throttling, 5xx, network): it resends the same records, which AWS deduplicates. */
  readonly maxAttempts: number;
  readonly requestTimeoutMs: number;
}

/** Exceptions that refuse the whole call because of some record in it: send the records apart to find which. */
const RECORD_CAUSED = new Set([
  'TimestampOutOfBoundsException',
  'InvalidUsageDimensionException',
  'InvalidCustomerIdentifierException',
  'InvalidLicenseException',
  'InvalidTagException',
  'InvalidUsageAllocationsException',
  'CustomerNotEntitledException',
]);
const AUTHENTICATION = new Set([
  'ExpiredTokenException',
  'InvalidTokenException',
  'DisabledApiException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'AccessDeniedException',
  'InvalidProductCodeException',
  'InvalidEndpointRegionException',
  'InvalidRegionException',
]);

/**
 * AWS Marketplace Metering through the official SDK client (`BatchMeterUsage`), identity
 * CustomerAWSAccountId + LicenseArn per record. ProductCode is not sent: with LicenseArn the license
 * names the product, and AWS bills twice a customer-hour metered under both.
 */
export class AwsMeteringAdapter implements MarketplaceAdapter {
  readonly kind = 'aws' as const;
  private readonly client: MarketplaceMeteringClient;

  constructor(options: AwsMeteringOptions) {
    // The client warns on Node 20 that SDK releases after January 2027 will need Node 22. The SDK is
    // pinned exactly (package.json), so the warning speaks of versions Tally does not take; moving
    // the pin past then means moving Tally to Node 22 (README, "What you need").
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new MarketplaceMeteringClient({
      region: options.region,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      maxAttempts: options.maxAttempts,
      requestHandler: { requestTimeout: options.requestTimeoutMs, connectionTimeout: options.requestTimeoutMs },
    });
  }

  async sendCall(records: readonly MarketplaceRecord[], _callId?: string): Promise<RecordAnswer[]> {
    const byKey = new Map<string, string>();
    const usageRecords: UsageRecord[] = records.map((entry) => {
      if (entry.kind !== 'aws') throw new Error(`an AWS call got a ${entry.kind} record (${entry.bucketId})`);
      const { record } = entry;
      byKey.set(
        recordKey(record.customerAwsAccountId, record.licenseArn, record.dimension, record.timestamp),
        entry.bucketId,
      );
      return {
        Timestamp: new Date(record.timestamp),
        CustomerAWSAccountId: record.customerAwsAccountId,
        LicenseArn: record.licenseArn,
        Dimension: record.dimension,
        Quantity: wholeQuantity(record.quantity, entry.bucketId),
      };
    });
    let output;
    try {
      output = await this.client.send(new BatchMeterUsageCommand({ UsageRecords: usageRecords }));
    } catch (error) {
      throw awsCallError(error);
    }
    const answers = new Map<string, RecordAnswer>();
    for (const result of output.Results ?? []) {
      const usage = result.UsageRecord;
      if (usage?.Timestamp === undefined) continue;
      const bucketId = byKey.get(
        recordKey(
          usage.CustomerAWSAccountId ?? '',
          usage.LicenseArn ?? '',
          usage.Dimension ?? '',
          usage.Timestamp.toISOString(),
        ),
      );
      if (bucketId === undefined) continue;
      const recordId = result.MeteringRecordId === undefined ? {} : { marketplaceRecordId: result.MeteringRecordId };
      switch (result.Status) {
        case 'Success':
          answers.set(bucketId, { bucketId, answer: 'accepted', ...recordId });
          break;
        case 'DuplicateRecord':
          answers.set(bucketId, {
            bucketId,
            answer: 'duplicate',
            reason: 'DuplicateRecord: AWS holds another quantity for this customer, dimension and hour',
            ...recordId,
          });
          break;
        default:
          answers.set(bucketId, { bucketId, answer: 'rejected', reason: result.Status ?? 'no status', ...recordId });
      }
    }
    // UnprocessedRecords, and anything AWS did not mention: not taken this time.
    return records.map(
      (entry) =>
        answers.get(entry.bucketId) ?? {
          bucketId: entry.bucketId,
          answer: 'unprocessed',
          reason: 'UnprocessedRecords',
        },
    );
  }

  destroy(): void {
    this.client.destroy();
  }
}

function recordKey(account: string, license: string, dimension: string, timestamp: string): string {
  return `${account}|${license}|${dimension}|${new Date(Date.parse(timestamp)).toISOString()}`;
}

/** The one conversion to a JS number: a whole quantity within AWS's range is exact as a double. */
function wholeQuantity(quantity: string, bucketId: string): number {
  if (!/^\d{1,10}$/.test(quantity) || Number.parseInt(quantity, 10) > 2_147_483_647)
    throw new MarketplaceCallError(
      'aws',
      'marketplace_invalid_request',
      `bucket ${bucketId}: quantity ${quantity} is not a whole number in 0–2147483647`,
    );
  return Number.parseInt(quantity, 10);
}

function awsCallError(error: unknown): MarketplaceCallError {
  if (error instanceof MarketplaceMeteringServiceException) {
    const reason = `${error.name}: ${error.message}`;
    const httpStatus = error.$metadata.httpStatusCode;
    const details = { reason: error.name, cause: error, ...(httpStatus === undefined ? {} : { httpStatus }) };
    if (error.name === 'ThrottlingException')
      return new MarketplaceCallError('aws', 'marketplace_throttled', reason, details);
    if (RECORD_CAUSED.has(error.name))
      return new MarketplaceCallError('aws', 'marketplace_call_rejected', reason, details);
    if (AUTHENTICATION.has(error.name))
      return new MarketplaceCallError('aws', 'marketplace_authentication_failed', reason, details);
    if (error.$fault === 'server') return new MarketplaceCallError('aws', 'marketplace_unavailable', reason, details);
    return new MarketplaceCallError('aws', 'marketplace_invalid_request', reason, details);
  }
  // No service answer: a timeout, a reset or refused connection, a lost response.
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new MarketplaceCallError('aws', 'marketplace_unavailable', `no answer (${text})`, { cause: error });
}
