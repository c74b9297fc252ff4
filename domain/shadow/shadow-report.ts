import type { CustomerComparison } from './compare.ts';

export interface ShadowSummary {
  readonly match: number;
  readonly diff: number;
  readonly only_legacy: number;
  readonly only_new: number;
  readonly exceptions: number;
}

/** The JSON of `tally shadow compare --json` and `tally shadow report --json` (SPEC §6). */
export interface ShadowReport {
  readonly period: string;
  /** The customers' currency; `MIXED` when they bill in more than one (see docs/decisions/shadow.md). */
  readonly currency: string;
  readonly customers: readonly CustomerComparison[];
  readonly summary: ShadowSummary;
}

export function summarizeComparisons(customers: readonly CustomerComparison[]): ShadowSummary {
  const count = (status: CustomerComparison['status']) =>
    customers.filter((customer) => customer.status === status).length;
  return {
    match: count('match'),
    diff: count('diff'),
    only_legacy: count('only_legacy'),
    only_new: count('only_new'),
    exceptions: customers.filter((customer) => customer.exception).length,
  };
}

/** Customers in id order, the summary counted from them. */
export function shadowReport(period: string, customers: readonly CustomerComparison[]): ShadowReport {
  const sorted = [...customers].sort((a, b) =>
    a.customer_id < b.customer_id ? -1 : a.customer_id > b.customer_id ? 1 : 0,
  );
  const currencies = new Set(sorted.map((customer) => customer.currency));
  return {
    period,
    currency: currencies.size === 1 ? ([...currencies][0] as string) : currencies.size === 0 ? '' : 'MIXED',
    customers: sorted,
    summary: summarizeComparisons(sorted),
  };
}
