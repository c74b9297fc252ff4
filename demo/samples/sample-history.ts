import { signEvent } from '../../contracts/event-signature.ts';
import type { UnsignedUsageEvent, UsageEvent } from '../../contracts/usage-event.ts';
import { dayNumber, dayText } from '../../domain/anomalies/utc-days.ts';
import type { CustomerSize, DemoCustomer } from './sample-customers.ts';
import { seededRandom } from './seeded-random.ts';

/**
 * Weeks of daily usage before the demo's billed month, for the FinOps loop to learn from (SPEC §10):
 * the same customers and SKUs as `sample-usage.ts`, at the same expected daily level, but shaped like
 * a working week (busy weekdays, quiet weekends) with a little noise on the metered amounts, and one
 * injected anomaly. Pure and seeded: the same options give the same events, byte for byte.
 *
 * Counted SKUs (jobs, logins) repeat their weekday's count exactly: a count of one or two a day has
 * no noise a detector could tell from a change, so it gets none. Storage is a gauge that grows by
 * about a GB a day, as in the monthly sample.
 */

export interface HistoryOptions {
  readonly customers: readonly DemoCustomer[];
  /** First and last day of the history, inclusive (UTC, `YYYY-MM-DD`). */
  readonly from: string;
  readonly to: string;
  readonly seed: number;
  /** Scales every customer's daily amounts, as `scale` does in the monthly sample. */
  readonly scale?: number;
  /** An injected spike: on `day`, the customer's SKU reports `factor` times its usual day on top. */
  readonly spike?: {
    readonly customerId: string;
    readonly sku: 'llm.tokens' | 'db.queries';
    readonly day: string;
    readonly factor: number;
  };
  readonly keys: Readonly<Record<string, string>>;
}

const SIZE_FACTOR: Readonly<Record<CustomerSize, number>> = { small: 1, medium: 4, large: 12 };
const USERS_PER_SIZE: Readonly<Record<CustomerSize, number>> = { small: 8, medium: 40, large: 150 };

/** Monday first: a working week, weekends at about half. Normalized so a week averages 1. */
const WEEKDAY_SHAPE = [1.1, 1.15, 1.15, 1.1, 1.0, 0.55, 0.45];
const WEEKDAY_FACTOR = WEEKDAY_SHAPE.map((value) => (value * 7) / WEEKDAY_SHAPE.reduce((sum, one) => sum + one, 0));

/**
 * The expected day of each SKU, from the monthly sample's loops over a 30-day month: tokens
 * 40 × factor requests of 10,024.5 on average, queries 10 × factor batches of 2,500.5, jobs
 * 8 × factor, logins 6 × factor.
 */
function dailyMeans(size: CustomerSize, scale: number) {
  const factor = SIZE_FACTOR[size] * scale;
  return {
    tokens: (40 * factor * 10_024.5) / 30,
    queries: (10 * factor * 2_500.5) / 30,
    jobs: (8 * factor) / 30,
    logins: (6 * factor) / 30,
  };
}

const DAY_MS = 86_400_000;

