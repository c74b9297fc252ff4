import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Contract } from '../../contracts/contract.ts';
import type { Invoice } from '../../contracts/invoice.ts';
import type { RateCardVersion } from '../../contracts/ratecard.ts';
import type { UnsignedUsageEvent } from '../../contracts/usage-event.ts';
import { buildContract, buildFee, buildPrice, buildRateCardVersion, tiers } from '../../test/builders/rating.ts';
import { Decimal } from '../money.ts';
import { billingPeriod } from '../period.ts';
import { drawDownCredits, type CreditBalance } from './adjustments/credits.ts';
import { graduatedCharges } from './price-models/graduated.ts';
import { ratePeriod } from './rate-period.ts';
import { slice, total } from './price-models/test-slices.ts';
import { aggregateEvents, type UsageAggregate } from './aggregation/usage-aggregate.ts';

const OCTOBER = billingPeriod('2026-10');
const START_MS = Date.parse(OCTOBER.start);
const END_MS = Date.parse(OCTOBER.end);
const V1 = '2026-10-01T00:00:00.000Z';
const V2 = '2026-10-16T00:00:00.000Z';

/** A card with every model, packages, dimensions, a fee, a discount, and a mid-period version. */
const VERSIONS: RateCardVersion[] = [V1, V2].map((effectiveFrom, index) =>
  buildRateCardVersion({
    effective_from: effectiveFrom,
    prices: [
      buildPrice({
        id: 'tokens-us',
        dimensions: { region: 'us-east-1' },
        package_size: '1000',
        package_rounding: 'up',
        model: 'graduated',
        tiers: tiers(['100', index === 0 ? '0.10' : '0.08', '1'], ['1000', '0.05'], [null, '0.01', '2']),
      }),
      buildPrice({
        id: 'tokens',
        model: 'volume',
        tiers: tiers(['5000', '0.003'], ['50000', '0.002', '3'], [null, index === 0 ? '0.001' : '0.0009', '7']),
      }),
      buildPrice({
        id: 'storage',
        sku: 'storage.gb',
        unit: 'GB-month',
        aggregation: 'max',
        unit_price: index === 0 ? '0.023' : '0.021',
      }),
      buildPrice({
        id: 'snapshot',
        sku: 'storage.gb',
        unit: 'GB-month',
        dimensions: { plan: 'pro' },
        aggregation: 'latest',
        unit_price: index === 0 ? '0.02' : '0.03',
      }),
      buildPrice({
        id: 'jobs',
        sku: 'batch.jobs',
        unit: 'jobs',
        aggregation: 'count',
        package_size: '3',
        package_rounding: 'down',
        unit_price: '0.4',
      }),
      buildPrice({
        id: 'users',
        sku: 'app.active_users',
        unit: 'users',
        aggregation: 'unique_count',
        unique_by: 'user_id',
        unit_price: index === 0 ? '2' : '1.5',
      }),
      buildPrice({
        id: 'queries',
        sku: 'db.queries',
        unit: 'queries',
        package_size: '7',
        package_rounding: 'none',
        unit_price: '0.013',
      }),
    ],
    fees: [buildFee({ amount: index === 0 ? '100.00' : '90.00' })],
    discounts: [{ id: 'launch', percent: index === 0 ? '10' : '12.5', applies_to: ['tokens-us', 'tokens'] }],
  }),
);

const SKUS = [
  { sku: 'llm.tokens', unit: 'tokens' },
  { sku: 'storage.gb', unit: 'GB-month' },
  { sku: 'batch.jobs', unit: 'jobs' },
  { sku: 'app.active_users', unit: 'users' },
  { sku: 'db.queries', unit: 'queries' },
  { sku: 'llm.images', unit: 'images' },
];

const quantityArbitrary = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 999_999_999_999 }), fc.boolean())
    .map(([whole, fraction, fractional]) =>
      fractional ? `${whole}.${String(fraction).padStart(12, '0')}` : String(whole),
    ),
  // Small, often equal values: ties for max, zero usage, tier and package boundaries.
  fc.constantFrom('0', '1', '3', '100', '1000', '5000', '1.5', '1.500'),
);

const eventArbitrary = eventsWith(quantityArbitrary);

/** Few distinct values and instants: ties in max, latest and tier positions are common. */
const tyingEventArbitrary = eventsWith(
  fc.constantFrom('1', '2', '1000'),
  fc.integer({ min: 0, max: 8 }).map((step) => START_MS + step * 4 * 86_400_000),
);

