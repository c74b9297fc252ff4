import type { CostVersion } from '../../contracts/costs.ts';
import { computeMargins, type MarginInvoice, type MarginRow } from '../costs/margin.ts';
import { Decimal, formatMoney } from '../money.ts';

/**
 * `tally pricing simulate`'s impact (SPEC §10): each closed customer-period as billed and as the
 * candidate card would have billed it, compared by customer, SKU, cohort and in total, per currency.
 * Revenue and margin are computed exactly as `tally margin` computes them (domain/costs computeMargins,
 * the unit costs in force at each period's start), once for each side; the impact is the difference.
 *
 * Example: one customer billed 10.00 USD for llm.tokens with COGS 1.68; under a card 10 % cheaper the
 * line is 9.00: revenue change −1.00 (−10.0 %), margin 8.32 → 7.32, change −1.00.
 */

export interface SimulatedPeriod {
  readonly customerId: string;
  /** The customer's cohort (its contract's start month, as the forecast groups customers). */
  readonly cohort: string;
  readonly billed: MarginInvoice;
  readonly candidate: MarginInvoice;
}

type ImpactDimension = 'customer' | 'sku' | 'cohort' | 'total';

export interface ImpactRow {
  readonly by: ImpactDimension;
  readonly key: string;
  readonly currency: string;
  readonly billedRevenue: string;
  readonly candidateRevenue: string;
  readonly revenueChange: string;
  /** Change over billed revenue × 100, one decimal half-up; null when billed revenue is zero. */
  readonly revenueChangePct: string | null;
  readonly billedMargin: string;
  readonly candidateMargin: string;
  readonly marginChange: string;
}

/** Every period of the range is one group: the impact is over the whole range. */
const RANGE = 'range';

export function computeSimulationImpact(
  periods: readonly SimulatedPeriod[],
  costVersions: readonly CostVersion[],
): ImpactRow[] {
  const side = (pick: (period: SimulatedPeriod) => MarginInvoice, byCohort: boolean): MarginRow[] =>
    computeMargins(
      periods.map((period) => ({
        ...pick(period),
        customer_id: byCohort ? period.cohort : period.customerId,
        period: RANGE,
      })),
      costVersions,
    );
  const rows: ImpactRow[] = [];
  for (const byCohort of [false, true]) {
    const billed = side((period) => period.billed, byCohort);
    const candidate = side((period) => period.candidate, byCohort);
    const candidateByKey = new Map(candidate.map((row) => [rowKey(row), row]));
    const billedByKey = new Map(billed.map((row) => [rowKey(row), row]));
    const keys = [...new Set([...billedByKey.keys(), ...candidateByKey.keys()])];
    for (const key of keys) {
      const before = billedByKey.get(key);
      const after = candidateByKey.get(key);
      const any = (before ?? after)!;
      const by: ImpactDimension | undefined =
        any.by === 'customer' ? (byCohort ? 'cohort' : 'customer') : byCohort ? undefined : toImpact(any.by);
      if (by === undefined) continue;
      rows.push(impactRow(by, any.key, any.currency, before, after));
    }
  }
  const order: Record<ImpactDimension, number> = { customer: 0, sku: 1, cohort: 2, total: 3 };
  return rows.sort(
    (a, b) => order[a.by] - order[b.by] || compareText(a.currency, b.currency) || compareText(a.key, b.key),
  );
}

function toImpact(by: MarginRow['by']): ImpactDimension | undefined {
  switch (by) {
    case 'sku':
      return 'sku';
    case 'total':
      return 'total';
    case 'product':
    case 'customer':
      return undefined;
  }
}

function impactRow(
  by: ImpactDimension,
  key: string,
  currency: string,
  billed: MarginRow | undefined,
  candidate: MarginRow | undefined,
): ImpactRow {
  const billedRevenue = new Decimal(billed?.revenue ?? 0);
  const candidateRevenue = new Decimal(candidate?.revenue ?? 0);
  const billedMargin = new Decimal(billed?.margin ?? 0);
  const candidateMargin = new Decimal(candidate?.margin ?? 0);
  const revenueChange = candidateRevenue.minus(billedRevenue);
  return {
    by,
    key,
    currency,
    billedRevenue: formatMoney(billedRevenue, currency),
    candidateRevenue: formatMoney(candidateRevenue, currency),
    revenueChange: formatMoney(revenueChange, currency),
    revenueChangePct: billedRevenue.isZero() ? null : formatPercent(revenueChange.dividedBy(billedRevenue).times(100)),
    billedMargin: formatMoney(billedMargin, currency),
    candidateMargin: formatMoney(candidateMargin, currency),
    marginChange: formatMoney(candidateMargin.minus(billedMargin), currency),
  };
}

function rowKey(row: MarginRow): string {
  return JSON.stringify([row.by, row.key, row.currency]);
}

function formatPercent(value: Decimal): string {
  const rounded = value.toDecimalPlaces(1, Decimal.ROUND_HALF_UP);
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed of an already-rounded decimal; no float involved
  return (rounded.isZero() ? new Decimal(0) : rounded).toFixed(1);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
