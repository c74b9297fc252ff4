import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marketplaceRecord, type MarketplaceIdentity, type SealedBucket } from '../../domain/marketplace/index.ts';
import {
  AwsMeteringAdapter,
  AzureMeteringAdapter,
  GcpServiceControlAdapter,
  MarketplaceCallError,
} from '../../providers/marketplaces/index.ts';
import { AwsMeteringEmulator } from '../../sandboxes/marketplaces/aws-metering-emulator.ts';
import { AzureMeteringEmulator } from '../../sandboxes/marketplaces/azure-metering-emulator.ts';
import { GcpServiceControlEmulator } from '../../sandboxes/marketplaces/gcp-service-control-emulator.ts';

// The adapters against the emulators, record by record: the real AWS SDK client on the wire
// protocol, Azure's and Google's REST shapes, and each marketplace's per-record statuses.

const NOW = '2026-10-14T12:30:00.000Z';
const AWS: MarketplaceIdentity = {
  kind: 'aws',
  customerAwsAccountId: '123456789012',
  licenseArn: 'arn:aws:license-manager::123456789012:license/l-0123',
  productCode: null,
};
const AZURE: MarketplaceIdentity = {
  kind: 'azure',
  resourceId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  planId: 'gold',
};
const GCP: MarketplaceIdentity = { kind: 'gcp', consumerId: 'project_number:42', serviceName: 'tally.example.com' };

let counter = 0;
function bucket(identity: MarketplaceIdentity, hour: string, sent: string, dimension = 'tokens'): SealedBucket {
  counter += 1;
  return {
    bucketId: `test-${counter}/${dimension}/${hour}/usage`,
    customerId: 'acme',
    marketplace: identity.kind,
    dimension,
    hour,
    part: 'usage',
    identity,
    recordKey:
      identity.kind === 'gcp' ? `00000000-0000-5000-8000-${String(counter).padStart(12, '0')}` : `${hour}|${dimension}`,
    unitSize: '1',
    hourQuantity: sent,
    lateQuantity: '0',
    carryIn: '0',
    carryOut: '0',
    sentQuantity: sent,
  };
}

