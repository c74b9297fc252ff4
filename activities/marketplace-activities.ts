import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type pg from 'pg';
import type { MarketplaceKind } from '../contracts/contract.ts';
import { listUnsettledBuckets } from '../db/queries/marketplace.ts';
import { insertReviewException, listReviewExceptions } from '../db/queries/review-exceptions.ts';
import { halfWindowAt, periodOfHour, reportDeadline } from '../domain/marketplace/index.ts';
import type { MarketplaceAdapters } from '../providers/marketplaces/index.ts';
import {
  MARKETPLACE_KINDS,
  marketplaceExceptionWorkflowId,
  type MarketplacePassSummary,
} from '../workflows/marketplace-definitions.ts';
import type { CustomerTerms } from '../terms/index.ts';
import { sealCustomerHours, type CustomerSealResult, type SealingSettings } from './marketplace-sealing.ts';
import { sendMarketplacePass } from './marketplace-sender.ts';

export interface MarketplaceSettings extends SealingSettings {
  readonly throttleRetries?: number;
  readonly unprocessedRounds?: number;
}

export interface MarketplaceDependencies {
  readonly pool: pg.Pool;
  /** The customers whose contract names a marketplace (Finance's contracts folder). */
  readonly listMarketplaceCustomers: () => Promise<{ customerIds: string[]; problems: string[] }>;
  readonly loadTerms: (customerId: string) => Promise<CustomerTerms>;
  readonly adapters: MarketplaceAdapters;
  readonly settings: MarketplaceSettings;
  /** Starts the waiting workflow of each marketplace exception (the billing worker's client and task queue). */
  readonly temporal?: { readonly client: Client; readonly taskQueue: string };
  /** Backoff between throttled calls; tests pass a fast one. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface SealSummary {
  readonly customers: readonly CustomerSealResult[];
  readonly sealed: number;
  readonly overReportExceptionIds: readonly string[];
  readonly problems: readonly string[];
}

/**
 * The side effects of marketplace metering, each idempotent: sealing is keyed by bucket id under a
 * per-customer lock, sending by the attempt log and one final outcome per bucket, exceptions by ids
 * derived from the buckets they are about. Used by the hourly workflow and by `tally marketplace submit`.
 */
export function createMarketplaceActivities(deps: MarketplaceDependencies) {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const heartbeat = (details: string): void => {
    try {
      Context.current().heartbeat(details);
    } catch {
      // Not inside an activity (the CLI runs these functions directly).
    }
  };

  return {
    /** 1. Seal every marketplace customer's due hours into the canonical table. */
    async sealMarketplaceHours(input: { asOf: string }): Promise<SealSummary> {
      const { customerIds, problems } = await deps.listMarketplaceCustomers();
      const customers: CustomerSealResult[] = [];
      const failures = [...problems];
      for (const customerId of customerIds) {
        heartbeat(customerId);
        try {
          customers.push(
            await sealCustomerHours(deps.pool, await deps.loadTerms(customerId), deps.settings, input.asOf),
          );
        } catch (error) {
          // One customer's bad terms must not hold back the others' reports: named, and retried next hour.
          failures.push(`${customerId}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return {
        customers,
        sealed: customers.reduce((sum, customer) => sum + customer.sealed, 0),
        overReportExceptionIds: customers.flatMap((customer) => customer.overReportExceptionIds),
        problems: failures,
      };
    },

    /** 2. One marketplace's send pass (see sendMarketplacePass). */
    async sendMarketplaceRecords(input: {
      asOf: string;
      marketplace: MarketplaceKind;
    }): Promise<MarketplacePassSummary> {
      heartbeat(input.marketplace);
      return sendMarketplacePass(
        { pool: deps.pool, loadTerms: deps.loadTerms, sleep, heartbeat },
        {
          windows: deps.settings.windows,
          throttleRetries: deps.settings.throttleRetries ?? 3,
          unprocessedRounds: deps.settings.unprocessedRounds ?? 2,
        },
        input.marketplace,
        deps.adapters[input.marketplace],
        input.asOf,
      );
    },

    /**
     * 3. Records still unsent past half of their window: one exception per customer and marketplace,
     * keyed by its oldest such record, so later passes add none while that record waits.
     */
    async checkMarketplaceWindows(input: { asOf: string }): Promise<{ atRisk: number; exceptionIds: string[] }> {
      const exceptionIds: string[] = [];
      let atRisk = 0;
      for (const marketplace of MARKETPLACE_KINDS) {
        const late = (await listUnsettledBuckets(deps.pool, { marketplace })).filter(
          (bucket) =>
            halfWindowAt(marketplace, bucket.hour, deps.settings.windows) <= input.asOf &&
            reportDeadline(marketplace, bucket.hour, deps.settings.windows) > input.asOf,
        );
        atRisk += late.length;
        const byCustomer = new Map<string, typeof late>();
        for (const bucket of late)
          byCustomer.set(bucket.customerId, [...(byCustomer.get(bucket.customerId) ?? []), bucket]);
        for (const [customerId, buckets] of byCustomer) {
          const oldest = buckets[0];
          if (oldest === undefined) continue;
          const exceptionId = `exc:mkt:at-risk:${oldest.bucketId}`;
          const deadline = reportDeadline(marketplace, oldest.hour, deps.settings.windows);
          const inserted = await insertReviewException(deps.pool, {
            exceptionId,
            invoiceId: null,
            customerId,
            period: periodOfHour(oldest.hour),
            kind: 'marketplace_window_at_risk',
            breaches: [
              {
                rule: 'marketplace_window_at_risk',
                detail: `${buckets.length} ${marketplace} record${buckets.length === 1 ? '' : 's'} unsent past half of the window; the oldest (${oldest.dimension} ${oldest.hour}) must be accepted before ${deadline}`,
              },
            ],
            context: {
              marketplace,
              asOf: input.asOf,
              records: buckets.map((bucket) => ({
                bucketId: bucket.bucketId,
                dimension: bucket.dimension,
                hour: bucket.hour,
                sentQuantity: bucket.sentQuantity,
                attempts: bucket.attempts,
                lastAnswer: bucket.lastAnswer,
                halfWindowAt: halfWindowAt(marketplace, bucket.hour, deps.settings.windows),
                deadline: reportDeadline(marketplace, bucket.hour, deps.settings.windows),
              })),
            },
            workflowId: marketplaceExceptionWorkflowId(exceptionId),
          });
          if (inserted) exceptionIds.push(exceptionId);
        }
      }
      return { atRisk, exceptionIds };
    },

    /**
     * 4. Every open marketplace exception has its waiting workflow (started once; a decided one is
     * not started again), so `tally review approve|reject|adjust` and the console reach it.
     */
    async startMarketplaceExceptionWorkflows(): Promise<{ started: number }> {
      if (deps.temporal === undefined) return { started: 0 };
      const open = await listReviewExceptions(deps.pool, { status: 'waiting', kindPrefix: 'marketplace_' });
      let started = 0;
      for (const exception of open) {
        try {
          await deps.temporal.client.workflow.start('marketplaceExceptionWorkflow', {
            taskQueue: deps.temporal.taskQueue,
            workflowId: marketplaceExceptionWorkflowId(exception.exceptionId),
            args: [{ exceptionId: exception.exceptionId }],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          });
          started += 1;
        } catch (error) {
          if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        }
      }
      return { started };
    },
  };
}

export type MarketplaceActivities = ReturnType<typeof createMarketplaceActivities>;
