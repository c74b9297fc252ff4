import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RateCardVersion } from '../../contracts/ratecard.ts';
import type { UnsignedUsageEvent } from '../../contracts/usage-event.ts';
import { buildContract, buildFee, buildPrice, buildRateCardVersion, tiers } from '../../test/builders/rating.ts';
import { Decimal, formatMoney } from '../money.ts';
import { billingPeriod } from '../period.ts';
import { aggregateEvents, ratePeriod } from '../rating/index.ts';
import { valueRunningTotals, type RunningTotal, type RunningTotalValuationInput } from './running-total-valuation.ts';

const OCTOBER = billingPeriod('2026-10');
const V1 = '2026-10-01T00:00:00.000Z';
const V2 = '2026-10-16T00:00:00.000Z';
const MID_OCTOBER = '2026-10-20T12:00:00.000Z';

const queries = buildPrice({
  id: 'queries',
  sku: 'db.queries',
  unit: 'queries',
  package_size: '1000',
  package_rounding: 'up',
  unit_price: '0.05',
});
const jobs = buildPrice({
  id: 'jobs',
  sku: 'batch.jobs',
  unit: 'jobs',
  aggregation: 'count',
  model: 'volume',
  tiers: tiers(['100', '0.50'], ['1000', '0.40', '10.00'], [null, '0.30', '25.00']),
});
const jobsEu = buildPrice({
  id: 'jobs-eu',
  sku: 'batch.jobs',
  unit: 'jobs',
  aggregation: 'count',
  dimensions: { region: 'eu-west-1' },
  model: 'volume',
  tiers: tiers(['100', '0.55'], ['1000', '0.45', '10.00'], [null, '0.35', '25.00']),
});
const tokensUs = buildPrice({ id: 'tokens-us', dimensions: { region: 'us-east-1' }, unit_price: '0.010' });
const tokensEu = buildPrice({ id: 'tokens-eu', dimensions: { region: 'eu-west-1' }, unit_price: '0.012' });
const storage = buildPrice({
  id: 'storage',
  sku: 'storage.gb',
  unit: 'GB-month',
  aggregation: 'max',
  unit_price: '0.023',
});
const users = buildPrice({
  id: 'users',
  sku: 'app.active_users',
  unit: 'users',
  aggregation: 'unique_count',
  unique_by: 'user_id',
  unit_price: '2.00',
});

function card(prices = [queries, jobs], extra: Partial<RateCardVersion> = {}): RateCardVersion[] {
  return [buildRateCardVersion({ effective_from: V1, prices, fees: [buildFee()], ...extra })];
}

function total(sku: string, unit: string, eventCount: number, quantitySum: string): RunningTotal {
  return { sku, unit, eventCount, quantitySum };
}

function input(overrides: Partial<RunningTotalValuationInput>): RunningTotalValuationInput {
  return {
    customerId: 'acme',
    period: OCTOBER,
    contract: buildContract({ commit: { amount: '1000.00' } }),
    versions: card(),
    totals: [],
    asOf: MID_OCTOBER,
    ...overrides,
  };
}