describe('AWS adapter (the official SDK client) against the BatchMeterUsage emulator', () => {
  let emulator: AwsMeteringEmulator;
  let adapter: AwsMeteringAdapter;
  beforeAll(async () => {
    emulator = await AwsMeteringEmulator.start({ dimensions: ['tokens', 'jobs'] });
    emulator.server.setNow(NOW);
    adapter = new AwsMeteringAdapter({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: async () => ({ accessKeyId: emulator.accessKeyId, secretAccessKey: emulator.secretAccessKey }),
      maxAttempts: 1,
      requestTimeoutMs: 5_000,
    });
  });
  afterAll(async () => {
    adapter.destroy();
    await emulator.close();
  });

  it('sends whole quantities per customer, dimension and hour; the identical record again is Success, another quantity DuplicateRecord', async () => {
    const first = bucket(AWS, '2026-10-14T10:00:00.000Z', '7');
    const zero = bucket(AWS, '2026-10-14T11:00:00.000Z', '0', 'jobs');
    expect(await adapter.sendCall([first, zero].map(marketplaceRecord), 'call-1')).toEqual([
      expect.objectContaining({
        bucketId: first.bucketId,
        answer: 'accepted',
        marketplaceRecordId: expect.any(String),
      }),
      expect.objectContaining({ bucketId: zero.bucketId, answer: 'accepted' }),
    ]);
    const id = [...emulator.records.values()].find((record) => record.quantity === 7)?.meteringRecordId;
    const again = await adapter.sendCall([marketplaceRecord(first)], 'call-2');
    expect(again).toEqual([expect.objectContaining({ answer: 'accepted', marketplaceRecordId: id })]);
    const other = await adapter.sendCall(
      [marketplaceRecord({ ...first, bucketId: 'other', sentQuantity: '8' })],
      'call-3',
    );
    expect(other).toEqual([
      expect.objectContaining({
        bucketId: 'other',
        answer: 'duplicate',
        reason: expect.stringContaining('DuplicateRecord'),
      }),
    ]);
    expect(emulator.records.size).toBe(2);
  });

  it('one record out of bounds rejects the whole call', async () => {
    const inside = bucket(AWS, '2026-10-14T09:00:00.000Z', '1');
    const tooOld = bucket(AWS, '2026-10-13T11:00:00.000Z', '1');
    const error = await adapter
      .sendCall([inside, tooOld].map(marketplaceRecord), 'call-4')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MarketplaceCallError);
    expect(error).toMatchObject({
      code: 'marketplace_call_rejected',
      details: { reason: 'TimestampOutOfBoundsException' },
    });
    expect([...emulator.records.values()].some((record) => record.hour === inside.hour)).toBe(false);
  });

  it('answers CustomerNotSubscribed per record, UnprocessedRecords as unprocessed, throttling and lost answers as call errors', async () => {
    const other: MarketplaceIdentity = { ...AWS, customerAwsAccountId: '210987654321' };
    emulator.unsubscribed.add(`210987654321|${AWS.licenseArn}`);
    const refused = bucket(other, '2026-10-14T08:00:00.000Z', '3');
    const later = bucket(AWS, '2026-10-14T08:00:00.000Z', '4');
    emulator.unprocessNext(1);
    const skipped = bucket(AWS, '2026-10-14T07:00:00.000Z', '5');
    expect(await adapter.sendCall([skipped, refused, later].map(marketplaceRecord), 'call-5')).toEqual([
      expect.objectContaining({ bucketId: skipped.bucketId, answer: 'unprocessed' }),
      expect.objectContaining({ bucketId: refused.bucketId, answer: 'rejected', reason: 'CustomerNotSubscribed' }),
      expect.objectContaining({ bucketId: later.bucketId, answer: 'accepted' }),
    ]);
    emulator.server.inject({ fault: { kind: 'throttle' } });
    await expect(adapter.sendCall([marketplaceRecord(skipped)], 'call-6')).rejects.toMatchObject({
      code: 'marketplace_throttled',
    });
    emulator.server.inject({ fault: { kind: 'lost_response' } });
    const lost = await adapter.sendCall([marketplaceRecord(skipped)], 'call-7').catch((caught: unknown) => caught);
    expect(lost).toMatchObject({ code: 'marketplace_unavailable', mayHaveBeenProcessed: true });
    // It was processed: the identical record again finds it.
    expect(await adapter.sendCall([marketplaceRecord(skipped)], 'call-8')).toEqual([
      expect.objectContaining({ answer: 'accepted' }),
    ]);
    expect([...emulator.records.values()].filter((record) => record.hour === skipped.hour)).toHaveLength(1);
  });

  it('is refused with a wrong access key', async () => {
    const wrong = new AwsMeteringAdapter({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: async () => ({ accessKeyId: 'AKIAWRONG', secretAccessKey: 'x' }),
      maxAttempts: 1,
      requestTimeoutMs: 5_000,
    });
    await expect(
      wrong.sendCall([marketplaceRecord(bucket(AWS, '2026-10-14T06:00:00.000Z', '1'))], 'c'),
    ).rejects.toMatchObject({
      code: 'marketplace_authentication_failed',
      permanent: true,
    });
    wrong.destroy();
  });
});

