import type pg from 'pg';
import type { ContractMarketplace } from '../contracts/contract.ts';
import { ADVISORY_LOCKS } from '../db/advisory-locks.ts';
import { withTransaction } from '../db/pool.ts';
import { insertSealedBuckets, loadHourlyUsage, loadMarketplaceLedger } from '../db/queries/marketplace.ts';
import { insertReviewException } from '../db/queries/review-exceptions.ts';
import {
  addHours,
  hourlyDimensionUsage,
  hourOf,
  hoursFrom,
  laterOf,
  listingDimensions,
  listingValue,
  marketplaceRules,
  periodOfHour,
  reportDeadline,
  sealHours,
  type ReportWindows,
  type DimensionLedger,
  type MarketplaceIdentity,
  type SealedBucket,
} from '../domain/marketplace/index.ts';
import { Decimal } from '../domain/money.ts';
import { usageAggregationPlan } from '../domain/rating/index.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { marketplaceExceptionWorkflowId } from '../workflows/marketplace-definitions.ts';
import type { CustomerTerms } from '../terms/index.ts';

/** At most this many hours sealed per customer in one pass (a month and a half): a long backlog takes several passes. */
const MAX_HOURS_PER_PASS = 24 * 45;

class MarketplaceSetupError extends TallyError {
  constructor(message: string) {
    super('marketplace_setup_invalid', message, { permanent: true });
  }
}

export interface SealingSettings {
  readonly windows: ReportWindows;
  readonly settleMs: number;
  readonly restatementMs: number;
  readonly azureQuantityScale: number;
  readonly defaults: { readonly awsProductCode?: string; readonly gcpServiceName?: string };
}

export interface CustomerSealResult {
  readonly customerId: string;
  readonly sealed: number;
  /** The buckets this pass sealed (or, in a dry run, would seal). */
  readonly buckets?: readonly SealedBucket[];
  readonly through: string | undefined;
  readonly overReportExceptionIds: readonly string[];
  /** Why nothing was sealed, when nothing was. */
  readonly note?: string;
}

/** The identity a record is sent under, with this process's defaults for what the contract leaves out. */
function marketplaceIdentity(
  marketplace: ContractMarketplace,
  defaults: SealingSettings['defaults'],
): MarketplaceIdentity {
  switch (marketplace.kind) {
    case 'aws':
      return {
        kind: 'aws',
        customerAwsAccountId: marketplace.customer_account,
        licenseArn: marketplace.license_arn,
        productCode: marketplace.product_code ?? defaults.awsProductCode ?? null,
      };
    case 'azure':
      return { kind: 'azure', resourceId: marketplace.resource_id, planId: marketplace.plan_id };
    case 'gcp': {
      const serviceName = marketplace.service_name ?? defaults.gcpServiceName;
      if (serviceName === undefined)
        throw new MarketplaceSetupError(
          'a Google Cloud Marketplace contract needs marketplace.service_name, or TALLY_MARKETPLACE_GCP_SERVICE_NAME set',
        );
      return { kind: 'gcp', consumerId: marketplace.consumer_id, serviceName };
    }
  }
}

/**
 * Seals one customer's hours that are due as of `asOf` (ended at least the settle time ago) into the
 * canonical table, in one transaction under the customer's sealing lock: a concurrent or retried
 * pass waits, then finds the hours sealed and seals nothing twice. Over-reports open their
 * exception in the same transaction.
 */
