import { signEvent } from '../contracts/event-signature.ts';
import type { SourceKeys } from '../contracts/source-keys.ts';
import type { UnsignedUsageEvent } from '../contracts/usage-event.ts';
import { addressUsageMessage, type OutgoingUsageMessage } from '../ingest/usage-stream.ts';

/**
 * A deterministic stream of realistic usage messages for the benchmark: several thousand customers,
 * a handful of products and sources, ~5% duplicates (exact repeats of an earlier message, most of
 * them far enough back to pass the server's duplicate window and reach Postgres) and ~1% malformed
 * (broken JSON, schema violations, bad signatures). Message `i` is computed from `i` alone, so
 * nothing is held in memory.
 */
export interface GeneratedMessage {
  readonly message: OutgoingUsageMessage;
  readonly kind: 'event' | 'duplicate' | 'malformed';
}

const PRODUCTS = [
  { unit: 'tokens', sku: 'llm.tokens', max: 50_000, decimals: 0 },
  { unit: 'images', sku: 'llm.images', max: 20, decimals: 0 },
  { unit: 'GB', sku: 'storage.gb', max: 500, decimals: 6 },
  { unit: 'jobs', sku: 'batch.jobs', max: 10, decimals: 0 },
  { unit: 'queries', sku: 'search.queries', max: 2_000, decimals: 0 },
  { unit: 'seconds', sku: 'compute.seconds', max: 3_600, decimals: 3 },
] as const;
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-1'];
const PLANS = ['free', 'pro', 'enterprise'];
const MARKETPLACES = ['direct', 'aws', 'gcp'];
const MODELS = ['small-2', 'medium-3', 'large-4'];

export interface GeneratorOptions {
  readonly sources: readonly string[];
  readonly keys: SourceKeys;
  readonly customers: number;
  readonly subjectPrefix: string;
  /** Event times spread over this many milliseconds before `nowMs`. */
  readonly spreadMs: number;
  readonly nowMs: number;
  /** A duplicate repeats the message this many positions back (when there is one). */
  readonly duplicateDistance: number;
  /** Distinguishes runs on one database, so that a second run's events are new events. */
  readonly runTag: string;
}

/** A 32-bit integer hash (xorshift-multiply): deterministic pseudo-randomness per index. */
function hash(value: number, salt: number): number {
  let x = (value ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export function classifyPosition(position: number): GeneratedMessage['kind'] {
  const bucket = hash(position, 1) % 100;
  if (bucket === 0) return 'malformed';
  if (bucket <= 5) return 'duplicate';
  return 'event';
}

export function buildEvent(index: number, options: GeneratorOptions): UnsignedUsageEvent {
  const product = PRODUCTS[hash(index, 2) % PRODUCTS.length] as (typeof PRODUCTS)[number];
  const whole = (hash(index, 3) % product.max) + 1;
  const fraction =
    product.decimals === 0 ? '' : `.${String(hash(index, 4) % 10 ** product.decimals).padStart(product.decimals, '0')}`;
  const metadata: Record<string, string> = {
    sku: product.sku,
    region: REGIONS[hash(index, 5) % REGIONS.length] as string,
    plan: PLANS[hash(index, 6) % PLANS.length] as string,
    marketplace: MARKETPLACES[hash(index, 7) % MARKETPLACES.length] as string,
  };
  if (product.sku.startsWith('llm.')) metadata.model = MODELS[hash(index, 8) % MODELS.length] as string;
  if (hash(index, 9) % 4 === 0) metadata.user_id = `u-${hash(index, 10) % 100_000}`;
  return {
    schema_version: 1,
    event_id: `${options.runTag}-${index.toString(36)}`,
    source: options.sources[index % options.sources.length] as string,
    customer_id: `cust-${hash(index, 11) % options.customers}`,
    timestamp: new Date(options.nowMs - (hash(index, 12) % options.spreadMs)).toISOString(),
    unit: product.unit,
    quantity: `${whole}${fraction}`,
    metadata,
  };
}

function signedMessage(index: number, options: GeneratorOptions): OutgoingUsageMessage {
  const unsigned = buildEvent(index, options);
  const signed = signEvent(unsigned, options.keys[unsigned.source] as string);
  return addressUsageMessage(Buffer.from(JSON.stringify(signed)), signed, options.subjectPrefix);
}

/** The message at `position` of the benchmark's input. */
export function generateMessage(position: number, options: GeneratorOptions): GeneratedMessage {
  const kind = classifyPosition(position);
  if (kind === 'event') return { kind, message: signedMessage(position, options) };
  if (kind === 'duplicate') {
    let earlier =
      position >= options.duplicateDistance ? position - options.duplicateDistance : Math.floor(position / 2);
    while (earlier > 0 && classifyPosition(earlier) !== 'event') earlier--;
    if (classifyPosition(earlier) !== 'event') return { kind: 'event', message: signedMessage(position, options) };
    return { kind, message: signedMessage(earlier, options) };
  }
  const variant = hash(position, 13) % 3;
  const valid = signEvent(
    buildEvent(position, options),
    options.keys[options.sources[position % options.sources.length] as string] as string,
  );
  const text =
    variant === 0
      ? JSON.stringify(valid).slice(0, 40 + (hash(position, 14) % 60))
      : variant === 1
        ? JSON.stringify({ ...valid, quantity: Number.parseFloat(valid.quantity) })
        : JSON.stringify({ ...valid, quantity: `${valid.quantity}1` });
  return { kind, message: addressUsageMessage(Buffer.from(text), undefined, options.subjectPrefix) };
}
