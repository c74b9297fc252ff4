import { randomUUID } from 'node:crypto';
import { MarketplaceEmulator, type EmulatorAnswer, type EmulatorCall } from './emulator-server.ts';

/**
 * A stateful stand-in for AWS Marketplace Metering's `BatchMeterUsage` (the real API cannot be
 * reached from here), speaking its wire protocol (awsJson1_1: `X-Amz-Target:
 * AWSMPMeteringService.BatchMeterUsage`, epoch-second timestamps, errors as `__type`), so the
 * official SDK client runs against it unchanged. It keeps what AWS documents:
 *
 * - at most 25 records a call (more: ValidationException); whole quantities 0–2,147,483,647;
 * - a record per customer (CustomerAWSAccountId + LicenseArn), dimension and hour: the identical
 *   record again is Success with the first MeteringRecordId (idempotent); another quantity is
 *   `DuplicateRecord`, not honored;
 * - Timestamps older than the window (24 h), in the future, or of the previous month after 06:00
 *   UTC on the 1st reject the whole call (TimestampOutOfBoundsException); so does an unknown
 *   dimension (InvalidUsageDimensionException);
 * - a customer without an active license: `CustomerNotSubscribed` for that record only;
 * - requests must be SigV4-signed with a known access key (else UnrecognizedClientException);
 * - faults: throttling (ThrottlingException), server errors (InternalServiceErrorException), lost
 *   answers, held requests; records left in UnprocessedRecords (`unprocessNext`).
 */
export interface AwsMeteredRecord {
  readonly customerAwsAccountId: string;
  readonly licenseArn: string;
  readonly dimension: string;
  /** The hour's start, ISO. */
  readonly hour: string;
  readonly quantity: number;
  readonly meteringRecordId: string;
}

export interface AwsEmulatorOptions {
  readonly accessKeyId?: string;
  /** Dimensions the product lists; default: any. */
  readonly dimensions?: readonly string[];
  readonly windowMs?: number;
  readonly monthEndGraceMs?: number;
}

const MAX_QUANTITY = 2_147_483_647;

export class AwsMeteringEmulator extends MarketplaceEmulator {
  readonly accessKeyId: string;
  readonly secretAccessKey = 'emulator-secret';
  /** (account|license|dimension|hour) → the record AWS holds. */
  readonly records = new Map<string, AwsMeteredRecord>();
  /** Customers (account|license) whose license is not active: their records are CustomerNotSubscribed. */
  readonly unsubscribed = new Set<string>();
  private unprocessedLeft = 0;

  constructor(private readonly options: AwsEmulatorOptions = {}) {
    super();
    this.accessKeyId = options.accessKeyId ?? 'AKIAEMULATOR0000001';
  }

  /** The next `count` records sent come back in UnprocessedRecords (not kept). */
  unprocessNext(count: number): void {
    this.unprocessedLeft = count;
  }

  /** Σ quantity AWS holds per customer account and dimension. */
  totals(): Map<string, number> {
    const totals = new Map<string, number>();
    for (const record of this.records.values()) {
      const key = `${record.customerAwsAccountId}|${record.dimension}`;
      totals.set(key, (totals.get(key) ?? 0) + record.quantity);
    }
    return totals;
  }

  protected override throttled(): EmulatorAnswer {
    return awsError(400, 'ThrottlingException', 'Rate exceeded');
  }

  protected override serverError(): EmulatorAnswer {
    return awsError(500, 'InternalServiceErrorException', 'An internal error has occurred');
  }

