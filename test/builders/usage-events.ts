import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { parseContractText, type Contract } from '../../contracts/contract.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import type { UnsignedUsageEvent, UsageEvent } from '../../contracts/usage-event.ts';
import { billingPeriod } from '../../domain/period.ts';
import { buildContract, TEST_SOURCE_KEYS } from './rating.ts';

/**
 * A month of realistic usage for N customers, matching the sample rate cards (`ratecards/standard`,
 * USD, and `ratecards/europe`, EUR), so every generated event has a price (unless asked for
 * unpriced ones). Pure and seeded: the same options give the same events, byte for byte; no
 * Math.random, no clock. Events are signed with the sources' keys (TEST_SOURCE_KEYS by default).
 */

export type Region = 'us-east-1' | 'eu-west-1';
export type CustomerSize = 'small' | 'medium' | 'large';

export interface DemoCustomer {
  readonly customerId: string;
  readonly ratecard: 'standard' | 'europe';
  readonly currency: 'USD' | 'EUR';
  readonly regions: readonly Region[];
  readonly size: CustomerSize;
  readonly plan: 'starter' | 'pro' | 'enterprise';
}

const NAMES = [
  'acme',
  'globex',
  'initech',
  'umbrella',
  'hooli',
  'soylent',
  'stark',
  'wayne',
  'wonka',
  'tyrell',
  'cyberdyne',
  'aperture',
  'oscorp',
  'massive',
  'vandelay',
  'gringotts',
  'monarch',
  'nakatomi',
  'pied-piper',
  'dunder',
];

/** `count` customers with deterministic profiles; the first six are those of test/fixtures/contracts. */
export function demoCustomers(count: number, seed = 1): DemoCustomer[] {
  const random = seededRandom(seed);
  const fixed: DemoCustomer[] = [
    {
      customerId: 'acme',
      ratecard: 'standard',
      currency: 'USD',
      regions: ['us-east-1', 'eu-west-1'],
      size: 'large',
      plan: 'enterprise',
    },
    {
      customerId: 'globex',
      ratecard: 'standard',
      currency: 'USD',
      regions: ['us-east-1'],
      size: 'medium',
      plan: 'pro',
    },
    { customerId: 'initech', ratecard: 'europe', currency: 'EUR', regions: ['eu-west-1'], size: 'medium', plan: 'pro' },
    {
      customerId: 'umbrella',
      ratecard: 'standard',
      currency: 'USD',
      regions: ['us-east-1'],
      size: 'small',
      plan: 'starter',
    },
    {
      customerId: 'hooli',
      ratecard: 'standard',
      currency: 'USD',
      regions: ['eu-west-1', 'us-east-1'],
      size: 'medium',
      plan: 'pro',
    },
    {
      customerId: 'soylent',
      ratecard: 'europe',
      currency: 'EUR',
      regions: ['eu-west-1', 'us-east-1'],
      size: 'large',
      plan: 'enterprise',
    },
  ];
  const customers: DemoCustomer[] = [];
  for (let index = 0; index < count; index += 1) {
    const preset = fixed[index];
    if (preset !== undefined) {
      customers.push(preset);
      continue;
    }
    const europe = random() < 0.3;
    const name = NAMES[index % NAMES.length] ?? 'customer';
    customers.push({
      customerId: index < NAMES.length ? name : `${name}-${index}`,
      ratecard: europe ? 'europe' : 'standard',
      currency: europe ? 'EUR' : 'USD',
      regions: random() < 0.4 ? ['us-east-1', 'eu-west-1'] : [europe ? 'eu-west-1' : 'us-east-1'],
      size: pick(random, ['small', 'medium', 'large'] as const),
      plan: pick(random, ['starter', 'pro', 'enterprise'] as const),
    });
  }
  return customers;
}

