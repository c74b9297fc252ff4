import { describe, expect, it } from 'vitest';
import { InvoiceSchema, type Invoice, type UsageLine } from '../../contracts/invoice.ts';
import type { RateCardVersion } from '../../contracts/ratecard.ts';
import {
  buildAggregate,
  buildContract,
  buildFee,
  buildPrice,
  buildRateCardVersion,
  tiers,
} from '../../test/builders/rating.ts';
import { billingPeriod } from '../period.ts';
import { creditBalancesFromContract, type CreditBalance } from './adjustments/credits.ts';
import { ratePeriod, type RatePeriodInput } from './rate-period.ts';
import { RatingInputError } from './rating-input-error.ts';
import type { UsageAggregate } from './aggregation/usage-aggregate.ts';

const OCTOBER = billingPeriod('2026-10');
const V1 = '2026-10-01T00:00:00.000Z';
const V2 = '2026-10-16T00:00:00.000Z';

function rate(
  overrides: Partial<RatePeriodInput> & { versions: RateCardVersion[]; aggregates: UsageAggregate[] },
): Invoice {
  const contract = overrides.contract ?? buildContract();
  const invoice = ratePeriod({
    customerId: contract.customer_id,
    period: OCTOBER,
    contract,
    counters: { read: 0, duplicates: 0, outside_period: 0 },
    credits: creditBalancesFromContract(contract),
    calculationVersion: 'test',
    ...overrides,
  });
  InvoiceSchema.parse(invoice);
  return invoice;
}

const amounts = (invoice: Invoice): Record<string, string> =>
  Object.fromEntries(invoice.lines.map((line) => [line.line_key, line.amount]));
const usage = (invoice: Invoice, key: string): UsageLine =>
  invoice.lines.find((line) => line.line_key === key) as UsageLine;

describe('ratePeriod: the SPEC §4 example', () => {
  it('15000 tokens graduated, a platform fee, a 10% discount, a commit met, a promotional credit', () => {
    const version = buildRateCardVersion({
      prices: [
        buildPrice({
          id: 'tokens-us',
          model: 'graduated',
          dimensions: { region: 'us-east-1' },
          tiers: tiers(['1000', '0.10'], ['10000', '0.05'], [null, '0.01']),
        }),
      ],
      fees: [buildFee()],
      discounts: [{ id: 'launch-10', percent: '10', applies_to: ['tokens-us'] }],
    });
    const contract = buildContract({
      commit: { amount: '500.00' },
      credits: [
        {
          id: 'promo-q4',
          kind: 'promotional',
          amount: '50.00',
          granted_at: '2026-10-01T00:00:00Z',
          expires_at: '2026-12-31T23:59:59Z',
        },
      ],
    });
    const invoice = rate({
      contract,
      versions: [version],
      aggregates: [buildAggregate({ metadata: { region: 'us-east-1' }, eventCount: 412, quantitySum: '15000' })],
      counters: { read: 430, duplicates: 12, outside_period: 6 },
    });
    // 1000 × 0.10 + 9000 × 0.05 + 5000 × 0.01 = 600; 600 + 500 − 60 = 1040 ≥ commit 500; − 50 promo = 990.
    expect(amounts(invoice)).toEqual({
      'usage:tokens-us': '600.00',
      'fee:platform': '500.00',
      'discount:launch-10': '-60.00',
      commit_true_up: '0.00',
      'credit:promo-q4': '-50.00',
    });
    expect(usage(invoice, 'usage:tokens-us').tiers).toEqual([
      { tier: 1, quantity: '1000', unit_price: '0.10', amount: '100' },
      { tier: 2, quantity: '9000', unit_price: '0.05', amount: '450' },
      { tier: 3, quantity: '5000', unit_price: '0.01', amount: '50' },
    ]);
    expect(invoice).toMatchObject({
      subtotal: '1040.00',
      total: '990.00',
      period_start: OCTOBER.start,
      period_end: OCTOBER.end,
      events: { read: 430, duplicates: 12, outside_period: 6 },
      unpriced: [],
      ratecard_versions: [{ ratecard: 'standard', effective_from: V1, content_hash: version.content_hash }],
    });
  });
});

