import { describe, expect, it } from 'vitest';
import { Decimal } from '../money.ts';
import { marketplaceRules, splitSendable } from './marketplace-rules.ts';
import { sealHours, type DimensionLedger, type SealHoursInput } from './seal-hours.ts';
import type { MarketplaceIdentity } from './sealed-bucket.ts';
import { addHours } from './utc-hours.ts';

const H0 = '2026-10-14T09:00:00.000Z';
const hour = (offset: number): string => addHours(H0, offset);

const IDENTITIES: Record<'aws' | 'azure' | 'gcp', MarketplaceIdentity> = {
  aws: {
    kind: 'aws',
    customerAwsAccountId: '123456789012',
    licenseArn: 'arn:aws:license-manager::123456789012:license/l-1',
    productCode: null,
  },
  azure: { kind: 'azure', resourceId: 'sub-1', planId: 'gold' },
  gcp: { kind: 'gcp', consumerId: 'project_number:42', serviceName: 'svc.example.com' },
};

function input(
  kind: 'aws' | 'azure' | 'gcp',
  usage: Record<number, string>,
  hours: number[],
  ledger?: DimensionLedger,
  unitSize = '1000',
): SealHoursInput {
  return {
    customerId: 'acme',
    identity: IDENTITIES[kind],
    rules: marketplaceRules(kind),
    dimensions: [{ dimension: 'tokens', unit: 'tokens', unitSize, priceIds: ['tokens'] }],
    hours: hours.map(hour),
    restatementFrom: hour(-48),
    usage: new Map([
      [
        'tokens',
        new Map(
          Object.entries(usage).map(([offset, quantity]) => [hour(Number.parseInt(offset, 10)), new Decimal(quantity)]),
        ),
      ],
    ]),
    ledgers: ledger === undefined ? new Map() : new Map([['tokens', ledger]]),
  };
}

describe('splitSendable', () => {
  it.each([
    ['2500', '1000', 0, '2', '500'],
    ['999', '1000', 0, '0', '999'],
    ['3000', '1000', 0, '3', '0'],
    ['0.7', '1', 6, '0.7', '0'],
    ['1', '3', 6, '0.333333', '0.000001'],
    ['10', '3', 0, '3', '1'],
  ])('total %s, unit size %s, scale %i → sends %s, carries %s', (total, unitSize, scale, sent, carried) => {
    const split = splitSendable(new Decimal(total), new Decimal(unitSize), scale, new Decimal('2147483647'));
    expect(split.sent.toString()).toBe(sent);
    expect(split.carried.toString()).toBe(carried);
  });

  it('caps a record at the largest quantity and carries the rest', () => {
    const split = splitSendable(new Decimal('5000000000'), new Decimal(1), 0, new Decimal('2147483647'));
    expect(split.sent.toString()).toBe('2147483647');
    expect(split.carried.toString()).toBe('2852516353');
  });
});