describe('Azure adapter against the batchUsageEvent emulator', () => {
  let emulator: AzureMeteringEmulator;
  let adapter: AzureMeteringAdapter;
  beforeAll(async () => {
    emulator = await AzureMeteringEmulator.start({ plans: { gold: ['tokens'] } });
    emulator.server.setNow(NOW);
    adapter = new AzureMeteringAdapter({
      endpoint: emulator.endpoint,
      token: async () => emulator.token,
      requestTimeoutMs: 5_000,
    });
  });
  afterAll(() => emulator.close());

  it('sends decimal quantities; a second event for the same resource, dimension and hour is Duplicate with the accepted one', async () => {
    const first = bucket(AZURE, '2026-10-14T10:00:00.000Z', '2.125');
    expect(await adapter.sendCall([marketplaceRecord(first)], 'call-1')).toEqual([
      expect.objectContaining({ answer: 'accepted', marketplaceRecordId: expect.any(String) }),
    ]);
    expect(JSON.parse(emulator.server.requests.at(-1)?.body ?? '{}')).toEqual({
      request: [
        {
          resourceId: AZURE.resourceId,
          quantity: 2.125,
          dimension: 'tokens',
          effectiveStartTime: '2026-10-14T10:00:00Z',
          planId: 'gold',
        },
      ],
    });
    const resend = await adapter.sendCall([marketplaceRecord(first)], 'call-2');
    expect(resend).toEqual([expect.objectContaining({ answer: 'duplicate', acceptedQuantity: '2.125' })]);
    const other = await adapter.sendCall([marketplaceRecord({ ...first, bucketId: 'x', sentQuantity: '3' })], 'call-3');
    expect(other).toEqual([expect.objectContaining({ bucketId: 'x', answer: 'duplicate', acceptedQuantity: '2.125' })]);
    expect(emulator.events.size).toBe(1);
  });

  it('answers Expired, InvalidDimension and a 200 for the batch; 429 and 403 as call errors', async () => {
    const expired = bucket(AZURE, '2026-10-13T11:00:00.000Z', '1');
    const wrongDimension = bucket(AZURE, '2026-10-14T09:00:00.000Z', '1', 'jobs');
    const fine = bucket(AZURE, '2026-10-14T09:00:00.000Z', '4');
    expect(await adapter.sendCall([expired, wrongDimension, fine].map(marketplaceRecord), 'call-4')).toEqual([
      expect.objectContaining({
        bucketId: expired.bucketId,
        answer: 'rejected',
        reason: expect.stringMatching(/^Expired/),
      }),
      expect.objectContaining({
        bucketId: wrongDimension.bucketId,
        answer: 'rejected',
        reason: expect.stringMatching(/^InvalidDimension/),
      }),
      expect.objectContaining({ bucketId: fine.bucketId, answer: 'accepted' }),
    ]);
    emulator.server.inject({ fault: { kind: 'throttle' } });
    await expect(adapter.sendCall([marketplaceRecord(fine)], 'c')).rejects.toMatchObject({
      code: 'marketplace_throttled',
    });
    const unauthorized = new AzureMeteringAdapter({
      endpoint: emulator.endpoint,
      token: async () => 'nope',
      requestTimeoutMs: 5_000,
    });
    await expect(unauthorized.sendCall([marketplaceRecord(fine)], 'c')).rejects.toMatchObject({
      code: 'marketplace_authentication_failed',
    });
  });
});

describe('Google adapter against the Service Control emulator', () => {
  let emulator: GcpServiceControlEmulator;
  let adapter: GcpServiceControlAdapter;
  beforeAll(async () => {
    emulator = await GcpServiceControlEmulator.start({
      services: { 'tally.example.com': ['tally.example.com/tokens'] },
    });
    emulator.server.setNow(NOW);
    adapter = new GcpServiceControlAdapter({
      endpoint: emulator.endpoint,
      token: async () => emulator.token,
      requestTimeoutMs: 5_000,
    });
  });
  afterAll(() => emulator.close());

  it('reports operations deduplicated by operationId, with per-operation reportErrors', async () => {
    const fine = bucket(GCP, '2026-10-14T11:00:00.000Z', '12');
    const tooLate = bucket(GCP, '2026-10-14T09:00:00.000Z', '1');
    const unknownMetric = bucket(GCP, '2026-10-14T11:00:00.000Z', '1', 'jobs');
    expect(await adapter.sendCall([fine, tooLate, unknownMetric].map(marketplaceRecord), 'call-1')).toEqual([
      expect.objectContaining({ bucketId: fine.bucketId, answer: 'accepted', marketplaceRecordId: fine.recordKey }),
      expect.objectContaining({
        bucketId: tooLate.bucketId,
        answer: 'rejected',
        reason: expect.stringMatching(/^INVALID_ARGUMENT/),
      }),
      expect.objectContaining({ bucketId: unknownMetric.bucketId, answer: 'rejected' }),
    ]);
    const body = JSON.parse(emulator.server.requests.at(-1)?.body ?? '{}') as { operations: unknown[] };
    expect(body.operations[0]).toEqual({
      operationId: fine.recordKey,
      operationName: 'tally/hourly-usage',
      consumerId: 'project_number:42',
      startTime: '2026-10-14T11:00:00Z',
      endTime: '2026-10-14T12:00:00Z',
      metricValueSets: [{ metricName: 'tally.example.com/tokens', metricValues: [{ int64Value: '12' }] }],
    });
    expect(await adapter.sendCall([marketplaceRecord(fine)], 'call-2')).toEqual([
      expect.objectContaining({ answer: 'accepted' }),
    ]);
    expect(emulator.totals().get('project_number:42|tally.example.com/tokens')).toBe(12n);
    emulator.server.inject({ fault: { kind: 'server_error' } });
    await expect(adapter.sendCall([marketplaceRecord(fine)], 'c')).rejects.toMatchObject({
      code: 'marketplace_unavailable',
    });
  });
});
