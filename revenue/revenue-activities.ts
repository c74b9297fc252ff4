import { previousPeriod } from '../domain/period.ts';
import { recognitionDay } from '../domain/revenue/index.ts';
import { accrueDuePeriods, type AccrualOutcome } from './month-end-accrual.ts';
import { reconcileAndRecord } from './reconcile.ts';
import {
  recognitionCustomerPage,
  recognitionCustomers,
  recognizeCustomerDay,
  type DayRecognitionOutcome,
  type RevenueDependencies,
} from './recognize-day.ts';

/**
 * The daily recognition workflow's steps. Each is idempotent: a day is recorded per customer in the
 * transaction that posts its entry, so a retry or a rerun of the day posts nothing new.
 */
export function createRevenueActivities(
  deps: RevenueDependencies & {
    readonly now?: () => Date;
    /** How long after month end usage still counts in the accrual (later: a true-up); default 24 h. */
    readonly accrualLatencyMs?: number;
  },
) {
  const now = deps.now ?? (() => new Date());
  return {
    /** Step 1: the customers whose published contract covers the day's period. */
    async listRecognitionCustomers(input: { day: string }): Promise<{ customerIds: string[]; problems: string[] }> {
      return recognitionCustomers(deps.pool, input);
    },
    /** Step 1, a page at a time: the day's customers after `after` (in id order), and where the next page starts. */
    async listRecognitionCustomerPage(input: {
      day: string;
      after: string | null;
      limit: number;
    }): Promise<{ customerIds: string[]; problems: string[]; next: string | null }> {
      return recognitionCustomerPage(deps.pool, input);
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
    /**
     * Step 2: one customer's day (domain/revenue), posted once; then the month-end accrual the day
     * owes (the period before, once its latency window has passed) or its true-up.
     */
    async recognizeCustomerDay(input: {
      customerId: string;
      day: string;
    }): Promise<DayRecognitionOutcome & { readonly accruals?: readonly AccrualOutcome[] }> {
      const outcome = await recognizeCustomerDay(deps, { ...input, now: now().toISOString() });
      const accruals = await accrueDuePeriods(deps, {
        ...input,
        ...(deps.accrualLatencyMs === undefined ? {} : { latencyWindowMs: deps.accrualLatencyMs }),
      });
      return { ...outcome, accruals };
    },
  };
}

export type RevenueActivities = ReturnType<typeof createRevenueActivities>;
