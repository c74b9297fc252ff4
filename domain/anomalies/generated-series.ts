import type { DailySeries } from './daily-series.ts';

/**
 * Generated daily usage with known weekday seasonality, trend, noise and injected anomalies: the
 * detector's quality tests and its benchmark use it. Seeded (mulberry32), so a run can be repeated.
 */

interface InjectedAnomaly {
  readonly customer_id: string;
  readonly dayIndex: number;
  readonly kind: 'spike' | 'drop' | 'silence';
}

export interface GeneratedUsage {
  readonly series: DailySeries[];
  readonly injected: InjectedAnomaly[];
}

export interface GenerateOptions {
  readonly customers: number;
  readonly days: number;
  readonly seed: number;
  /** Inject one spike, one drop and one silence (3 days) per customer from day 36 on. */
  readonly inject: boolean;
  readonly firstDay?: number;
}

export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller). */
function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function generateUsage(options: GenerateOptions): GeneratedUsage {
  const random = seededRandom(options.seed);
  // 2026-08-03 is a Monday: day numbers count from 1970-01-01, a Thursday.
  const firstDay = options.firstDay ?? 20_668;
  const series: DailySeries[] = [];
  const injected: InjectedAnomaly[] = [];
  for (let customer = 0; customer < options.customers; customer += 1) {
    const id = `gen-${String(customer).padStart(5, '0')}`;
    const base = 100 * Math.pow(100, random());
    const kind = random();
    // A third steady (1 % noise), a third with an ordinary weekend dip, a third noisy with a trend.
    const noise = kind < 1 / 3 ? 0.01 : 0.05 + 0.1 * random();
    const weekend = kind < 2 / 3 && kind >= 1 / 3 ? 0.25 + 0.2 * random() : 1;
    const trendPerDay = kind >= 2 / 3 ? -0.003 + 0.013 * random() : 0;
    const levels: number[] = [];
    const values: number[] = [];
    for (let index = 0; index < options.days; index += 1) {
      const weekday = (firstDay + index + 4) % 7; // 0 Sunday … 6 Saturday
      const seasonal = weekday === 0 || weekday === 6 ? weekend : 1;
      const level = base * Math.pow(1 + trendPerDay, index) * seasonal;
      levels.push(level);
      values.push(Math.max(0, level * (1 + noise * normal(random))));
    }
    if (options.inject) {
      const spike = 36 + Math.floor(random() * 10);
      const drop = spike + 10 + Math.floor(random() * 6);
      const silence = drop + 10 + Math.floor(random() * 6);
      if (silence + 2 < options.days) {
        // Relative to the day's true level: 3-5 times it, or down to 10-25 % of it.
        values[spike] = (levels[spike] ?? 0) * (3 + 2 * random());
        values[drop] = (levels[drop] ?? 0) * (0.1 + 0.15 * random());
        for (let index = silence; index < silence + 3; index += 1) values[index] = 0;
        injected.push({ customer_id: id, dayIndex: spike, kind: 'spike' });
        injected.push({ customer_id: id, dayIndex: drop, kind: 'drop' });
        injected.push({ customer_id: id, dayIndex: silence, kind: 'silence' });
      }
    }
    series.push({
      customer_id: id,
      sku: 'api.calls',
      metric: 'usage',
      first_day: firstDay,
      values: values.map((value) => String(Math.round(value))),
    });
  }
  return { series, injected };
}

/**
 * The generated series as usage events, one JSON line per customer and day with usage (at noon UTC),
 * for the offline scan's tests and benchmark. The signature is a placeholder: a scan without `--keys`
 * does not check it.
 */
export function* generatedEventLines(
  series: readonly DailySeries[],
  as: { readonly sku: string; readonly unit: string } = { sku: 'api.calls', unit: 'calls' },
): Generator<string> {
  const signature = `v1=${'0'.repeat(64)}`;
  for (const one of series) {
    for (let index = 0; index < one.values.length; index += 1) {
      const quantity = one.values[index] ?? '0';
      if (quantity === '0') continue;
      const timestamp = new Date((one.first_day + index) * 86_400_000 + 43_200_000).toISOString();
      yield JSON.stringify({
        schema_version: 1,
        event_id: `${one.customer_id ?? 'all'}-${as.sku}-${index}`,
        source: 'generator',
        customer_id: one.customer_id ?? 'all',
        timestamp,
        unit: as.unit,
        quantity,
        metadata: { sku: as.sku },
        signature,
      });
    }
  }
}
