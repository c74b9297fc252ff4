import type pg from 'pg';
import {
  listOverReports,
  listPeriodBuckets,
  loadAccountedUsage,
  loadHourlyUsage,
  loadLateCrossings,
  type StoredBucket,
} from '../db/queries/marketplace.ts';
import {
  hourlyDimensionUsage,
  isSent,
  listingDimensions,
  marketplaceRecord,
  periodParity,
  type ParityLine,
  type SealedBucket,
} from '../domain/marketplace/index.ts';
import { Decimal, formatDecimal } from '../domain/money.ts';
import { billingPeriod } from '../domain/period.ts';
import { usageAggregationPlan } from '../domain/rating/index.ts';
import type { CustomerTerms } from '../terms/index.ts';
import { sealCustomerHours, type SealingSettings } from './marketplace-sealing.ts';

/**
 * What `tally marketplace export` and `status` show: the period's records as sent (or as they would
 * be sent: hours not sealed yet are previewed by a sealing pass that is rolled back), each with where
 * it stands, and the parity of what was sent against the rated usage.
 */

type RecordStatus =
  'accepted' | 'duplicate' | 'rejected' | 'expired' | 'unknown' | 'in_doubt' | 'pending' | 'omitted' | 'preview';

export interface ReportDependencies {
  readonly pool: pg.Pool;
  readonly listMarketplaceCustomers: () => Promise<{ customerIds: string[]; problems: string[] }>;
  readonly loadTerms: (customerId: string) => Promise<CustomerTerms>;
  readonly settings: SealingSettings;
}

export interface ExportRow {
  readonly customerId: string;
  readonly marketplace: string;
  readonly dimension: string;
  readonly hour: string;
  readonly part: string;
  readonly bucketId: string;
  readonly recordKey: string;
  readonly unitSize: string;
  readonly hourQuantity: string;
  readonly lateQuantity: string;
  readonly carryIn: string;
  readonly carryOut: string;
  readonly sentQuantity: string;
  readonly status: RecordStatus;
  readonly reason: string | null;
  readonly attempts: number;
  /** The record in the marketplace's own shape. */
  readonly record: unknown;
}

function recordStatus(bucket: StoredBucket): RecordStatus {
  if (bucket.outcome !== null) return bucket.outcome;
  if (!isSent(bucket)) return 'omitted';
  return bucket.attempts > 0 && bucket.lastAnswer === null ? 'in_doubt' : 'pending';
}

/** Whether a settled record lost revenue: refused, expired, unknown, or the marketplace holds another quantity. */
function failed(bucket: StoredBucket): boolean {
  if (bucket.outcome === 'rejected' || bucket.outcome === 'expired' || bucket.outcome === 'unknown') return true;
  return (
    bucket.outcome === 'duplicate' &&
    (bucket.acceptedQuantity === null || !new Decimal(bucket.acceptedQuantity).equals(bucket.sentQuantity))
  );
}

function toRow(bucket: SealedBucket, status: RecordStatus, reason: string | null, attempts: number): ExportRow {
  return {
    customerId: bucket.customerId,
    marketplace: bucket.marketplace,
    dimension: bucket.dimension,
    hour: bucket.hour,
    part: bucket.part,
    bucketId: bucket.bucketId,
    recordKey: bucket.recordKey,
    unitSize: bucket.unitSize,
    hourQuantity: bucket.hourQuantity,
    lateQuantity: bucket.lateQuantity,
    carryIn: bucket.carryIn,
    carryOut: bucket.carryOut,
    sentQuantity: bucket.sentQuantity,
    status,
    reason,
    attempts,
    record: isSent(bucket) ? marketplaceRecord(bucket).record : null,
  };
}

/** The period's records: stored ones with their status, then the hours not sealed yet, previewed. */
export async function marketplaceExport(
  deps: ReportDependencies,
  options: { period: string; customerId?: string; asOf: string },
): Promise<ExportRow[]> {
  const stored = await listPeriodBuckets(deps.pool, {
    period: options.period,
    ...(options.customerId === undefined ? {} : { customerId: options.customerId }),
  });
  const rows = stored.map((bucket) => toRow(bucket, recordStatus(bucket), bucket.outcomeReason, bucket.attempts));
  const { customerIds } = await deps.listMarketplaceCustomers();
  for (const customerId of customerIds) {
    if (options.customerId !== undefined && customerId !== options.customerId) continue;
    const preview = await sealCustomerHours(deps.pool, await deps.loadTerms(customerId), deps.settings, options.asOf, {
      dryRun: true,
    });
    for (const bucket of preview.buckets ?? [])
      if (bucket.hour.startsWith(options.period)) rows.push(toRow(bucket, 'preview', null, 0));
  }
  return rows.sort(
    (a, b) =>
      compare(a.customerId, b.customerId) ||
      compare(a.hour, b.hour) ||
      compare(a.dimension, b.dimension) ||
      compare(a.part, b.part),
  );
}

export interface HourStatusRow {
  readonly customerId: string;
  readonly marketplace: string;
  readonly hour: string;
  readonly records: number;
  readonly sent: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly pending: number;
  readonly omitted: number;
}

