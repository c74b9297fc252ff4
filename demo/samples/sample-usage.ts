import { randomBytes } from 'node:crypto';
import { signEvent } from '../../contracts/event-signature.ts';
import type { UnsignedUsageEvent, UsageEvent } from '../../contracts/usage-event.ts';
import { billingPeriod } from '../../domain/period.ts';
import type { CustomerSize, DemoCustomer, Region } from './sample-customers.ts';
import { pick, seededRandom } from './seeded-random.ts';

/**
 * A month of realistic usage for N sample customers, so every generated event has a price (unless
 * asked for unpriced ones). Pure and seeded: the same options give the same events, byte for byte;
 * no Math.random, no clock. Events are signed with the given sources' keys.
 */

/** The producers of the sample usage. */
export const SAMPLE_SOURCES = ['api-gateway', 'storage-meter', 'job-runner', 'auth-service'] as const;

/** Fresh signing secrets for the sample sources (never kept in the repository). */
export function freshSourceKeys(): Record<(typeof SAMPLE_SOURCES)[number], string> {
  return Object.fromEntries(SAMPLE_SOURCES.map((source) => [source, randomBytes(24).toString('hex')])) as Record<
    (typeof SAMPLE_SOURCES)[number],
    string
  >;
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
  /** The signing secret of each source (`api-gateway`, `storage-meter`, `job-runner`, `auth-service`). */
  readonly keys: Readonly<Record<string, string>>;
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
  const keys = options.keys;
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

function hashText(text: string): number {
  let hash = 2_166_136_261;
  for (let index = 0; index < text.length; index += 1)
    hash = Math.imul(hash ^ text.charCodeAt(index), 16_777_619) >>> 0;
  return hash;
}