describe('ratePeriod: a rate-card version taking effect mid-period (rule 11)', () => {
  const v1 = buildRateCardVersion({
    effective_from: V1,
    prices: [
      buildPrice({
        id: 'tokens',
        model: 'graduated',
        tiers: tiers(['1000', '0.10'], ['10000', '0.05'], [null, '0.01']),
      }),
      buildPrice({
        id: 'jobs',
        sku: 'batch.jobs',
        unit: 'jobs',
        aggregation: 'count',
        model: 'volume',
        tiers: tiers(['100', '0.50'], ['1000', '0.40', '10'], [null, '0.30', '25']),
      }),
    ],
    fees: [buildFee({ amount: '500.00' })],
  });
  const v2 = buildRateCardVersion({
    effective_from: V2,
    prices: [
      buildPrice({
        id: 'tokens',
        model: 'graduated',
        tiers: tiers(['1000', '0.08'], ['10000', '0.04'], [null, '0.008']),
      }),
      buildPrice({
        id: 'jobs',
        sku: 'batch.jobs',
        unit: 'jobs',
        aggregation: 'count',
        model: 'volume',
        tiers: tiers(['100', '0.45'], ['1000', '0.35', '10'], [null, '0.25', '25']),
      }),
    ],
    fees: [buildFee({ amount: '450.00' })],
  });
  const aggregates = [
    buildAggregate({ versionEffectiveFrom: V1, quantitySum: '800', eventCount: 8 }),
    buildAggregate({ versionEffectiveFrom: V2, quantitySum: '700', eventCount: 7 }),
    buildAggregate({ versionEffectiveFrom: V1, sku: 'batch.jobs', unit: 'jobs', eventCount: 600, quantitySum: '600' }),
    buildAggregate({ versionEffectiveFrom: V2, sku: 'batch.jobs', unit: 'jobs', eventCount: 500, quantitySum: '500' }),
  ];

  it("prices each part by its version, keeps tiers cumulative and prorates the fee by each version's time", () => {
    const invoice = rate({ versions: [v2, v1], aggregates });
    expect(amounts(invoice)).toEqual({
      // graduated: 800 × 0.10 (v1), then from 800: 200 × 0.08 + 500 × 0.04 (v2) = 80 + 16 + 20
      'usage:tokens': '116.00',
      // volume: total 1100 → tier 3 in both; 600 × 0.30 + 500 × 0.25 + 25 (v2, where usage passed 1000)
      'usage:jobs': '330.00',
      // 500 × 15/31 + 450 × 16/31 = 241.935… + 232.258… = 474.193…
      'fee:platform': '474.19',
    });
    expect(usage(invoice, 'usage:tokens').tiers).toEqual([
      { tier: 1, quantity: '800', unit_price: '0.10', amount: '80', effective_from: V1 },
      { tier: 1, quantity: '200', unit_price: '0.08', amount: '16', effective_from: V2 },
      { tier: 2, quantity: '500', unit_price: '0.04', amount: '20', effective_from: V2 },
    ]);
    expect(usage(invoice, 'usage:jobs').tiers).toEqual([
      { tier: 3, quantity: '600', unit_price: '0.30', amount: '180', effective_from: V1 },
      { tier: 3, quantity: '500', unit_price: '0.25', flat_fee: '25', amount: '150', effective_from: V2 },
    ]);
    expect(invoice.subtotal).toBe('920.19');
    expect(invoice.ratecard_versions.map((ref) => ref.effective_from)).toEqual([V1, V2]);
  });

  it('uses only the versions in force: a later version does not touch this period', () => {
    const november = buildRateCardVersion({
      effective_from: '2026-11-01T00:00:00.000Z',
      fees: [buildFee({ amount: '1.00' })],
    });
    const invoice = rate({ versions: [v1, november], aggregates: [buildAggregate({ quantitySum: '1500' })] });
    expect(amounts(invoice)).toEqual({ 'usage:tokens': '125.00', 'fee:platform': '500.00' });
    expect(invoice.ratecard_versions.map((ref) => ref.effective_from)).toEqual([V1]);
  });
});