describe('sealHours', () => {
  it('carries the fraction of a whole AWS unit to the next hour and sends empty hours as 0', () => {
    const result = sealHours(input('aws', { 0: '2500', 1: '1700' }, [0, 1, 2]));
    expect(
      result.buckets.map((bucket) => [
        bucket.hour,
        bucket.carryIn,
        bucket.hourQuantity,
        bucket.sentQuantity,
        bucket.carryOut,
      ]),
    ).toEqual([
      [hour(0), '0', '2500', '2', '500'],
      [hour(1), '500', '1700', '2', '200'],
      [hour(2), '200', '0', '0', '200'],
    ]);
    expect(result.buckets[0]?.recordKey).toBe(
      `123456789012|arn:aws:license-manager::123456789012:license/l-1|tokens|${hour(0)}`,
    );
  });

  it('folds late usage of a sent hour into the next sealed hour (AWS, Azure), with its source hour on record', () => {
    const ledger: DimensionLedger = { carry: '500', seen: new Map([[hour(0), '2500']]) };
    for (const kind of ['aws', 'azure'] as const) {
      const result = sealHours(input(kind, { 0: '2800', 1: '1700' }, [1], ledger));
      expect(result.buckets).toHaveLength(1);
      expect(result.buckets[0]).toMatchObject({
        part: 'usage',
        hourQuantity: '1700',
        lateQuantity: '300',
        carryIn: '500',
      });
      expect(result.deltaSources).toEqual([
        {
          detectedBy: result.buckets[0]?.bucketId,
          customerId: 'acme',
          dimension: 'tokens',
          sourceHour: hour(0),
          quantity: '300',
        },
      ]);
      expect(result.overReports).toEqual([]);
    }
  });

  it('sends Google late usage as an operation of its own, with its own operationId', () => {
    const ledger: DimensionLedger = { carry: '0', seen: new Map([[hour(0), '3000']]) };
    const result = sealHours(input('gcp', { 0: '5000', 1: '1000' }, [1], ledger));
    expect(
      result.buckets.map((bucket) => [bucket.part, bucket.hourQuantity, bucket.lateQuantity, bucket.sentQuantity]),
    ).toEqual([
      ['usage', '1000', '0', '1'],
      ['late', '0', '2000', '2'],
    ]);
    expect(result.buckets[0]?.recordKey).not.toBe(result.buckets[1]?.recordKey);
    expect(result.deltaSources[0]?.detectedBy).toBe(result.buckets[1]?.bucketId);
  });

  it('takes a decrease out of the unsent remainder first, and makes the rest an over-report', () => {
    // Hour 0 was reported as 2,500 tokens (2 units sent, 500 carried); a correction lowers it to 1,200.
    const ledger: DimensionLedger = { carry: '500', seen: new Map([[hour(0), '2500']]) };
    const result = sealHours(input('aws', { 0: '1200', 1: '4000' }, [1], ledger));
    expect(result.buckets[0]).toMatchObject({
      hourQuantity: '4000',
      lateQuantity: '-500',
      carryIn: '500',
      sentQuantity: '4',
      carryOut: '0',
    });
    expect(result.overReports).toEqual([
      expect.objectContaining({ quantity: '800', listingQuantity: '0.8', bucketId: result.buckets[0]?.bucketId }),
    ]);
    expect(result.deltaSources.map((source) => source.quantity)).toEqual(['-1300']);
  });

  it('omits nothing from the table: Azure and Google empty hours are sealed with 0 to send', () => {
    const result = sealHours(input('azure', {}, [0, 1]));
    expect(result.buckets.map((bucket) => bucket.sentQuantity)).toEqual(['0', '0']);
  });

  it('settles hours before the restatement window: their late usage is not looked at', () => {
    const result = sealHours({ ...input('aws', { [-49]: '9000', 0: '1000' }, [0]), restatementFrom: hour(-48) });
    expect(result.buckets[0]?.lateQuantity).toBe('0');
  });

  it('sends nothing for an hour whose window closed before it was sealed: its usage rides on the first open hour', () => {
    // Google, sealed at 12:10 after an outage: 09:00 and 10:00 are past their window, 11:00 is open.
    const result = sealHours({ ...input('gcp', { 0: '2500', 1: '1000', 2: '700' }, [0, 1, 2]), openFrom: hour(2) });
    expect(result.buckets.map((bucket) => [bucket.hour, bucket.sentQuantity, bucket.carryOut])).toEqual([
      [hour(0), '0', '2500'],
      [hour(1), '0', '3500'],
      [hour(2), '4', '200'],
    ]);
  });

  it('keeps the invariant carryIn + hour + late = sent × unit size + carryOut on every bucket', () => {
    const ledger: DimensionLedger = { carry: '999', seen: new Map([[hour(0), '1']]) };
    const result = sealHours(input('aws', { 0: '7', 1: '123456', 2: '999', 3: '1' }, [1, 2, 3], ledger));
    for (const bucket of result.buckets) {
      const left = new Decimal(bucket.carryIn).plus(bucket.hourQuantity).plus(bucket.lateQuantity);
      const right = new Decimal(bucket.sentQuantity).times(bucket.unitSize).plus(bucket.carryOut);
      expect(left.equals(right)).toBe(true);
    }
  });
});
