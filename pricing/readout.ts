import type pg from 'pg';
import { loadCostVersions } from '../config/cost-files.ts';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import type { PricingExperiment } from '../contracts/pricing-experiment.ts';
import { isIssued, listInvoices } from '../db/queries/invoices.ts';
import { experimentAssignments, findPricingExperiment } from '../db/queries/pricing-experiments.ts';
import { computeMargins } from '../domain/costs/margin.ts';
import { Decimal, formatDecimal, formatMoney } from '../domain/money.ts';
import { billingPeriod, previousPeriod } from '../domain/period.ts';
import {
  computeReadout,
  type CustomerOutcome,
  type PeriodOutcome,
  type Readout,
} from '../domain/pricing-experiments/index.ts';
import type { CostVersion } from '../contracts/costs.ts';
import { toMarginInvoice } from '../finops/margin-report.ts';
import type { TermsSource } from '../terms/index.ts';
import { PricingExperimentError } from './experiments.ts';
import { billedTerms, priceDimensionsOf } from './simulate.ts';

export interface ReadoutReport extends Readout {
  readonly experiment: PricingExperiment;
  readonly period: string;
  /** The last period before the experiment started: each customer's change is measured against it. */
  readonly baselinePeriod: string;
  readonly customers: readonly CustomerOutcome[];
}

/**
 * `tally pricing readout EXPERIMENT --period P` (SPEC §10): both cohorts' issued invoices of P and of
 * the period before the start, costed as `tally margin` costs them, through the pure readout
 * (domain/pricing-experiments readout.ts: the effect, its Welch interval and the recommendation).
 */
export async function pricingReadout(
  deps: { readonly pool: pg.Pool; readonly terms: TermsSource },
  options: { readonly experimentId: string; readonly period: string; readonly costsDir: string },
): Promise<ReadoutReport> {
  const experiment = await findPricingExperiment(deps.pool, options.experimentId);
  if (experiment === undefined)
    throw new PricingExperimentError('unknown_experiment', `no pricing experiment ${options.experimentId}`);
  const period = billingPeriod(options.period);
  const start = billingPeriod(experiment.start_period);
  if (period.start < start.start)
    throw new PricingExperimentError(
      'readout_before_start',
      `${period.name} is before experiment ${experiment.experiment_id} started (${start.name})`,
    );
  const baseline = previousPeriod(start);
  const costVersions = await loadCostVersions(options.costsDir);
  const assignments = await experimentAssignments(deps.pool, experiment.experiment_id);
  const current = await outcomesOf(deps, period.name, costVersions);
  const before = await outcomesOf(deps, baseline.name, costVersions);
  const customers: CustomerOutcome[] = assignments.map((assignment) => ({
    customerId: assignment.customer_id,
    arm: assignment.arm,
    current: current.get(assignment.customer_id),
    baseline: before.get(assignment.customer_id),
  }));
  return {
    experiment,
    period: period.name,
    baselinePeriod: baseline.name,
    customers,
    ...computeReadout(experiment.currency, customers),
  };
}

async function outcomesOf(
  deps: { readonly pool: pg.Pool; readonly terms: TermsSource },
  period: string,
  costVersions: readonly CostVersion[],
): Promise<Map<string, PeriodOutcome>> {
  const outcomes = new Map<string, PeriodOutcome>();
  const records = (await listInvoices(deps.pool, { status: 'issued', period }, 1_000_000)).filter(isIssued);
  for (const record of records) {
    const terms = await billedTerms(deps, record.snapshotId, record.document);
    outcomes.set(
      record.customerId,
      periodOutcome(record.document, terms.versions, terms.contract.commit, costVersions),
    );
  }
  return outcomes;
}

function periodOutcome(
  invoice: IssuedInvoice,
  versions: Parameters<typeof priceDimensionsOf>[0],
  commit: { readonly amount: string } | undefined,
  costVersions: readonly CostVersion[],
): PeriodOutcome {
  const rows = computeMargins([toMarginInvoice(invoice, priceDimensionsOf(versions))], costVersions);
  const total = rows.find((row) => row.by === 'customer');
  const usage = new Map<string, Decimal>();
  let spend = new Decimal(0);
  for (const line of invoice.lines) {
    if (line.kind === 'usage') {
      usage.set(line.sku, (usage.get(line.sku) ?? new Decimal(0)).plus(line.quantity));
      spend = spend.plus(line.amount);
    } else if (line.kind === 'discount') spend = spend.plus(line.amount);
  }
  return {
    revenue: total?.revenue ?? formatMoney(new Decimal(0), invoice.currency),
    margin: total?.margin ?? formatMoney(new Decimal(0), invoice.currency),
    usage: Object.fromEntries([...usage.entries()].map(([sku, quantity]) => [sku, formatDecimal(quantity)])),
    commit:
      commit === undefined ? undefined : { amount: commit.amount, consumed: formatMoney(spend, invoice.currency) },
  };
}