/** The events of the history, customer by customer, each customer's in timestamp order. */
export function* historyUsageStream(options: HistoryOptions): Generator<UsageEvent> {
  const first = dayNumber(options.from);
  const last = dayNumber(options.to);
  if (first === undefined || last === undefined || last < first)
    throw new Error(`not a range of days: ${options.from} to ${options.to}`);
  const scale = options.scale ?? 1;
  for (const customer of options.customers) {
    const random = seededRandom(options.seed * 104_729 + hashText(customer.customerId));
    const means = dailyMeans(customer.size, scale);
    const events: UnsignedUsageEvent[] = [];
    const add = (
      day: number,
      source: string,
      sku: string,
      unit: string,
      quantity: string,
      atMinute: number,
      index: number,
      metadata: Record<string, string>,
    ): void => {
      events.push({
        schema_version: 1,
        event_id: `${customer.customerId}.${sku}.h${dayText(day).replaceAll('-', '')}.${String(index).padStart(4, '0')}`,
        source,
        customer_id: customer.customerId,
        timestamp: new Date(day * DAY_MS + atMinute * 60_000).toISOString(),
        unit,
        quantity,
        metadata: { sku, plan: customer.plan, marketplace: 'direct', ...metadata },
      });
    };
    const regions = customer.regions;
    const storageStart = regions.map(() => 20 * SIZE_FACTOR[customer.size] * 1000 + Math.floor(random() * 50_000));
    for (let day = first; day <= last; day += 1) {
      // 1970-01-01 was a Thursday: day 0 is index 3 of a week starting on Monday.
      const weekday = WEEKDAY_FACTOR[(day + 3) % 7] ?? 1;
      const noisy = (): number => 1 + 0.16 * (random() - 0.5);
      regions.forEach((region, regionIndex) => {
        const share = 1 / regions.length;
        const tokens = Math.max(1, Math.round(means.tokens * share * weekday * noisy()));
        add(day, 'api-gateway', 'llm.tokens', 'tokens', String(tokens), 9 * 60 + regionIndex * 7, regionIndex + 1, {
          region,
        });
        const queries = Math.max(1, Math.round(means.queries * share * weekday * noisy()));
        add(day, 'api-gateway', 'db.queries', 'queries', String(queries), 10 * 60 + regionIndex * 7, regionIndex + 1, {
          region,
        });
        // One reading a day, about a GB more each day.
        const grams = (storageStart[regionIndex] ?? 0) + (day - first) * 1000 + Math.floor(random() * 200);
        add(
          day,
          'storage-meter',
          'storage.gb',
          'GB-month',
          `${Math.floor(grams / 1000)}.${String(grams % 1000).padStart(3, '0')}`,
          60 + regionIndex,
          regionIndex + 1,
          { region },
        );
      });
      const jobs = Math.round(means.jobs * weekday);
      for (let index = 0; index < jobs; index += 1)
        add(day, 'job-runner', 'batch.jobs', 'jobs', '1', 8 * 60 + index * 3, index + 1, {
          region: regions[index % regions.length] ?? 'us-east-1',
        });
      const logins = Math.round(means.logins * weekday);
      const users = USERS_PER_SIZE[customer.size];
      for (let index = 0; index < logins; index += 1)
        add(day, 'auth-service', 'app.active_users', 'users', '1', 7 * 60 + index * 2, index + 1, {
          user_id: `u${(index * 7 + day) % users}`,
        });
      const spike = options.spike;
      if (spike !== undefined && spike.customerId === customer.customerId && dayNumber(spike.day) === day) {
        // A runaway workload: one burst of `factor` ordinary days in the afternoon.
        const ordinary = spike.sku === 'db.queries' ? means.queries : means.tokens;
        add(
          day,
          'api-gateway',
          spike.sku,
          spike.sku === 'db.queries' ? 'queries' : 'tokens',
          String(Math.round(ordinary * weekday * spike.factor)),
          14 * 60 + 30,
          900,
          { region: regions[0] ?? 'us-east-1' },
        );
      }
    }
    events.sort((a, b) =>
      a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.event_id < b.event_id ? -1 : 1,
    );
    for (const unsigned of events) {
      const secret = options.keys[unsigned.source];
      if (secret === undefined) throw new Error(`no key for source ${unsigned.source}`);
      yield signEvent(unsigned, secret);
    }
  }
}

export function generateHistoryEvents(options: HistoryOptions): UsageEvent[] {
  return [...historyUsageStream(options)];
}

function hashText(text: string): number {
  let hash = 2_166_136_261;
  for (let index = 0; index < text.length; index += 1)
    hash = Math.imul(hash ^ text.charCodeAt(index), 16_777_619) >>> 0;
  return hash;
}