export interface ParityRow extends ParityLine {
  readonly customerId: string;
  readonly marketplace: string;
  readonly dimension: string;
}

/** Per customer and hour: sent, accepted, rejected, pending; per customer and dimension: parity against rated usage. */
export async function marketplaceStatus(
  deps: ReportDependencies,
  options: { period: string; customerId?: string; asOf: string },
): Promise<{ hours: HourStatusRow[]; parity: ParityRow[]; problems: string[] }> {
  const buckets = await listPeriodBuckets(deps.pool, {
    period: options.period,
    ...(options.customerId === undefined ? {} : { customerId: options.customerId }),
  });
  const hours = new Map<string, { -readonly [K in keyof HourStatusRow]: HourStatusRow[K] }>();
  for (const bucket of buckets) {
    const key = `${bucket.customerId}\u0000${bucket.hour}`;
    const row = hours.get(key) ?? {
      customerId: bucket.customerId,
      marketplace: bucket.marketplace,
      hour: bucket.hour,
      records: 0,
      sent: 0,
      accepted: 0,
      rejected: 0,
      pending: 0,
      omitted: 0,
    };
    const status = recordStatus(bucket);
    row.records += 1;
    if (bucket.attempts > 0) row.sent += 1;
    if (status === 'omitted') row.omitted += 1;
    else if (failed(bucket)) row.rejected += 1;
    else if (status === 'accepted' || status === 'duplicate') row.accepted += 1;
    else row.pending += 1;
    hours.set(key, row);
  }

  const period = billingPeriod(options.period);
  const to = options.asOf < period.end ? options.asOf : period.end;
  const { customerIds, problems } = await deps.listMarketplaceCustomers();
  const customers = [...new Set([...customerIds, ...buckets.map((bucket) => bucket.customerId)])]
    .filter((customerId) => options.customerId === undefined || customerId === options.customerId)
    .sort();
  const parity: ParityRow[] = [];
  for (const customerId of customers) {
    let terms: CustomerTerms;
    try {
      terms = await deps.loadTerms(customerId);
    } catch (error) {
      problems.push(`${customerId}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const dimensions = listingDimensions(terms.versions);
    const rated = new Map<string, Decimal>();
    if (period.start < to) {
      const plan = usageAggregationPlan(terms.versions, { name: options.period, start: period.start, end: to });
      const { usage } = hourlyDimensionUsage(
        terms.versions,
        await loadHourlyUsage(deps.pool, plan, { customerId, from: period.start, to }),
      );
      for (const [dimension, byHour] of usage)
        rated.set(
          dimension,
          [...byHour.values()].reduce((sum, value) => sum.plus(value), new Decimal(0)),
        );
    }
    const accounted = await loadAccountedUsage(deps.pool, { customerId, from: period.start, to: period.end });
    const crossings = await loadLateCrossings(deps.pool, { customerId, from: period.start, to: period.end });
    const overReports = await listOverReports(deps.pool, { period: options.period, customerId });
    for (const listing of dimensions) {
      const rows = buckets.filter(
        (bucket) => bucket.customerId === customerId && bucket.dimension === listing.dimension,
      );
      const sum = (selected: readonly StoredBucket[]): string =>
        formatDecimal(selected.reduce((total, bucket) => total.plus(bucket.sentQuantity), new Decimal(0)));
      const ratedQuantity = rated.get(listing.dimension) ?? new Decimal(0);
      const line = periodParity({
        unitSize: listing.unitSize,
        rated: formatDecimal(ratedQuantity),
        sentListingUnits: sum(rows),
        acceptedListingUnits: sum(
          rows.filter((bucket) => !failed(bucket) && (bucket.outcome === 'accepted' || bucket.outcome === 'duplicate')),
        ),
        pendingListingUnits: sum(rows.filter((bucket) => bucket.outcome === null && isSent(bucket))),
        failedListingUnits: sum(rows.filter(failed)),
        carryIn: rows[0]?.carryIn ?? '0',
        carryOut: rows.at(-1)?.carryOut ?? rows[0]?.carryIn ?? '0',
        awaiting: formatDecimal(ratedQuantity.minus(accounted.get(listing.dimension) ?? new Decimal(0))),
        overReported: formatDecimal(
          overReports
            .filter((report) => report.dimension === listing.dimension)
            .reduce((total, report) => total.plus(report.quantity), new Decimal(0)),
        ),
        lateIn: formatDecimal(crossings.get(listing.dimension)?.lateIn ?? new Decimal(0)),
        lateOut: formatDecimal(crossings.get(listing.dimension)?.lateOut ?? new Decimal(0)),
      });
      parity.push({
        customerId,
        marketplace: rows[0]?.marketplace ?? terms.contract.marketplace?.kind ?? '',
        dimension: listing.dimension,
        ...line,
      });
    }
  }
  return {
    hours: [...hours.values()].sort((a, b) => compare(a.customerId, b.customerId) || compare(a.hour, b.hour)),
    parity,
    problems,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
