import type { Contract } from '../contracts/contract.ts';
import type { Invoice } from '../contracts/invoice.ts';
import type { RateCardVersion } from '../contracts/ratecard.ts';
import type { SourceKeys } from '../contracts/source-keys.ts';
import { billingPeriod, type BillingPeriod } from '../domain/period.ts';
import {
  creditBalancesFromContract,
  ratePeriod,
  CALCULATION_VERSION,
  UsageAggregator,
  type EventCounters,
  type UsageAggregate,
} from '../domain/rating/index.ts';
import {
  BOUNDARY_WINDOW_MINUTES,
  boundaryUsageFromEvents,
  type BoundaryUsage,
  type EdgeEvent,
} from '../domain/shadow/index.ts';
import { loadContractFile, loadRateCard } from '../config/config-files.ts';
import { EventFileError, loadSourceKeys, scanEventFile } from './event-file.ts';

export interface AggregatedEventFile {
  /** One result per version set, in the order given. */
  readonly results: { aggregates: UsageAggregate[]; counters: EventCounters }[];
  /** Valid events of other customers in the file (skipped). */
  readonly otherCustomers: number;
  /**
   * The customer's events (duplicates aside) within a time zone's reach of the period's edges, when
   * asked for (`edgeEvents: true`); empty otherwise.
   */
  readonly edgeEvents: EdgeEvent[];
}

export interface AggregateFileOptions {
  /** Verify each event's signature with its source's key. */
  readonly keys?: SourceKeys | undefined;
  /**
   * Keep the events near the period's edges (the shadow comparison's period_boundary cause). Off for
   * plain rating: a million-event month near its edges holds tens of thousands of them.
   */
  readonly edgeEvents?: boolean;
}

/**
 * Rule 1 over an event file for one customer and period, in one streaming pass, aggregated once
 * per version set (several when previewing a rate-card change). Refuses the whole file, listing
 * every bad line, when any line is bad: an invoice over part of the events would mislead.
 */
export async function aggregateEventFile(
  file: string,
  contract: Contract,
  period: BillingPeriod,
  versionSets: readonly (readonly RateCardVersion[])[],
  options: AggregateFileOptions = {},
): Promise<AggregatedEventFile> {
  const { keys } = options;
  const keepEdgeEvents = options.edgeEvents === true;
  const aggregators = versionSets.map((versions) => new UsageAggregator(versions, period));
  let read = 0;
  let duplicates = 0;
  let outsidePeriod = 0;
  let otherCustomers = 0;
  const edgeEvents: EdgeEvent[] = [];
  const edges = [Date.parse(period.start), Date.parse(period.end)];
  const windowMs = BOUNDARY_WINDOW_MINUTES * 60_000;
  // Most events are days from an edge: their text says so without parsing it (see daysAroundEdges).
  const [startFrom, startTo] = daysAroundEdges(edges[0] as number, windowMs);
  const [endFrom, endTo] = daysAroundEdges(edges[1] as number, windowMs);
  const scan = await scanEventFile(file, {
    ...(keys !== undefined ? { keys } : {}),
    onEvent: (event, _line, duplicate) => {
      if (event.customer_id !== contract.customer_id) {
        otherCustomers += 1;
        return;
      }
      read += 1;
      if (duplicate) {
        duplicates += 1;
        return;
      }
      const timestamp = event.timestamp;
      // Two bands, compared as text without an iterator per event.
      if (
        keepEdgeEvents &&
        ((timestamp >= startFrom && timestamp < startTo) || (timestamp >= endFrom && timestamp < endTo))
      ) {
        const atMs = Date.parse(timestamp);
        if (edges.some((edgeMs) => Math.abs(atMs - edgeMs) < windowMs))
          edgeEvents.push({ ...event, sku: event.metadata.sku ?? '' });
      }
      let inPeriod = false;
      for (const aggregator of aggregators) inPeriod = aggregator.add(event);
      if (!inPeriod) outsidePeriod += 1;
    },
  });
  if (scan.problemCount > 0) throw new EventFileError(file, scan.problems, scan.badLines, scan.problemCount);
  const counters: EventCounters = { read, duplicates, outside_period: outsidePeriod };
  return {
    results: aggregators.map((aggregator) => ({ aggregates: aggregator.aggregates(), counters })),
    otherCustomers,
    edgeEvents,
  };
}

/**
 * The `YYYY-MM-DD` dates between which an RFC 3339 timestamp's text must start for the instant to be
 * within `windowMs` of `edgeMs`: its local date is at most a day (the largest offset, ±23:59) from
 * its UTC date, so the band is the window widened by two days on each side. Text outside it is
 * compared as text, without parsing; inside, the instant decides.
 */
function daysAroundEdges(edgeMs: number, windowMs: number): [string, string] {
  const dayMs = 86_400_000;
  return [
    new Date(edgeMs - windowMs - 2 * dayMs).toISOString().slice(0, 10),
    new Date(edgeMs + windowMs + 2 * dayMs).toISOString().slice(0, 10),
  ];
}

export interface OfflineRatingOptions {
  readonly ratecardsDir: string;
  readonly contractFile: string;
  readonly eventsFile: string;
  readonly period: string;
  readonly keysFile?: string;
  /** Also measure the usage near the period's edges (`boundaryUsage`), for a shadow comparison. */
  readonly boundaryUsage?: boolean;
}

export interface OfflineRating {
  readonly invoice: Invoice;
  readonly otherCustomers: number;
  /**
   * Tally's usage near the period's edges per line key (for the shadow comparison's period_boundary
   * cause); present when asked for (`boundaryUsage: true`).
   */
  readonly boundaryUsage?: BoundaryUsage[];
}

/** `tally rate`: the contract's rate card, its events in the file, the same engine as the workflows. */
export async function rateOffline(options: OfflineRatingOptions): Promise<OfflineRating> {
  const period = billingPeriod(options.period);
  const contract = await loadContractFile(options.contractFile);
  const versions = await loadRateCard(options.ratecardsDir, contract.ratecard);
  const keys = options.keysFile === undefined ? undefined : await loadSourceKeys(options.keysFile);
  const aggregated = await aggregateEventFile(options.eventsFile, contract, period, [versions], {
    keys,
    edgeEvents: options.boundaryUsage === true,
  });
  const [result] = aggregated.results;
  if (result === undefined) throw new Error('no aggregation result');
  const invoice = ratePeriod({
    customerId: contract.customer_id,
    period,
    contract,
    versions,
    aggregates: result.aggregates,
    counters: result.counters,
    credits: creditBalancesFromContract(contract),
    calculationVersion: CALCULATION_VERSION,
  });
  return {
    invoice,
    otherCustomers: aggregated.otherCustomers,
    ...(options.boundaryUsage === true
      ? { boundaryUsage: boundaryUsageFromEvents(aggregated.edgeEvents, versions, period) }
      : {}),
  };
}