describe('valueRunningTotals', () => {
  it.each([
    {
      name: 'a package price with a discount (the JSDoc example): exact',
      input: input({
        versions: card([queries], { discounts: [{ id: 'ten', percent: '10', applies_to: ['queries'] }] }),
        totals: [total('db.queries', 'queries', 3, '16000001')],
      }),
      usage: '720.04',
      commit: '1000.00',
      exact: true,
      approximations: [],
    },
    {
      name: 'a count priced by volume tiers: exact (the fee is not usage)',
      input: input({ versions: card([jobs]), totals: [total('batch.jobs', 'jobs', 150, '150')] }),
      usage: '70.00',
      commit: '1000.00',
      exact: true,
      approximations: [],
    },
    {
      name: 'several skus add up',
      input: input({ totals: [total('db.queries', 'queries', 1, '1000'), total('batch.jobs', 'jobs', 10, '10')] }),
      usage: '5.05',
      commit: '1000.00',
      exact: true,
      approximations: [],
    },
    {
      name: 'a sku split by region: valued at the dearer price',
      input: input({ versions: card([tokensUs, tokensEu]), totals: [total('llm.tokens', 'tokens', 4, '1000')] }),
      usage: '12.00',
      commit: '1000.00',
      exact: false,
      approximations: [
        {
          kind: 'dimensions_unknown',
          sku: 'llm.tokens',
          unit: 'tokens',
          candidates: ['tokens-us', 'tokens-eu'],
          chosen: 'tokens-eu',
        },
      ],
    },
    {
      name: 'a default price and a dearer regional one: the regional one',
      input: input({ versions: card([jobs, jobsEu]), totals: [total('batch.jobs', 'jobs', 10, '10')] }),
      usage: '5.50',
      commit: '1000.00',
      exact: false,
      approximations: [
        {
          kind: 'dimensions_unknown',
          sku: 'batch.jobs',
          unit: 'jobs',
          candidates: ['jobs', 'jobs-eu'],
          chosen: 'jobs-eu',
        },
      ],
    },
    {
      name: 'one price with a dimension: events without it would be unpriced, so an estimate',
      input: input({ versions: card([tokensUs]), totals: [total('llm.tokens', 'tokens', 1, '100')] }),
      usage: '1.00',
      commit: '1000.00',
      exact: false,
      approximations: [
        {
          kind: 'dimensions_unknown',
          sku: 'llm.tokens',
          unit: 'tokens',
          candidates: ['tokens-us'],
          chosen: 'tokens-us',
        },
      ],
    },
    {
      name: 'max at the mean per event',
      input: input({ versions: card([storage]), totals: [total('storage.gb', 'GB-month', 3, '3000')] }),
      usage: '23.00',
      commit: '1000.00',
      exact: false,
      approximations: [
        { kind: 'non_additive', sku: 'storage.gb', unit: 'GB-month', priceId: 'storage', aggregation: 'max' },
      ],
    },
    {
      name: 'unique_count is not known from a sum: zero',
      input: input({ versions: card([users]), totals: [total('app.active_users', 'users', 40, '40')] }),
      usage: '0.00',
      commit: '1000.00',
      exact: false,
      approximations: [
        { kind: 'non_additive', sku: 'app.active_users', unit: 'users', priceId: 'users', aggregation: 'unique_count' },
      ],
    },
    {
      name: 'unpriced usage is reported and not valued, as on the invoice',
      input: input({ totals: [total('llm.images', 'images', 2, '2'), total('db.queries', 'queries', 1, '1')] }),
      usage: '0.05',
      commit: '1000.00',
      exact: true,
      approximations: [],
    },
    {
      name: 'no commit: no commit reference',
      input: input({ contract: buildContract(), totals: [total('db.queries', 'queries', 1, '1')] }),
      usage: '0.05',
      commit: undefined,
      exact: true,
      approximations: [],
    },
    {
      name: 'a contract starting inside the period: the commit is prorated like the true-up',
      input: input({
        contract: buildContract({ commit: { amount: '1000.00' }, starts_at: '2026-10-17T00:00:00Z' }),
        totals: [total('db.queries', 'queries', 1, '1')],
      }),
      usage: '0.05',
      commit: '483.87',
      exact: true,
      approximations: [],
    },
  ])('$name', ({ input: given, usage, commit, exact, approximations }) => {
    const valuation = valueRunningTotals(given);
    expect(valuation.usage).toBe(usage);
    expect(valuation.commit).toBe(commit);
    expect(valuation.exact).toBe(exact);
    expect(valuation.approximations).toEqual(approximations);
  });

  it('reports unpriced totals with their counts', () => {
    const valuation = valueRunningTotals(input({ totals: [total('llm.images', 'images', 2, '7')] }));
    expect(valuation.unpriced).toEqual([
      { sku: 'llm.images', unit: 'images', event_count: 2, quantity: '7', reason: 'no_matching_price' },
    ]);
  });

  describe('a rate-card version inside the period', () => {
    const versions = [V1, V2].map((effectiveFrom, index) =>
      buildRateCardVersion({
        effective_from: effectiveFrom,
        prices: [
          buildPrice({
            id: 'queries',
            sku: 'db.queries',
            unit: 'queries',
            package_size: '1000',
            package_rounding: 'up',
            unit_price: index === 0 ? '0.05' : '0.04',
          }),
        ],
      }),
    );
    const totals = [total('db.queries', 'queries', 1, '10000')];

    it.each([
      ['before the new version', '2026-10-05T00:00:00.000Z', '0.50', V1],
      ['after the new version', MID_OCTOBER, '0.40', V2],
      ['after the period (late usage)', '2026-11-03T00:00:00.000Z', '0.40', V2],
      ['before the period', '2026-09-30T00:00:00.000Z', '0.50', V1],
    ])('prices the month by the version in force at the latest change, %s', (_when, asOf, usage, pricedBy) => {
      const valuation = valueRunningTotals(input({ versions, totals, asOf }));
      expect(valuation.usage).toBe(usage);
      expect(valuation.pricedBy).toBe(pricedBy);
      expect(valuation.exact).toBe(false);
      expect(valuation.approximations).toEqual([{ kind: 'version_split', pricedBy, segments: 2 }]);
    });

    it('a period before the card exists: everything unpriced, nothing valued', () => {
      const valuation = valueRunningTotals(
        input({ versions, totals, period: billingPeriod('2026-09'), asOf: '2026-09-10T00:00:00.000Z' }),
      );
      expect(valuation.usage).toBe('0.00');
      expect(valuation.pricedBy).toBeNull();
      expect(valuation.unpriced).toMatchObject([{ sku: 'db.queries', reason: 'no_ratecard_version' }]);
    });
  });

  it('with no totals: zero usage', () => {
    expect(valueRunningTotals(input({ totals: [] }))).toMatchObject({ usage: '0.00', exact: true, lines: [] });
  });
});