export interface UsageGenerationOptions {
  readonly customers: readonly DemoCustomer[];
  /** `YYYY-MM`. */
  readonly period: string;
  readonly seed: number;
  /** Scales every customer's event counts (1 ≈ 60–700 events per customer a month). */
  readonly scale?: number;
  /** Every n-th event is sent twice (an exact copy later in the stream); 0 = no duplicates. */
  readonly duplicateEvery?: number;
  /** Events per customer of a sku no rate card prices (`llm.images`): they must show as unpriced. */
  readonly unpricedPerCustomer?: number;
  readonly keys?: Readonly<Record<string, string>>;
}

const SIZE_FACTOR: Readonly<Record<CustomerSize, number>> = { small: 1, medium: 4, large: 12 };
const USERS_PER_SIZE: Readonly<Record<CustomerSize, number>> = { small: 8, medium: 40, large: 150 };

/**
 * Streams the events of one period for all customers, customer by customer, each customer's events
 * in timestamp order (duplicates follow their original a little later in the stream). Use
 * `generateUsageEvents` for an array.
 */
export function* usageEventStream(options: UsageGenerationOptions): Generator<UsageEvent> {
  const period = billingPeriod(options.period);
  const startMs = Date.parse(period.start);
  const spanMs = Date.parse(period.end) - startMs;
  const keys: Readonly<Record<string, string>> = options.keys ?? TEST_SOURCE_KEYS;
  const scale = options.scale ?? 1;
  const duplicateEvery = options.duplicateEvery ?? 0;
  let emitted = 0;
  for (const customer of options.customers) {
    const random = seededRandom(options.seed * 7919 + hashText(customer.customerId));
    const factor = SIZE_FACTOR[customer.size] * scale;
    const events: UnsignedUsageEvent[] = [];
    let sequence = 0;
    const add = (
      source: string,
      sku: string,
      unit: string,
      quantity: string,
      atMs: number,
      metadata: Record<string, string> = {},
    ): void => {
      sequence += 1;
      events.push({
        schema_version: 1,
        event_id: `${customer.customerId}.${sku}.${String(sequence).padStart(7, '0')}`,
        source,
        customer_id: customer.customerId,
        timestamp: new Date(atMs).toISOString(),
        unit,
        quantity,
        metadata: { sku, plan: customer.plan, marketplace: 'direct', ...metadata },
      });
    };
    const anyTime = (): number => startMs + Math.floor(random() * spanMs);
    const region = (): Region => pick(random, customer.regions);

    // LLM tokens: many requests of 50–20,000 tokens.
    for (let index = 0; index < 40 * factor; index += 1) {
      add('api-gateway', 'llm.tokens', 'tokens', String(50 + Math.floor(random() * 20_000)), anyTime(), {
        region: region(),
      });
    }
    // Database queries, in batches reported by the gateway.
    for (let index = 0; index < 10 * factor; index += 1) {
      add('api-gateway', 'db.queries', 'queries', String(1 + Math.floor(random() * 5_000)), anyTime(), {
        region: region(),
      });
    }
    // Storage: one reading a day per region, in GB with three decimals, slowly growing.
    for (const storageRegion of customer.regions) {
      let gigabytes = 20 * SIZE_FACTOR[customer.size] * 1000 + Math.floor(random() * 50_000);
      for (let day = 0; day * 86_400_000 < spanMs; day += 1) {
        gigabytes += Math.floor(random() * 2_000);
        add(
          'storage-meter',
          'storage.gb',
          'GB-month',
          `${Math.floor(gigabytes / 1000)}.${String(gigabytes % 1000).padStart(3, '0')}`,
          startMs + day * 86_400_000 + 3_600_000,
          { region: storageRegion },
        );
      }
    }
    // Batch jobs: one event per job.
    for (let index = 0; index < 8 * factor; index += 1)
      add('job-runner', 'batch.jobs', 'jobs', '1', anyTime(), { region: region() });
    // Active users: logins of a pool of users.
    const users = USERS_PER_SIZE[customer.size];
    for (let index = 0; index < 6 * factor; index += 1) {
      add('auth-service', 'app.active_users', 'users', '1', anyTime(), { user_id: `u${Math.floor(random() * users)}` });
    }
    for (let index = 0; index < (options.unpricedPerCustomer ?? 0); index += 1) {
      add('api-gateway', 'llm.images', 'images', String(1 + Math.floor(random() * 4)), anyTime(), { region: region() });
    }

    events.sort((a, b) =>
      a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.event_id < b.event_id ? -1 : 1,
    );
    const pending: UsageEvent[] = [];
    for (const unsigned of events) {
      const secret = keys[unsigned.source];
      if (secret === undefined) throw new Error(`no key for source ${unsigned.source}`);
      const event = signEvent(unsigned, secret);
      yield event;
      emitted += 1;
      if (duplicateEvery > 0 && emitted % duplicateEvery === 0) pending.push(event);
      if (pending.length > 0 && random() < 0.2) yield pending.shift() as UsageEvent;
    }
    yield* pending;
  }
}