describe('ratePeriod: matching (rule 2) and unpriced usage', () => {
  const version = buildRateCardVersion({
    effective_from: '2026-10-10T00:00:00.000Z',
    prices: [
      buildPrice({ id: 'tokens-any', unit_price: '1' }),
      buildPrice({ id: 'tokens-us', dimensions: { region: 'us-east-1' }, unit_price: '2' }),
      buildPrice({ id: 'tokens-us-pro', dimensions: { region: 'us-east-1', plan: 'pro' }, unit_price: '3' }),
    ],
  });
  const at = '2026-10-10T00:00:00.000Z';

  it('the most specific matching price wins', () => {
    const invoice = rate({
      versions: [version],
      aggregates: [
        buildAggregate({ versionEffectiveFrom: at, metadata: { region: 'us-east-1', plan: 'pro' }, quantitySum: '1' }),
        buildAggregate({
          versionEffectiveFrom: at,
          metadata: { region: 'us-east-1', plan: 'free' },
          quantitySum: '10',
        }),
        buildAggregate({
          versionEffectiveFrom: at,
          metadata: { region: 'eu-west-1', plan: 'pro' },
          quantitySum: '100',
        }),
        buildAggregate({ versionEffectiveFrom: at, metadata: {}, quantitySum: '1000' }),
      ],
    });
    expect(amounts(invoice)).toEqual({
      'usage:tokens-any': '1100.00',
      'usage:tokens-us': '20.00',
      'usage:tokens-us-pro': '3.00',
    });
  });

  it('reports unpriced usage with its reason and never bills it', () => {
    const invoice = rate({
      versions: [version],
      aggregates: [
        buildAggregate({
          versionEffectiveFrom: at,
          sku: 'llm.images',
          unit: 'images',
          eventCount: 3,
          quantitySum: '7',
        }),
        buildAggregate({ versionEffectiveFrom: at, unit: 'characters', eventCount: 2, quantitySum: '50' }),
        buildAggregate({ versionEffectiveFrom: null, eventCount: 4, quantitySum: '40' }), // before the card's first version
      ],
    });
    expect(invoice.lines).toEqual([]);
    expect(invoice.total).toBe('0.00');
    expect(invoice.unpriced).toEqual([
      { sku: 'llm.images', unit: 'images', event_count: 3, quantity: '7', reason: 'no_matching_price' },
      { sku: 'llm.tokens', unit: 'characters', event_count: 2, quantity: '50', reason: 'unit_mismatch' },
      { sku: 'llm.tokens', unit: 'tokens', event_count: 4, quantity: '40', reason: 'no_ratecard_version' },
    ]);
  });

  it('refuses a card where two prices tie (the validator refuses such files)', () => {
    const tied = buildRateCardVersion({
      prices: [
        buildPrice({ id: 'a', dimensions: { region: 'x' } }),
        buildPrice({ id: 'b', dimensions: { plan: 'y' } }),
      ],
    });
    expect(() =>
      rate({ versions: [tied], aggregates: [buildAggregate({ metadata: { region: 'x', plan: 'y' } })] }),
    ).toThrow(/both match/);
  });
});

describe('ratePeriod: rounding per line to the currency (rule 6)', () => {
  it('JPY has no minor digits: 3 × 1.5 = 4.5 → 5, and 0.5 → 1 (half-up)', () => {
    const version = buildRateCardVersion({
      currency: 'JPY',
      prices: [
        buildPrice({ unit_price: '1.5' }),
        buildPrice({ id: 'jobs', sku: 'batch.jobs', unit: 'jobs', unit_price: '0.5' }),
      ],
    });
    const invoice = rate({
      contract: buildContract({ currency: 'JPY' }),
      versions: [version],
      aggregates: [
        buildAggregate({ quantitySum: '3' }),
        buildAggregate({ sku: 'batch.jobs', unit: 'jobs', quantitySum: '1' }),
      ],
    });
    expect(amounts(invoice)).toEqual({ 'usage:tokens': '5', 'usage:jobs': '1' });
    expect(invoice.subtotal).toBe('6');
  });

  it('rounds each line once, not each tier: 3 × 0.333 + 0.001 → 1.00 (tiers 0.999 and 0.001 unrounded)', () => {
    const version = buildRateCardVersion({
      prices: [buildPrice({ model: 'graduated', tiers: tiers(['3', '0.333'], [null, '0.001']) })],
    });
    const invoice = rate({ versions: [version], aggregates: [buildAggregate({ quantitySum: '4' })] });
    expect(usage(invoice, 'usage:tokens')).toMatchObject({
      amount: '1.00',
      tiers: [{ amount: '0.999' }, { amount: '0.001' }],
    });
  });

  it('keeps 12-decimal quantities exact', () => {
    const version = buildRateCardVersion({ prices: [buildPrice({ unit_price: '1000000' })] });
    const invoice = rate({
      versions: [version],
      aggregates: [
        buildAggregate({ quantitySum: '0.000000000001' }),
        buildAggregate({ metadata: { x: '1' }, quantitySum: '0.000000004999' }),
      ],
    });
    // 0.000000005 × 1,000,000 = 0.005 → 0.01
    expect(usage(invoice, 'usage:tokens')).toMatchObject({ quantity: '0.000000005', amount: '0.01' });
  });
});

