import type pg from 'pg';
import type { ProductSignals } from '../contracts/product-signals.ts';
import { productSignalDays, quotaHits } from '../db/queries/signals.ts';
import { periodOf } from '../domain/period.ts';
import { earlyWarningSignals, signalWindow, type AccountSignals } from '../domain/signals/early-warning.ts';
import { commitReport } from './commit-report.ts';

/**
 * `tally signals`: each account's early-warning signals as of `asOf` (an instant; product signals are
 * read over the 28 whole UTC days before its day): commit burn from `tally commits`, quota hits from the
 * usage-alert loop's thresholds of the period, product signals from the stored usage events of the
 * designated SKUs. Accounts without a signal are left out.
 */
export async function signalReport(
  pool: pg.Pool,
  options: { asOf: string; signals: ProductSignals; customerId?: string },
): Promise<AccountSignals[]> {
  const asOfDay = options.asOf.slice(0, 10);
  const period = periodOf(options.asOf).name;
  const skus = options.signals.signals.map((signal) => signal.sku);
  const [burndowns, hits, days] = await Promise.all([
    commitReport(pool, {
      asOf: options.asOf,
      ...(options.customerId === undefined ? {} : { customerId: options.customerId }),
    }),
    quotaHits(pool, period),
    productSignalDays(pool, signalWindow(asOfDay), skus, options.customerId),
  ]);
  return earlyWarningSignals({
    as_of_day: asOfDay,
    period,
    burndowns,
    quota_hits: hits
      .filter((hit) => options.customerId === undefined || hit.customerId === options.customerId)
      .map((hit) => ({
        customer_id: hit.customerId,
        period: hit.period,
        basis: hit.basis,
        threshold_pct: hit.thresholdPct,
      })),
    product_signals: options.signals.signals,
    product_days: days.map((day) => ({
      customer_id: day.customerId,
      sku: day.sku,
      unit: day.unit,
      day: day.day,
      value: day.value,
    })),
  });
}
