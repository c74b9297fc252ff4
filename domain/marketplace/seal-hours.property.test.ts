import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../money.ts';
import { marketplaceRules } from './marketplace-rules.ts';
import { sealHours, type DimensionLedger } from './seal-hours.ts';
import type { MarketplaceIdentity, SealedBucket } from './sealed-bucket.ts';
import { addHours } from './utc-hours.ts';

const H0 = '2026-10-30T20:00:00.000Z';
const hour = (offset: number): string => addHours(H0, offset);

const IDENTITIES: Record<'aws' | 'azure' | 'gcp', MarketplaceIdentity> = {
  aws: {
    kind: 'aws',
    customerAwsAccountId: '123456789012',
    licenseArn: 'arn:aws:license-manager::1:license/l',
    productCode: null,
  },
  azure: { kind: 'azure', resourceId: 'sub-1', planId: 'gold' },
  gcp: { kind: 'gcp', consumerId: 'project_number:42', serviceName: 'svc.example.com' },
};

interface Scenario {
  kind: 'aws' | 'azure' | 'gcp';
  unitSize: string;
  hours: number;
  events: { hour: number; quantity: string; lag: number }[];
  voids: { event: number; lag: number }[];
  /** Passes that do not run (the sender was down): the next one seals several hours at once. */
  skipped: number[];
}

const quantity = fc
  .tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 999 }))
  .map(([whole, thousandths]) => new Decimal(whole).plus(new Decimal(thousandths).dividedBy(1000)).toString());

const scenario = (withVoids: boolean): fc.Arbitrary<Scenario> =>
  fc
    .record({
      kind: fc.constantFrom('aws' as const, 'azure' as const, 'gcp' as const),
      unitSize: fc.constantFrom('1', '1000', '0.5', '3', '0.001'),
      hours: fc.integer({ min: 1, max: 30 }),
      skipped: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 6 }),
    })
    .chain((base) =>
      fc
        .record({
          events: fc.array(
            fc.record({
              hour: fc.integer({ min: 0, max: base.hours - 1 }),
              quantity,
              lag: fc.integer({ min: 0, max: 5 }),
            }),
            { maxLength: 40 },
          ),
        })
        .chain((withEvents) =>
          fc
            .record({
              voids: withVoids
                ? fc.array(fc.record({ event: fc.nat(), lag: fc.integer({ min: 0, max: 8 }) }), { maxLength: 6 })
                : fc.constant<{ event: number; lag: number }[]>([]),
            })
            .map((rest) => ({ ...base, ...withEvents, ...rest })),
        ),
    );

/**
 * Runs the sender's sealing hour after hour as a database would keep it: event e of hour h is known
 * from pass h + lag on; a void of it from the pass after that; a pass p seals every hour up to p.
 */
function simulate(s: Scenario): { buckets: SealedBucket[]; over: Decimal; finalUsage: Decimal; carry: Decimal } {
  const lastPass = s.hours + 15;
  const voidedAt = new Map<number, number>();
  for (const entry of s.voids) {
    if (s.events.length === 0) break;
    const index = entry.event % s.events.length;
    const event = s.events[index] as Scenario['events'][number];
    const at = event.hour + event.lag + entry.lag;
    voidedAt.set(index, Math.min(voidedAt.get(index) ?? at, at));
  }
  const usageAt = (pass: number): Map<string, Decimal> => {
    const usage = new Map<string, Decimal>();
    s.events.forEach((event, index) => {
      if (event.hour + event.lag > pass) return;
      if ((voidedAt.get(index) ?? Number.POSITIVE_INFINITY) <= pass) return;
      usage.set(hour(event.hour), (usage.get(hour(event.hour)) ?? new Decimal(0)).plus(event.quantity));
    });
    return usage;
  };
  const buckets: SealedBucket[] = [];
  const seen = new Map<string, Decimal>();
  let carry = '0';
  let over = new Decimal(0);
  let sealedThrough = -1;
  for (let pass = 0; pass <= lastPass; pass += 1) {
    if (s.skipped.includes(pass) && pass < lastPass) continue;
    const hours: string[] = [];
    for (let next = sealedThrough + 1; next <= pass; next += 1) hours.push(hour(next));
    const ledger: DimensionLedger = { carry, seen: new Map([...seen].map(([key, value]) => [key, value.toString()])) };
    const result = sealHours({
      customerId: 'acme',
      identity: IDENTITIES[s.kind],
      rules: marketplaceRules(s.kind),
      dimensions: [{ dimension: 'units', unit: 'units', unitSize: s.unitSize, priceIds: ['p'] }],
      hours,
      restatementFrom: hour(-1),
      usage: new Map([['units', usageAt(pass)]]),
      ledgers: new Map([['units', ledger]]),
    });
    for (const bucket of result.buckets) {
      if (bucket.part === 'usage')
        seen.set(bucket.hour, (seen.get(bucket.hour) ?? new Decimal(0)).plus(bucket.hourQuantity));
      carry = bucket.carryOut;
    }
    for (const source of result.deltaSources)
      seen.set(source.sourceHour, (seen.get(source.sourceHour) ?? new Decimal(0)).plus(source.quantity));
    for (const report of result.overReports) over = over.plus(report.quantity);
    buckets.push(...result.buckets);
    sealedThrough = pass;
  }
  const finalUsage = [...usageAt(lastPass).values()].reduce((sum, value) => sum.plus(value), new Decimal(0));
  return { buckets, over, finalUsage, carry: new Decimal(carry) };
}

describe('sealHours over many passes', () => {
  it('reports every unit of usage exactly once: sent + carried = rated, late events included', () => {
    fc.assert(
      fc.property(scenario(false), (s) => {
        const { buckets, over, finalUsage, carry } = simulate(s);
        const sent = buckets.reduce(
          (sum, bucket) => sum.plus(new Decimal(bucket.sentQuantity).times(s.unitSize)),
          new Decimal(0),
        );
        expect(over.isZero()).toBe(true);
        expect(sent.plus(carry).equals(finalUsage)).toBe(true);
        // What is carried is less than one sendable step of the listing's unit.
        const step = new Decimal(10).pow(-marketplaceRules(s.kind).quantityScale).times(s.unitSize);
        expect(carry.lessThan(step)).toBe(true);
        expect(buckets.every((bucket) => !new Decimal(bucket.lateQuantity).isNegative())).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('with corrections: sent + carried − over-reported = rated, and nothing is ever sent negative', () => {
    fc.assert(
      fc.property(scenario(true), (s) => {
        const { buckets, over, finalUsage, carry } = simulate(s);
        const sent = buckets.reduce(
          (sum, bucket) => sum.plus(new Decimal(bucket.sentQuantity).times(s.unitSize)),
          new Decimal(0),
        );
        expect(sent.plus(carry).minus(over).equals(finalUsage)).toBe(true);
        const rules = marketplaceRules(s.kind);
        for (const bucket of buckets) {
          const quantitySent = new Decimal(bucket.sentQuantity);
          expect(quantitySent.isNegative()).toBe(false);
          expect(quantitySent.decimalPlaces()).toBeLessThanOrEqual(rules.quantityScale);
          expect(new Decimal(bucket.carryOut).isNegative()).toBe(false);
        }
        // One record per dimension and hour (plus Google's late operations), each bucket id once.
        const ids = buckets.map((bucket) => bucket.bucketId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(new Set(buckets.filter((bucket) => bucket.part === 'usage').map((bucket) => bucket.hour)).size).toBe(
          buckets.filter((bucket) => bucket.part === 'usage').length,
        );
        if (s.kind !== 'gcp') expect(buckets.every((bucket) => bucket.part === 'usage')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
