import { Decimal, describeMoney, formatDecimal, formatMoney } from '../money.ts';
import type { ExperimentArm } from './assignment.ts';
import { mean, TooFewObservationsError, welchInterval } from './welch-interval.ts';

/**
 * The monthly readout of a live pricing experiment (SPEC §10): the variant and control cohorts side by
 * side for one period, the variant's effect on revenue and margin per customer with its 95 % Welch
 * interval, and a recommendation by a written rule (docs/decisions/finops.md, "Pricing experiments").
 *
 * The effect is measured on per-customer changes: each customer's value in the readout period minus its
 * value in the baseline period (the last one before the experiment started), then mean(variant changes)
 * − mean(control changes). Customers differ in size by orders of magnitude; comparing each with itself
 * removes that spread, so a dozen customers per cohort can show a real effect. A customer without an
 * issued invoice in both periods is counted and left out of the effect.
 *
 * Rule, on the margin effect (what a price is for), in this order:
 * 1. fewer than MINIMUM_CUSTOMERS_PER_ARM measured customers in either cohort → extend;
 * 2. the interval lies wholly above zero → promote;
 * 3. it lies wholly below zero → kill;
 * 4. otherwise → extend (the data cannot tell yet).
 */

const MINIMUM_CUSTOMERS_PER_ARM = 3;

export interface CustomerOutcome {
  readonly customerId: string;
  readonly arm: ExperimentArm;
  /** The readout period's issued invoice, or undefined when there is none. */
  readonly current?: PeriodOutcome | undefined;
  /** The baseline period's issued invoice, or undefined. */
  readonly baseline?: PeriodOutcome | undefined;
}

export interface PeriodOutcome {
  /** Usage, fees, discounts, commit true-ups and adjustments (credits are a means of payment, not revenue). */
  readonly revenue: string;
  /** Revenue − COGS (costed usage only, as `tally margin`). */
  readonly margin: string;
  /** Quantity per SKU. */
  readonly usage: Readonly<Record<string, string>>;
  /** Usage spend (usage lines and discounts) over the commit, when the contract has one. */
  readonly commit?: { readonly amount: string; readonly consumed: string } | undefined;
}

export interface ArmSummary {
  readonly arm: ExperimentArm;
  readonly customers: number;
  /** Customers with an invoice in the readout period. */
  readonly invoiced: number;
  /** Customers with invoices in both periods (those the effect is measured on). */
  readonly measured: number;
  readonly revenue: string;
  readonly margin: string;
  readonly revenuePerCustomer: string | null;
  readonly marginPerCustomer: string | null;
  /** Mean quantity per invoiced customer, per SKU. */
  readonly usagePerCustomer: Readonly<Record<string, string>>;
  /** Mean commit utilization in percent over invoiced customers with a commit (null when none has one). */
  readonly commitUtilizationPct: string | null;
}

export interface Effect {
  readonly metric: 'revenue' | 'margin';
  /** mean(variant change) − mean(control change), per customer. */
  readonly effect: string;
  readonly lower: string;
  readonly upper: string;
  readonly standardError: string;
  readonly degreesOfFreedom: string | null;
}

export type Recommendation = 'promote' | 'extend' | 'kill';

export interface Readout {
  readonly currency: string;
  readonly arms: readonly [ArmSummary, ArmSummary];
  /** Null when a cohort has fewer than two measured customers (no interval can be drawn). */
  readonly effects: readonly Effect[];
  readonly recommendation: Recommendation;
  readonly reason: string;
}

