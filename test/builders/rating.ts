import { ContractSchema, type Contract } from '../../contracts/contract.ts';
import type { Fee, Price, RateCardVersion, Tier } from '../../contracts/ratecard.ts';
import type { UsageAggregate } from '../../domain/rating/index.ts';

/** Builders for rating tests: plain objects with sensible defaults and overrides. */

export function tiers(...rows: [upTo: string | null, unitPrice: string, flatFee?: string][]): Tier[] {
  return rows.map(([upTo, unitPrice, flatFee]) => ({ up_to: upTo, unit_price: unitPrice, flat_fee: flatFee ?? '0' }));
}

export function buildPrice(overrides: Partial<Price> & { model?: Price['model'] } = {}): Price {
  const base = {
    id: 'tokens',
    sku: 'llm.tokens',
    unit: 'tokens',
    dimensions: {},
    aggregation: 'sum' as const,
  };
  const model = overrides.model ?? 'per_unit';
  if (model === 'per_unit') return { ...base, model: 'per_unit', unit_price: '0.002', ...overrides } as Price;
  return { ...base, model, tiers: tiers(['1000', '0.10'], ['10000', '0.05'], [null, '0.01']), ...overrides } as Price;
}

export function buildFee(overrides: Partial<Fee> = {}): Fee {
  return { id: 'platform', description: 'Platform fee', amount: '500.00', ...overrides };
}

export function buildRateCardVersion(overrides: Partial<RateCardVersion> = {}): RateCardVersion {
  const effectiveFrom = overrides.effective_from ?? '2026-10-01T00:00:00.000Z';
  return {
    ratecard: 'standard',
    effective_from: effectiveFrom,
    currency: 'USD',
    prices: [buildPrice()],
    fees: [],
    discounts: [],
    content_hash: `hash-of-${effectiveFrom}`,
    file: `standard/${effectiveFrom.slice(0, 10)}.yaml`,
    ...overrides,
  };
}

/** A contract as parsed (defaults filled by the schema), so builders cannot drift from the contract rules. */
export function buildContract(overrides: Partial<Record<keyof Contract, unknown>> = {}): Contract {
  return ContractSchema.parse({ customer_id: 'acme', ratecard: 'standard', currency: 'USD', ...overrides });
}

export function buildAggregate(overrides: Partial<UsageAggregate> = {}): UsageAggregate {
  return {
    versionEffectiveFrom: '2026-10-01T00:00:00.000Z',
    sku: 'llm.tokens',
    unit: 'tokens',
    metadata: {},
    eventCount: 1,
    quantitySum: '0',
    quantityMax: '0',
    latestTimestamp: '2026-10-15T00:00:00.000000Z',
    latestQuantity: '0',
    latestEventKey: 'api-gateway:evt-1',
    ...overrides,
  };
}

export { buildUnsignedEvent, buildUsageEvent } from './usage-event.ts';
