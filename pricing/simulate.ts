import path from 'node:path';
import type pg from 'pg';
import { loadRateCardFolder } from '../config/config-files.ts';
import { loadCostVersions } from '../config/cost-files.ts';
import type { Invoice, IssuedInvoice } from '../contracts/invoice.ts';
import type { RateCardVersion } from '../contracts/ratecard.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { ConfigFileError } from '../contracts/yaml-config.ts';
import { isIssued, listInvoices } from '../db/queries/invoices.ts';
import { invoicedEventTable, loadSnapshot } from '../db/queries/period-snapshots.ts';
import { loadUsageAggregates } from '../db/queries/usage-aggregates.ts';
import { billingPeriod, nextPeriod } from '../domain/period.ts';
import { computeSimulationImpact, type ImpactRow, type SimulatedPeriod } from '../domain/pricing-experiments/index.ts';
import { ratePeriod, usageAggregationPlan } from '../domain/rating/index.ts';
import { toMarginInvoice } from '../finops/margin-report.ts';
import type { CustomerTerms, TermsSource } from '../terms/index.ts';

export interface SimulateOptions {
  /** The candidate card's folder (`<name>/<effective_from>.yaml` files, validated like a published card). */
  readonly ratecardDir: string;
  readonly from: string;
  readonly to: string;
  /** Only these customers (default: every customer billed on the card the candidate is named after). */
  readonly customerIds?: readonly string[];
  /** Only this cohort: a contract start month (`2026-01`), or an experiment's arm (`EXPERIMENT:variant`). */
  readonly cohort?: string;
  readonly costsDir: string;
}

export interface SimulationReport {
  readonly candidate: {
    readonly ratecard: string;
    readonly versions: readonly { readonly effective_from: string; readonly content_hash: string }[];
  };
  readonly from: string;
  readonly to: string;
  /** Customer-periods re-rated. */
  readonly customerPeriods: number;
  readonly rows: readonly ImpactRow[];
  /** Selected customer-periods not re-rated, and why. */
  readonly skipped: readonly { customer_id: string; period: string; reason: string }[];
  /** Usage the candidate card does not price (it would be reported, never billed at zero). */
  readonly unpriced: readonly { customer_id: string; period: string; sku: string; unit: string; event_count: number }[];
}

class SimulationInputError extends TallyError {
  constructor(message: string) {
    super('pricing_simulation_input', message, { permanent: true });
  }
}

/** Resolves `--cohort`: a contract start month, or an experiment's arm (resolved by the caller's lookup). */
export type CohortMembers = (cohort: string) => Promise<ReadonlySet<string> | undefined>;

/**
 * `tally pricing simulate` (SPEC §10): every issued customer-period of the range re-rated under a
 * candidate rate card with the close's engine (domain/rating ratePeriod) over the exact event set the
 * invoice billed (its recorded fingerprint tells raw from corrected events, late events excluded, as
 * reconciliation does), under the contract the period's snapshot recorded with only its rate card
 * swapped. Billed and candidate invoices are then costed as `tally margin` costs them. Nothing is
 * written. Adjustment lines (late usage of earlier periods) stay as billed on both sides; credits are
 * a means of payment and are not part of revenue, so none are drawn.
 */