function eventsWith(quantity: fc.Arbitrary<string>, atMs?: fc.Arbitrary<number>) {
  return fc.record({
    product: fc.constantFrom(...SKUS),
    region: fc.option(fc.constantFrom('us-east-1', 'eu-west-1'), { nil: undefined }),
    plan: fc.option(fc.constantFrom('pro', 'free'), { nil: undefined }),
    user: fc.constantFrom('u1', 'u2', 'u3', 'u4'),
    quantity,
    // Inside October and just outside; often on a coarse grid (so timestamps tie across groups) or
    // exactly at the version boundary.
    atMs:
      atMs ??
      fc.oneof(
        fc.integer({ min: START_MS - 86_400_000, max: END_MS + 86_400_000 }),
        fc.integer({ min: -4, max: 4 * 32 }).map((quarterDay) => START_MS + quarterDay * 21_600_000),
        fc.constant(Date.parse(V2)),
      ),
    source: fc.constantFrom('gateway', 'meter'),
  });
}

type EventRecord = typeof eventArbitrary extends fc.Arbitrary<infer T> ? T : never;

function toEvents(records: EventRecord[]): UnsignedUsageEvent[] {
  return records.map((record, index) => ({
    schema_version: 1,
    event_id: `e${index}`,
    source: record.source,
    customer_id: 'acme',
    timestamp: new Date(record.atMs).toISOString(),
    unit: record.product.unit,
    quantity: record.quantity,
    metadata: {
      sku: record.product.sku,
      user_id: record.user,
      ...(record.region !== undefined ? { region: record.region } : {}),
      ...(record.plan !== undefined ? { plan: record.plan } : {}),
    },
  }));
}

const contractArbitrary: fc.Arbitrary<Contract> = fc
  .record({
    startsAt: fc.option(fc.integer({ min: START_MS - 86_400_000 * 40, max: END_MS }), { nil: undefined }),
    commit: fc.option(fc.integer({ min: 1, max: 500_000 }), { nil: undefined }),
    credits: fc.array(
      fc.record({
        kind: fc.constantFrom('promotional' as const, 'prepaid' as const),
        cents: fc.integer({ min: 1, max: 50_000 }),
        expires: fc.option(fc.integer({ min: END_MS - 86_400_000, max: END_MS + 86_400_000 * 60 }), { nil: undefined }),
      }),
      { maxLength: 4 },
    ),
  })
  .map(({ startsAt, commit, credits }) =>
    buildContract({
      ...(startsAt !== undefined ? { starts_at: new Date(startsAt).toISOString() } : {}),
      ...(commit !== undefined ? { commit: { amount: cents(commit) } } : {}),
      credits: credits.map((credit, index) => ({
        id: `c${index}`,
        kind: credit.kind,
        amount: cents(credit.cents),
        granted_at: '2026-09-01T00:00:00Z',
        ...(credit.expires !== undefined ? { expires_at: new Date(credit.expires).toISOString() } : {}),
      })),
    }),
  );

function cents(value: number): string {
  return `${Math.floor(value / 100)}.${String(value % 100).padStart(2, '0')}`;
}

function rate(
  contract: Contract,
  aggregates: readonly UsageAggregate[],
  counters = { read: 0, duplicates: 0, outside_period: 0 },
): Invoice {
  const credits: CreditBalance[] = contract.credits.map((credit) => ({
    id: credit.id,
    kind: credit.kind,
    remaining: credit.amount,
    granted_at: credit.granted_at,
    ...(credit.expires_at ? { expires_at: credit.expires_at } : {}),
  }));
  return ratePeriod({
    customerId: 'acme',
    period: OCTOBER,
    contract,
    versions: VERSIONS,
    aggregates,
    counters,
    credits,
    calculationVersion: 'property',
  });
}

