import { previousPeriod } from '../domain/period.ts';
import { recognitionDay } from '../domain/revenue/index.ts';
import { reconcileAndRecord } from './reconcile.ts';
import {
  recognitionCustomers,
  recognizeCustomerDay,
  type DayRecognitionOutcome,
  type RevenueDependencies,
} from './recognize-day.ts';

/**
 * The daily recognition workflow's steps. Each is idempotent: a day is recorded per customer in the
 * transaction that posts its entry, so a retry or a rerun of the day posts nothing new.
 */
export function createRevenueActivities(deps: RevenueDependencies & { readonly now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  return {
    /** Step 1: the customers whose published contract covers the day's period. */
    async listRecognitionCustomers(input: { day: string }): Promise<{ customerIds: string[]; problems: string[] }> {
      return recognitionCustomers(deps.pool, input);
    },
    /**
     * Step 3: the daily reconciliation check of the day's period and the one before (whose invoices
     * are issued in the first days of the month); differences become `reconciliation` exceptions, once.
     */
    async reconcileRecentPeriods(input: { day: string }): Promise<{ period: string; differences: number }[]> {
      const current = recognitionDay(input.day).billingPeriod;
      const results: { period: string; differences: number }[] = [];
      for (const period of [previousPeriod(current).name, current.name]) {
        const reconciliation = await reconcileAndRecord(deps, { period });
        results.push({ period, differences: reconciliation.differences.length });
      }
      return results;
    },
    /** Step 2: one customer's day (domain/revenue), posted once. */
    async recognizeCustomerDay(input: { customerId: string; day: string }): Promise<DayRecognitionOutcome> {
      return recognizeCustomerDay(deps, { ...input, now: now().toISOString() });
    },
  };
}

export type RevenueActivities = ReturnType<typeof createRevenueActivities>;