  protected override handle(request: EmulatorCall): EmulatorAnswer {
    if (request.method !== 'POST' || request.headers['x-amz-target'] !== 'AWSMPMeteringService.BatchMeterUsage')
      return awsError(
        400,
        'UnknownOperationException',
        `not BatchMeterUsage: ${String(request.headers['x-amz-target'])}`,
      );
    const authorization = String(request.headers.authorization ?? '');
    if (!authorization.startsWith('AWS4-HMAC-SHA256 ') || !authorization.includes(`Credential=${this.accessKeyId}/`))
      return awsError(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    let body: { UsageRecords?: unknown; ProductCode?: unknown };
    try {
      body = JSON.parse(request.body) as typeof body;
    } catch {
      return awsError(400, 'SerializationException', 'malformed JSON');
    }
    if (!Array.isArray(body.UsageRecords) || body.UsageRecords.length === 0 || body.UsageRecords.length > 25)
      return awsError(
        400,
        'ValidationException',
        '1 validation error detected: UsageRecords must have 1 to 25 members',
      );
    const now = this.server.now();
    const windowMs = this.options.windowMs ?? 24 * 3_600_000;
    const graceMs = this.options.monthEndGraceMs ?? 6 * 3_600_000;
    const parsed: {
      account: string;
      license: string;
      dimension: string;
      timestamp: number;
      quantity: number;
      echo: unknown;
    }[] = [];
    for (const raw of body.UsageRecords as Record<string, unknown>[]) {
      const timestamp = typeof raw.Timestamp === 'number' ? raw.Timestamp * 1000 : Number.NaN;
      const quantity = raw.Quantity === undefined ? 0 : raw.Quantity;
      if (
        typeof raw.CustomerAWSAccountId !== 'string' ||
        typeof raw.LicenseArn !== 'string' ||
        typeof raw.Dimension !== 'string' ||
        Number.isNaN(timestamp) ||
        typeof quantity !== 'number' ||
        !Number.isInteger(quantity) ||
        quantity < 0 ||
        quantity > MAX_QUANTITY
      )
        return awsError(400, 'ValidationException', `invalid UsageRecord ${JSON.stringify(raw)}`);
      // Up to the window back and not in the future; the previous month closes at 06:00 UTC on the 1st.
      const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
      const previousMonthClosed = timestamp < monthStart && now >= monthStart + graceMs;
      if (timestamp < now - windowMs || timestamp > now || previousMonthClosed)
        return awsError(
          400,
          'TimestampOutOfBoundsException',
          `Timestamp ${new Date(timestamp).toISOString()} is out of bounds`,
        );
      if (this.options.dimensions !== undefined && !this.options.dimensions.includes(raw.Dimension))
        return awsError(400, 'InvalidUsageDimensionException', `dimension ${raw.Dimension} is not listed`);
      parsed.push({
        account: raw.CustomerAWSAccountId,
        license: raw.LicenseArn,
        dimension: raw.Dimension,
        timestamp,
        quantity,
        echo: raw,
      });
    }
    const results: unknown[] = [];
    const unprocessed: unknown[] = [];
    for (const record of parsed) {
      if (this.unprocessedLeft > 0) {
        this.unprocessedLeft -= 1;
        unprocessed.push(record.echo);
        continue;
      }
      if (this.unsubscribed.has(`${record.account}|${record.license}`)) {
        results.push({ UsageRecord: record.echo, Status: 'CustomerNotSubscribed' });
        continue;
      }
      const hour = new Date(record.timestamp - (record.timestamp % 3_600_000)).toISOString();
      const key = `${record.account}|${record.license}|${record.dimension}|${hour}`;
      const held = this.records.get(key);
      if (held === undefined) {
        const stored: AwsMeteredRecord = {
          customerAwsAccountId: record.account,
          licenseArn: record.license,
          dimension: record.dimension,
          hour,
          quantity: record.quantity,
          meteringRecordId: randomUUID(),
        };
        this.records.set(key, stored);
        results.push({ UsageRecord: record.echo, MeteringRecordId: stored.meteringRecordId, Status: 'Success' });
      } else if (held.quantity === record.quantity) {
        results.push({ UsageRecord: record.echo, MeteringRecordId: held.meteringRecordId, Status: 'Success' });
      } else {
        results.push({ UsageRecord: record.echo, Status: 'DuplicateRecord' });
      }
    }
    return { status: 200, body: { Results: results, UnprocessedRecords: unprocessed }, headers: AWS_JSON };
  }
}

const AWS_JSON = { 'content-type': 'application/x-amz-json-1.1' };

function awsError(status: number, type: string, message: string): EmulatorAnswer {
  return { status, body: { __type: type, message }, headers: { ...AWS_JSON, 'x-amzn-errortype': type } };
}