describe('rating invariants (fast-check)', () => {
  it('does not depend on event order, on aggregate order, or on how events are split into batches and groups', () => {
    fc.assert(
      fc.property(
        fc.array(eventArbitrary, { maxLength: 60 }),
        contractArbitrary,
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        (records, contract, seed, batches) => {
          const events = toEvents(records);
          const whole = aggregateEvents(events, VERSIONS, OCTOBER);
          const expected = JSON.stringify(rate(contract, whole.aggregates, whole.counters));

          // Another event order.
          const shuffled = shuffle(events, seed);
          const reordered = aggregateEvents(shuffled, VERSIONS, OCTOBER);
          expect(JSON.stringify(rate(contract, reordered.aggregates, reordered.counters))).toBe(expected);

          // The same events in several batches, each aggregated on its own (groups split across batches).
          const batched = Array.from(
            { length: batches },
            (_unused, batch) =>
              aggregateEvents(
                shuffled.filter((_item, position) => position % batches === batch),
                VERSIONS,
                OCTOBER,
              ).aggregates,
          ).flat();
          expect(JSON.stringify(rate(contract, shuffle(batched, seed + 1), whole.counters))).toBe(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('does not depend on aggregate order when quantities and timestamps tie', () => {
    fc.assert(
      fc.property(
        fc.array(tyingEventArbitrary, { maxLength: 40 }),
        contractArbitrary,
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (records, contract, seed) => {
          const { aggregates, counters } = aggregateEvents(toEvents(records), VERSIONS, OCTOBER);
          expect(JSON.stringify(rate(contract, shuffle(aggregates, seed), counters))).toBe(
            JSON.stringify(rate(contract, aggregates, counters)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('re-rating the same input gives byte-identical JSON', () => {
    fc.assert(
      fc.property(fc.array(eventArbitrary, { maxLength: 40 }), contractArbitrary, (records, contract) => {
        const { aggregates, counters } = aggregateEvents(toEvents(records), VERSIONS, OCTOBER);
        expect(JSON.stringify(rate(contract, aggregates, counters))).toBe(
          JSON.stringify(rate(contract, aggregates, counters)),
        );
      }),
      { numRuns: 50 },
    );
  });

  it('lines add up: subtotal = every line before credits, total = subtotal + credits, never below zero, credits within balances', () => {
    fc.assert(
      fc.property(fc.array(eventArbitrary, { maxLength: 60 }), contractArbitrary, (records, contract) => {
        const { aggregates, counters } = aggregateEvents(toEvents(records), VERSIONS, OCTOBER);
        const invoice = rate(contract, aggregates, counters);
        const sum = (lines: Invoice['lines']): Decimal =>
          lines.reduce((acc, line) => acc.plus(new Decimal(line.amount)), new Decimal(0));
        const credits = invoice.lines.filter((line) => line.kind === 'credit');
        expect(sum(invoice.lines.filter((line) => line.kind !== 'credit')).eq(new Decimal(invoice.subtotal))).toBe(
          true,
        );
        expect(new Decimal(invoice.subtotal).plus(sum(credits)).eq(new Decimal(invoice.total))).toBe(true);
        expect(new Decimal(invoice.total).gte(0)).toBe(true);
        for (const line of credits) {
          const grant = contract.credits.find((credit) => credit.id === line.credit_id);
          expect(grant).toBeDefined();
          expect(
            new Decimal(line.amount).lt(0) && new Decimal(line.amount).negated().lte(new Decimal(grant?.amount ?? '0')),
          ).toBe(true);
        }
        // Every amount has exactly the currency's minor digits.
        for (const amount of [...invoice.lines.map((line) => line.amount), invoice.subtotal, invoice.total])
          expect(amount).toMatch(/^-?\d+\.\d{2}$/);
      }),
      { numRuns: 150 },
    );
  });

  it('credits never take more than is due nor more than their balance', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('promotional' as const, 'prepaid' as const),
            cents: fc.integer({ min: 0, max: 100_000 }),
          }),
          { maxLength: 6 },
        ),
        fc.integer({ min: -10_000, max: 300_000 }),
        (balances, dueCents) => {
          const credits: CreditBalance[] = balances.map((balance, index) => ({
            id: `c${index}`,
            kind: balance.kind,
            remaining: cents(balance.cents),
            granted_at: '2026-01-01T00:00:00Z',
          }));
          const due = new Decimal(dueCents < 0 ? `-${cents(-dueCents)}` : cents(dueCents));
          const uses = drawDownCredits(credits, due, OCTOBER, 'USD');
          const used = uses.reduce((acc, use) => acc.plus(use.amount), new Decimal(0));
          expect(used.lte(Decimal.max(due, 0))).toBe(true);
          for (const use of uses)
            expect(use.amount.gt(0) && use.amount.lte(new Decimal(use.credit.remaining))).toBe(true);
          // Nothing is left unused while something is still due.
          const available = credits.reduce((acc, credit) => acc.plus(new Decimal(credit.remaining)), new Decimal(0));
          expect(used.eq(Decimal.min(Decimal.max(due, 0), available))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('graduated amounts never fall as quantity grows', () => {
    const tierArbitrary = fc
      .array(
        fc.tuple(
          fc.integer({ min: 1, max: 1000 }),
          fc.integer({ min: 0, max: 10_000 }),
          fc.integer({ min: 0, max: 500 }),
        ),
        { minLength: 1, maxLength: 5 },
      )
      .map((rows) => {
        let bound = 0;
        return rows.map(([width, price, flat], index) => {
          bound += width;
          return {
            up_to: index === rows.length - 1 ? null : String(bound),
            unit_price: `0.${String(price).padStart(4, '0')}`,
            flat_fee: String(flat),
          };
        });
      });
    fc.assert(
      fc.property(tierArbitrary, quantityArbitrary, quantityArbitrary, (graduatedTiers, a, b) => {
        const [low, high] = new Decimal(a).lte(new Decimal(b)) ? [a, b] : [b, a];
        const price = buildPrice({ model: 'graduated', tiers: graduatedTiers });
        const amount = (units: string): Decimal =>
          new Decimal(total(graduatedCharges(slice(price, units), graduatedTiers, new Set())));
        expect(amount(low).lte(amount(high))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

/** A seeded Fisher–Yates shuffle (fast-check supplies the seed; tests stay reproducible). */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed >>> 0;
  for (let index = copy.length - 1; index > 0; index -= 1) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    const other = state % (index + 1);
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}