describe('ratePeriod: commit and credits', () => {
  const version = buildRateCardVersion({
    prices: [buildPrice({ unit_price: '1' })],
    fees: [buildFee({ amount: '100.00' })],
  });

  it('bills the commit shortfall, then draws credits in rule 10 order down to zero, never below', () => {
    const contract = buildContract({
      commit: { amount: '300.00' },
      credits: [
        { id: 'prepaid-1', kind: 'prepaid', amount: '1000.00', granted_at: '2026-01-01T00:00:00Z' },
        { id: 'promo', kind: 'promotional', amount: '20.00', granted_at: '2026-01-01T00:00:00Z' },
      ],
    });
    const invoice = rate({ contract, versions: [version], aggregates: [buildAggregate({ quantitySum: '120' })] });
    expect(amounts(invoice)).toEqual({
      'usage:tokens': '120.00',
      'fee:platform': '100.00',
      commit_true_up: '180.00',
      'credit:promo': '-20.00',
      'credit:prepaid-1': '-380.00',
    });
    expect(invoice).toMatchObject({ subtotal: '400.00', total: '0.00' });
  });

  it("uses the balances it is given, not the contract's grants (the workflow passes what is left)", () => {
    const credits: CreditBalance[] = [
      { id: 'prepaid-1', kind: 'prepaid', remaining: '12.34', granted_at: '2026-01-01T00:00:00Z' },
    ];
    const invoice = rate({ versions: [version], aggregates: [], credits });
    expect(amounts(invoice)).toEqual({ 'fee:platform': '100.00', 'credit:prepaid-1': '-12.34' });
    expect(invoice.total).toBe('87.66');
  });

  it('prorates the commit like the fees for a contract starting mid-period: 300 × 22/31 = 212.90', () => {
    const contract = buildContract({ starts_at: '2026-10-10T00:00:00Z', commit: { amount: '300.00' } });
    const invoice = rate({ contract, versions: [version], aggregates: [] });
    expect(invoice.lines.find((line) => line.kind === 'commit_true_up')).toEqual({
      kind: 'commit_true_up',
      line_key: 'commit_true_up',
      amount: '212.90',
      commit: '212.90',
      proration: '0.709677419355',
    });
    expect(amounts(invoice)['fee:platform']).toBe('70.97'); // 100 × 22/31
  });
});

describe('ratePeriod: refuses input it cannot rate', () => {
  const version = buildRateCardVersion();
  it.each([
    ['a contract in another currency', { contract: buildContract({ currency: 'EUR' }) }, 'currency_mismatch'],
    ['a contract for another rate card', { contract: buildContract({ ratecard: 'europe' }) }, 'ratecard_mismatch'],
    ['a contract for another customer', { customerId: 'globex' }, 'customer_mismatch'],
    ['no versions', { versions: [] }, 'no_ratecard_versions'],
    [
      'an aggregate of a version not in force',
      { aggregates: [buildAggregate({ versionEffectiveFrom: '2026-10-20T00:00:00.000Z' })] },
      'unknown_version_segment',
    ],
    ['an aggregate without events', { aggregates: [buildAggregate({ eventCount: 0 })] }, 'invalid_aggregate'],
    ['a float-like quantity', { aggregates: [buildAggregate({ quantitySum: '1e3' })] }, 'invalid_aggregate'],
  ] as const)('%s', (_name, overrides, code) => {
    const run = (): Invoice =>
      rate({ versions: [version], aggregates: [], ...overrides } as Parameters<typeof rate>[0]);
    expect(run).toThrow(RatingInputError);
    try {
      run();
    } catch (error) {
      expect((error as RatingInputError).code).toBe(code);
    }
  });
});