export async function simulatePricing(
  deps: { readonly pool: pg.Pool; readonly terms: TermsSource; readonly cohortMembers?: CohortMembers },
  options: SimulateOptions,
): Promise<SimulationReport> {
  const candidate = await loadCandidateCard(options.ratecardDir);
  const costVersions = await loadCostVersions(options.costsDir);
  const periods = periodRange(options.from, options.to);
  const only = options.customerIds === undefined ? undefined : new Set(options.customerIds);
  const cohortMembers =
    options.cohort === undefined || deps.cohortMembers === undefined
      ? undefined
      : await deps.cohortMembers(options.cohort);
  const ratecard = candidate[0]!.ratecard;
  const simulated: SimulatedPeriod[] = [];
  const skipped: { customer_id: string; period: string; reason: string }[] = [];
  const unpriced: SimulationReport['unpriced'][number][] = [];
  for (const period of periods) {
    const records = (await listInvoices(deps.pool, { status: 'issued', period }, 1_000_000)).filter(isIssued);
    for (const record of records) {
      if (only !== undefined && !only.has(record.customerId)) continue;
      const invoice = record.document;
      const terms = await billedTerms(deps, record.snapshotId, invoice);
      const cohort = cohortOf(terms, invoice);
      if (options.cohort !== undefined && !(cohortMembers?.has(record.customerId) ?? cohort === options.cohort))
        continue;
      // Without a selection, the candidate replaces the card it is named after.
      if (only === undefined && options.cohort === undefined && terms.contract.ratecard !== ratecard) continue;
      if (terms.contract.currency !== candidate[0]!.currency) {
        skipped.push({
          customer_id: record.customerId,
          period,
          reason: `billed in ${terms.contract.currency}; the candidate card is in ${candidate[0]!.currency}`,
        });
        continue;
      }
      const rated = await rateUnderCandidate(deps.pool, invoice, terms, candidate);
      for (const entry of rated.unpriced)
        unpriced.push({
          customer_id: record.customerId,
          period,
          sku: entry.sku,
          unit: entry.unit,
          event_count: entry.event_count,
        });
      const adjustments = invoice.lines.filter((line) => line.kind === 'adjustment');
      simulated.push({
        customerId: record.customerId,
        cohort,
        billed: toMarginInvoice(invoice, priceDimensionsOf(terms.versions)),
        candidate: toMarginInvoice({ ...rated, lines: [...rated.lines, ...adjustments] }, priceDimensionsOf(candidate)),
      });
    }
  }
  if (simulated.length === 0 && only === undefined && options.cohort === undefined)
    throw new SimulationInputError(
      `no issued invoice of ${options.from}..${options.to} was billed on rate card ${ratecard}; name the customers to re-rate with --customers or --cohort`,
    );
  return {
    candidate: {
      ratecard,
      versions: candidate.map((version) => ({
        effective_from: version.effective_from,
        content_hash: version.content_hash,
      })),
    },
    from: options.from,
    to: options.to,
    customerPeriods: simulated.length,
    rows: computeSimulationImpact(simulated, costVersions),
    skipped,
    unpriced,
  };
}

/** The candidate card, validated whole as `tally ratecards publish` validates it (file, line, field on error). */
export async function loadCandidateCard(folder: string): Promise<RateCardVersion[]> {
  const loaded = await loadRateCardFolder(path.resolve(folder));
  if (loaded.problems.length > 0)
    throw new ConfigFileError(loaded.problems, `the candidate rate card ${loaded.ratecard} is invalid`);
  return loaded.versions;
}

/** Every period from `from` to `to`, inclusive (at most 36: a simulation is a few closed months). */
function periodRange(from: string, to: string): string[] {
  const periods: string[] = [];
  let period = billingPeriod(from);
  const last = billingPeriod(to);
  if (period.start > last.start) throw new SimulationInputError(`--from ${from} is after --to ${to}`);
  while (period.start <= last.start) {
    periods.push(period.name);
    if (periods.length > 36) throw new SimulationInputError(`${from}..${to} is more than 36 periods`);
    period = nextPeriod(period);
  }
  return periods;
}

/** A customer's cohort: its contract's start month, as the forecast groups customers. */
function cohortOf(terms: CustomerTerms, invoice: IssuedInvoice): string {
  return (terms.contract.starts_at ?? invoice.period_start).slice(0, 7);
}

/** The terms the invoice was billed under (its snapshot's contract and the invoice's rate-card versions). */
export async function billedTerms(
  deps: { readonly pool: pg.Pool; readonly terms: TermsSource },
  snapshotId: string,
  invoice: IssuedInvoice,
): Promise<CustomerTerms> {
  const snapshot = await loadSnapshot(deps.pool, snapshotId);
  return snapshot?.contractHash !== undefined
    ? deps.terms.recorded(invoice.customer_id, {
        contractHash: snapshot.contractHash,
        ratecardVersions: invoice.ratecard_versions,
      })
    : deps.terms.current(invoice.customer_id);
}

async function rateUnderCandidate(
  pool: pg.Pool,
  invoice: IssuedInvoice,
  terms: CustomerTerms,
  candidate: readonly RateCardVersion[],
): Promise<Invoice> {
  const period = billingPeriod(invoice.period);
  const aggregates = await loadUsageAggregates(pool, usageAggregationPlan(candidate, period), {
    customerId: invoice.customer_id,
    lateEvents: 'exclude',
    table: await invoicedEventTable(pool, invoice),
  });
  return ratePeriod({
    customerId: invoice.customer_id,
    period,
    contract: { ...terms.contract, ratecard: candidate[0]!.ratecard },
    versions: candidate,
    aggregates,
    counters: invoice.events,
    credits: [],
    calculationVersion: invoice.calculation_version,
  });
}

export function priceDimensionsOf(
  versions: readonly RateCardVersion[],
): Map<string, Map<string, Readonly<Record<string, string>>>> {
  const cards = new Map<string, Map<string, Readonly<Record<string, string>>>>();
  for (const version of versions) {
    const prices = cards.get(version.ratecard) ?? new Map<string, Readonly<Record<string, string>>>();
    for (const price of version.prices) prices.set(price.id, price.dimensions);
    cards.set(version.ratecard, prices);
  }
  return cards;
}
