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
    /** Step 2: one customer's day (domain/revenue), posted once. */
    async recognizeCustomerDay(input: { customerId: string; day: string }): Promise<DayRecognitionOutcome> {
      return recognizeCustomerDay(deps, { ...input, now: now().toISOString() });
    },
  };
}

export type RevenueActivities = ReturnType<typeof createRevenueActivities>;