/**
 * Where the valuation says exact, it is: for a card of dimensionless sum/count prices (every model,
 * packages, a discount) in a one-version period, the running totals of any set of events value to
 * exactly the usage lines plus discounts of the invoice the engine rates from those events.
 */
describe('valueRunningTotals is exact where it says so', () => {
  const versions = [
    buildRateCardVersion({
      effective_from: V1,
      prices: [
        buildPrice({
          id: 'tokens',
          model: 'graduated',
          package_size: '1000',
          package_rounding: 'up',
          tiers: tiers(['100', '0.10', '1'], ['1000', '0.05'], [null, '0.01', '2']),
        }),
        jobs,
        buildPrice({
          id: 'queries',
          sku: 'db.queries',
          unit: 'queries',
          package_size: '7',
          package_rounding: 'none',
          unit_price: '0.013',
        }),
        buildPrice({
          id: 'gb',
          sku: 'transfer.gb',
          unit: 'GB',
          model: 'volume',
          package_size: '3',
          package_rounding: 'down',
          tiers: tiers(['10', '1.5'], [null, '1.2', '4']),
        }),
      ],
      fees: [buildFee()],
      discounts: [{ id: 'launch', percent: '12.5', applies_to: ['tokens', 'gb'] }],
    }),
  ];
  const products = [
    { sku: 'llm.tokens', unit: 'tokens' },
    { sku: 'batch.jobs', unit: 'jobs' },
    { sku: 'db.queries', unit: 'queries' },
    { sku: 'transfer.gb', unit: 'GB' },
    { sku: 'llm.images', unit: 'images' },
  ];
  const eventArbitrary = fc.record({
    product: fc.constantFrom(...products),
    region: fc.option(fc.constantFrom('us-east-1', 'eu-west-1'), { nil: undefined }),
    quantity: fc.oneof(
      fc
        .tuple(fc.integer({ min: 0, max: 500_000 }), fc.integer({ min: 0, max: 999_999 }))
        .map(([whole, fraction]) => `${whole}.${String(fraction).padStart(6, '0')}`),
      fc.constantFrom('0', '1', '3', '1000', '100000'),
    ),
    day: fc.integer({ min: 1, max: 31 }),
  });

  it('equals the invoice rated from the events', () => {
    fc.assert(
      fc.property(
        fc.array(eventArbitrary, { maxLength: 60 }),
        fc.constantFrom(undefined, '250.00'),
        (records, commit) => {
          const events: UnsignedUsageEvent[] = records.map((record, index) => ({
            schema_version: 1,
            event_id: `e${index}`,
            source: 'gateway',
            customer_id: 'acme',
            timestamp: `2026-10-${String(record.day).padStart(2, '0')}T08:00:00.000Z`,
            unit: record.product.unit,
            quantity: record.quantity,
            metadata: { sku: record.product.sku, ...(record.region === undefined ? {} : { region: record.region }) },
          }));
          const contract = buildContract(commit === undefined ? {} : { commit: { amount: commit } });
          const { aggregates, counters } = aggregateEvents(events, versions, OCTOBER);
          const invoice = ratePeriod({
            customerId: 'acme',
            period: OCTOBER,
            contract,
            versions,
            aggregates,
            counters,
            credits: [],
            calculationVersion: 'test',
          });
          const expected = invoice.lines
            .filter((line) => line.kind === 'usage' || line.kind === 'discount')
            .reduce((sum, line) => sum.plus(line.amount), new Decimal(0));

          const totals = new Map<string, RunningTotal>();
          for (const event of events) {
            const key = `${event.metadata.sku as string}\u0000${event.unit}`;
            const previous = totals.get(key);
            totals.set(key, {
              sku: event.metadata.sku as string,
              unit: event.unit,
              eventCount: (previous?.eventCount ?? 0) + 1,
              quantitySum: new Decimal(previous?.quantitySum ?? '0').plus(event.quantity).toString(),
            });
          }
          const valuation = valueRunningTotals({
            customerId: 'acme',
            period: OCTOBER,
            contract,
            versions,
            totals: [...totals.values()],
            asOf: MID_OCTOBER,
          });
          expect(valuation.exact).toBe(true);
          expect(valuation.usage).toBe(formatMoney(expected, 'USD'));
          expect(valuation.lines).toEqual(
            invoice.lines.filter((line) => line.kind === 'usage' || line.kind === 'discount'),
          );
          expect(valuation.unpriced).toEqual(invoice.unpriced);
          const commitLine = invoice.lines.find((line) => line.kind === 'commit_true_up');
          expect(valuation.commit).toBe(commitLine?.kind === 'commit_true_up' ? commitLine.commit : undefined);
        },
      ),
      { numRuns: 200 },
    );
  });
});