export async function sealCustomerHours(
  pool: pg.Pool,
  terms: CustomerTerms,
  settings: SealingSettings,
  asOf: string,
  options: { readonly dryRun?: boolean } = {},
): Promise<CustomerSealResult> {
  const { contract, versions } = terms;
  const customerId = contract.customer_id;
  const marketplace = contract.marketplace;
  if (marketplace === undefined)
    return { customerId, sealed: 0, through: undefined, overReportExceptionIds: [], note: 'no marketplace' };
  const dimensions = listingDimensions(versions);
  if (dimensions.length === 0)
    return {
      customerId,
      sealed: 0,
      through: undefined,
      overReportExceptionIds: [],
      note: `rate card ${contract.ratecard} reports no price to a marketplace_dimension`,
    };
  const identity = marketplaceIdentity(marketplace, settings.defaults);
  const rules = marketplaceRules(marketplace.kind, { azureQuantityScale: settings.azureQuantityScale });
  const asOfMs = Date.parse(asOf);
  let sealThrough = hourOf(new Date(asOfMs - settings.settleMs).toISOString());
  if (contract.ends_at !== undefined && contract.ends_at < sealThrough) {
    // The hour the contract ends in is still its own.
    const endHour = hourOf(contract.ends_at);
    sealThrough = contract.ends_at === endHour ? endHour : addHours(endHour, 1);
  }
  const configuredStart = marketplace.metering_from ?? contract.starts_at;
  const restatementFrom = laterOf(
    hourOf(new Date(asOfMs - settings.restatementMs).toISOString()),
    configuredStart === undefined ? '0000-01-01T00:00:00.000Z' : hourOf(configuredStart),
  );
  const skus = [
    ...new Set(
      versions.flatMap((version) =>
        version.prices.filter((price) => price.marketplace_dimension !== undefined).map((price) => price.sku),
      ),
    ),
  ];

  return (options.dryRun === true ? rolledBack : withTransaction)(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADVISORY_LOCKS.MARKETPLACE_SEAL, customerId]);
    const ledger = await loadMarketplaceLedger(client, { customerId, restatementFrom });
    let start: string | undefined = ledger.lastHour === undefined ? undefined : addHours(ledger.lastHour, 1);
    if (start === undefined) {
      if (configuredStart !== undefined) start = hourOf(configuredStart);
      else {
        const first = await client.query<{ first: Date | null }>(
          'SELECT min(event_time) AS first FROM usage_events WHERE customer_id = $1 AND sku = ANY($2::text[])',
          [customerId, skus],
        );
        const firstEvent = first.rows[0]?.first;
        if (firstEvent === null || firstEvent === undefined)
          return { customerId, sealed: 0, through: undefined, overReportExceptionIds: [], note: 'no usage yet' };
        start = hourOf(firstEvent.toISOString());
      }
    }
    const hours = hoursFrom(start, sealThrough).slice(0, MAX_HOURS_PER_PASS);
    const lastHour = hours.at(-1);
    if (lastHour === undefined)
      return { customerId, sealed: 0, through: ledger.lastHour, overReportExceptionIds: [], note: 'nothing due' };
    const readFrom = restatementFrom < start ? restatementFrom : start;
    const plan = usageAggregationPlan(versions, {
      name: 'marketplace-hours',
      start: readFrom,
      end: addHours(lastHour, 1),
    });
    const aggregates = await loadHourlyUsage(client, plan, {
      customerId,
      from: readFrom,
      to: addHours(lastHour, 1),
      skus,
    });
    const { usage } = hourlyDimensionUsage(versions, aggregates);
    const ledgers = new Map<string, DimensionLedger>(
      dimensions.map((listing) => [
        listing.dimension,
        { carry: ledger.carries.get(listing.dimension) ?? '0', seen: ledger.seen.get(listing.dimension) ?? new Map() },
      ]),
    );
    // Hours whose window already closed (the deadline is monotonic in the hour) carry their usage on.
    const openFrom =
      hours.find((hour) => reportDeadline(marketplace.kind, hour, settings.windows) > asOf) ?? addHours(lastHour, 1);
    const sealed = sealHours({
      customerId,
      identity,
      rules,
      dimensions,
      hours,
      restatementFrom,
      usage,
      ledgers,
      openFrom,
    });
    const overReports = [];
    const overReportExceptionIds: string[] = [];
    for (const report of sealed.overReports) {
      const exceptionId = `exc:mkt:over:${report.bucketId}`;
      const value = listingValue(versions, report.dimension, report.hour, new Decimal(report.quantity));
      overReports.push({
        ...report,
        refundAmount: value?.amount ?? null,
        currency: value?.currency ?? null,
        exceptionId,
      });
      const inserted = await insertReviewException(client, {
        exceptionId,
        invoiceId: null,
        customerId,
        period: periodOfHour(report.hour),
        kind: 'marketplace_over_report',
        breaches: [
          {
            rule: 'marketplace_over_report',
            detail: `${report.listingQuantity} ${report.dimension} reported to ${report.marketplace} that did not happen (corrected after it was sent); refund ${value === undefined ? 'amount unknown' : `${value.amount} ${value.currency}`}`,
          },
        ],
        context: {
          overReport: { ...report, refundAmount: value?.amount ?? null, currency: value?.currency ?? null },
          restatedHours: sealed.deltaSources.filter((source) => source.detectedBy === report.bucketId),
          marketplace,
          contract,
        },
        workflowId: marketplaceExceptionWorkflowId(exceptionId),
      });
      if (inserted) overReportExceptionIds.push(exceptionId);
    }
    const count = await insertSealedBuckets(client, {
      buckets: sealed.buckets,
      deltaSources: sealed.deltaSources,
      overReports,
    });
    return { customerId, sealed: count, buckets: sealed.buckets, through: lastHour, overReportExceptionIds };
  });
}

/** Runs `work` in a transaction that is always rolled back: a dry run of a sealing pass (`tally marketplace export`). */
async function rolledBack<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    return await work(client);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}