/**
 * How many distinct events `usageEventStream` emits for one customer (duplicates aside), without
 * generating them: the loops above run `ceil(n × factor)` times for each kind, plus one storage
 * reading a day per region. Lets a benchmark pick the scale that gives a target total.
 */
export function usageEventCount(
  customer: DemoCustomer,
  options: Pick<UsageGenerationOptions, 'period' | 'scale' | 'unpricedPerCustomer'>,
): number {
  const period = billingPeriod(options.period);
  const days = Math.ceil((Date.parse(period.end) - Date.parse(period.start)) / 86_400_000);
  const factor = SIZE_FACTOR[customer.size] * (options.scale ?? 1);
  const loop = (perFactor: number): number => Math.max(0, Math.ceil(perFactor * factor));
  return loop(40) + loop(10) + loop(8) + loop(6) + days * customer.regions.length + (options.unpricedPerCustomer ?? 0);
}

export function generateUsageEvents(options: UsageGenerationOptions): UsageEvent[] {
  return [...usageEventStream(options)];
}

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)); deterministic across platforms. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function hashText(text: string): number {
  let hash = 2_166_136_261;
  for (let index = 0; index < text.length; index += 1)
    hash = Math.imul(hash ^ text.charCodeAt(index), 16_777_619) >>> 0;
  return hash;
}

const FIXTURE_CONTRACTS = new Set(['acme', 'globex', 'initech', 'umbrella', 'hooli', 'soylent']);
const COMMIT_BY_SIZE: Readonly<Record<CustomerSize, string | undefined>> = {
  small: undefined,
  medium: '500.00',
  large: '2000.00',
};

/**
 * The contract of a demo customer: the fixture in test/fixtures/contracts for the first six, else
 * terms derived from the profile (a commit by size, a welcome credit, review above a total).
 */
export function demoContract(customer: DemoCustomer): Contract {
  if (FIXTURE_CONTRACTS.has(customer.customerId)) {
    const file = new URL(`../fixtures/contracts/${customer.customerId}.yaml`, import.meta.url);
    const parsed = parseContractText(readFileSync(file, 'utf8'), file.pathname);
    if (!parsed.ok) throw new Error(`fixture contract ${customer.customerId} is invalid`);
    return parsed.contract;
  }
  const commit = COMMIT_BY_SIZE[customer.size];
  return buildContract({
    customer_id: customer.customerId,
    ratecard: customer.ratecard,
    currency: customer.currency,
    starts_at: '2026-01-01T00:00:00Z',
    ...(commit !== undefined ? { commit: { amount: commit } } : {}),
    credits: [{ id: 'welcome', kind: 'promotional', amount: '25.00', granted_at: '2026-09-01T00:00:00Z' }],
    review: { total_above: '10000.00', change_pct_above: '50' },
    provider: { kind: 'stripe', customer: `cus_${customer.customerId.replace(/[^A-Za-z0-9]/g, '_')}` },
  });
}

/** A contract as the YAML a person would write (for `tally rate --contract`). */
export function contractToYaml(contract: Contract): string {
  return stringify(contract, { lineWidth: 0 });
}