export function computeReadout(currency: string, outcomes: readonly CustomerOutcome[]): Readout {
  const arms = [summarize('variant', currency, outcomes), summarize('control', currency, outcomes)] as const;
  const effects: Effect[] = [];
  for (const metric of ['revenue', 'margin'] as const) {
    const changes = (arm: ExperimentArm): Decimal[] =>
      outcomes
        .filter((outcome) => outcome.arm === arm && outcome.current !== undefined && outcome.baseline !== undefined)
        .map((outcome) => new Decimal(outcome.current![metric]).minus(outcome.baseline![metric]));
    try {
      const interval = welchInterval(changes('variant'), changes('control'));
      effects.push({
        metric,
        effect: formatMoney(interval.effect, currency),
        lower: formatMoney(interval.lower, currency),
        upper: formatMoney(interval.upper, currency),
        standardError: formatMoney(interval.standardError, currency),
        degreesOfFreedom:
          interval.degreesOfFreedom === null
            ? null
            : formatDecimal(interval.degreesOfFreedom.toDecimalPlaces(1, Decimal.ROUND_HALF_UP)),
      });
    } catch (error) {
      if (!(error instanceof TooFewObservationsError)) throw error;
    }
  }
  const { recommendation, reason } = recommend(
    arms,
    effects.find((effect) => effect.metric === 'margin'),
    currency,
  );
  return { currency, arms, effects, recommendation, reason };
}

export function recommend(
  arms: readonly ArmSummary[],
  marginEffect: Effect | undefined,
  currency: string,
): { recommendation: Recommendation; reason: string } {
  const fewest = Math.min(...arms.map((arm) => arm.measured));
  if (fewest < MINIMUM_CUSTOMERS_PER_ARM || marginEffect === undefined)
    return {
      recommendation: 'extend',
      reason: `too few customers measured (${arms.map((arm) => `${arm.arm} ${arm.measured}`).join(', ')}; at least ${MINIMUM_CUSTOMERS_PER_ARM} per cohort with invoices in both periods)`,
    };
  // The sentence names the currency on every figure (the CLI and the console print it).
  const money = (amount: string): string => describeMoney(amount, currency);
  const range = `margin effect per customer ${money(marginEffect.effect)}, 95 % interval [${money(marginEffect.lower)}, ${money(marginEffect.upper)}]`;
  if (new Decimal(marginEffect.lower).greaterThan(0))
    return { recommendation: 'promote', reason: `${range}: wholly above zero` };
  if (new Decimal(marginEffect.upper).lessThan(0))
    return { recommendation: 'kill', reason: `${range}: wholly below zero` };
  return { recommendation: 'extend', reason: `${range}: includes zero` };
}

function summarize(arm: ExperimentArm, currency: string, outcomes: readonly CustomerOutcome[]): ArmSummary {
  const members = outcomes.filter((outcome) => outcome.arm === arm);
  const invoiced = members.flatMap((outcome) => (outcome.current === undefined ? [] : [outcome.current]));
  const revenue = invoiced.reduce((sum, outcome) => sum.plus(outcome.revenue), new Decimal(0));
  const margin = invoiced.reduce((sum, outcome) => sum.plus(outcome.margin), new Decimal(0));
  const usage = new Map<string, Decimal>();
  for (const outcome of invoiced)
    for (const [sku, quantity] of Object.entries(outcome.usage))
      usage.set(sku, (usage.get(sku) ?? new Decimal(0)).plus(quantity));
  const utilizations = invoiced.flatMap((outcome) =>
    outcome.commit === undefined || new Decimal(outcome.commit.amount).isZero()
      ? []
      : [new Decimal(outcome.commit.consumed).dividedBy(outcome.commit.amount).times(100)],
  );
  return {
    arm,
    customers: members.length,
    invoiced: invoiced.length,
    measured: members.filter((outcome) => outcome.current !== undefined && outcome.baseline !== undefined).length,
    revenue: formatMoney(revenue, currency),
    margin: formatMoney(margin, currency),
    revenuePerCustomer: invoiced.length === 0 ? null : formatMoney(revenue.dividedBy(invoiced.length), currency),
    marginPerCustomer: invoiced.length === 0 ? null : formatMoney(margin.dividedBy(invoiced.length), currency),
    usagePerCustomer: Object.fromEntries(
      [...usage.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([sku, total]) => [
          sku,
          formatDecimal(total.dividedBy(invoiced.length).toDecimalPlaces(3, Decimal.ROUND_HALF_UP)),
        ]),
    ),
    commitUtilizationPct:
      utilizations.length === 0 ? null : formatDecimal(mean(utilizations).toDecimalPlaces(1, Decimal.ROUND_HALF_UP)),
  };
}
