import type { CostVersion } from '../../contracts/costs.ts';
import { Decimal, formatDecimal } from '../money.ts';
import { costVersionAt, unitCostFor } from '../costs/unit-costs.ts';
import { dayNumberOfInstant } from './utc-days.ts';

/** What the detector reads of one usage event. */
export interface DailyUsageInput {
  readonly customer_id: string;
  readonly timestamp: string;
  readonly unit: string;
  readonly quantity: string;
  /** Holds `sku` and the dimensions unit costs are matched on. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** One series the detector scores: a customer's daily usage of a SKU, or a SKU's daily COGS (customer null). */
export interface DailySeries {
  readonly customer_id: string | null;
  readonly sku: string;
  readonly metric: 'usage' | 'cogs';
  /** Day number of `values[0]`. */
  readonly first_day: number;
  /** Exact daily totals, decimal strings; a day without events is "0". */
  readonly values: readonly string[];
}

interface Accumulator {
  readonly customer_id: string | null;
  readonly sku: string;
  readonly metric: 'usage' | 'cogs';
  readonly byDay: Map<number, Decimal>;
}

/**
 * Sums usage events into exact daily totals (decimal.js, so the result does not depend on the order
 * events are added in) per customer × SKU, and, given unit costs, COGS per SKU and day: each event's
 * quantity × the unit cost in force at its timestamp for `currency` (an event whose SKU has no cost
 * there adds nothing and is counted in `uncostedEvents`).
 */
export class DailyUsageAggregator {
  private readonly series = new Map<string, Accumulator>();
  private firstDay: number | undefined;
  private lastDay: number | undefined;
  uncostedEvents = 0;

  constructor(private readonly costs?: { readonly versions: readonly CostVersion[]; readonly currency: string }) {}

  add(event: DailyUsageInput): void {
    const sku = event.metadata.sku;
    if (sku === undefined) return;
    const day = dayNumberOfInstant(event.timestamp);
    if (this.firstDay === undefined || day < this.firstDay) this.firstDay = day;
    if (this.lastDay === undefined || day > this.lastDay) this.lastDay = day;
    const quantity = new Decimal(event.quantity);
    this.addTo(event.customer_id, sku, 'usage', day, quantity);
    if (this.costs === undefined) return;
    const version = costVersionAt(this.costs.versions, new Date(event.timestamp).toISOString());
    const entry =
      version === undefined
        ? undefined
        : unitCostFor(version, { sku, unit: event.unit, currency: this.costs.currency, dimensions: event.metadata });
    if (entry === undefined) {
      this.uncostedEvents += 1;
      return;
    }
    this.addTo(null, sku, 'cogs', day, quantity.times(entry.unit_cost));
  }

  /** The file's first and last day (day numbers), undefined when nothing was added. */
  dayRange(): { first: number; last: number } | undefined {
    if (this.firstDay === undefined || this.lastDay === undefined) return undefined;
    return { first: this.firstDay, last: this.lastDay };
  }

  /** Every series from `firstDay` to `lastDay`, zero-filled, sorted by metric, customer and SKU. */
  toSeries(firstDay: number, lastDay: number): DailySeries[] {
    const result: DailySeries[] = [];
    for (const accumulator of this.series.values()) {
      const values: string[] = [];
      for (let day = firstDay; day <= lastDay; day += 1) {
        const total = accumulator.byDay.get(day);
        values.push(total === undefined ? '0' : formatDecimal(total));
      }
      result.push({
        customer_id: accumulator.customer_id,
        sku: accumulator.sku,
        metric: accumulator.metric,
        first_day: firstDay,
        values,
      });
    }
    return result.sort(compareSeries);
  }

  private addTo(customerId: string | null, sku: string, metric: 'usage' | 'cogs', day: number, amount: Decimal): void {
    const key = `${metric}\u0000${customerId ?? ''}\u0000${sku}`;
    let accumulator = this.series.get(key);
    if (accumulator === undefined) {
      accumulator = { customer_id: customerId, sku, metric, byDay: new Map() };
      this.series.set(key, accumulator);
    }
    accumulator.byDay.set(day, (accumulator.byDay.get(day) ?? new Decimal(0)).plus(amount));
  }
}

function compareSeries(a: DailySeries, b: DailySeries): number {
  const keyA = `${a.metric}\u0000${a.customer_id ?? ''}\u0000${a.sku}`;
  const keyB = `${b.metric}\u0000${b.customer_id ?? ''}\u0000${b.sku}`;
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}
