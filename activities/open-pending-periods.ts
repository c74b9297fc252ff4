import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { markWorkflowStarted, openContractPeriods, unstartedCustomerPeriods } from '../db/queries/customer-periods.ts';
import { latestContractPublicationId } from '../db/queries/contract-publications.ts';
import { periodOf } from '../domain/period.ts';
import { CALCULATION_VERSION, type CustomerPeriodInput } from '../workflows/definitions.ts';
import { startPeriodWorkflow } from './period-workflows.ts';

/** What the contract sweep last saw: it runs again only when a contract was published or the month turned. */
export interface ContractSweepState {
  publicationId: string | undefined;
  period: string | undefined;
}

/**
 * The outbox relay. Customer-periods come from ingest (the first stored event of a customer-period,
 * in the same transaction) and from contracts (every period a published contract is active in,
 * usage or not: fees, commits and credits are billed in months without a single event). This
 * starts one live workflow per period under its business id and marks the row. Starting twice
 * finds the running workflow, so a crash between start and mark is harmless.
 */
export async function openPendingPeriods(
  pool: pg.Pool,
  client: Client,
  options: {
    readonly taskQueue: string;
    readonly limit?: number;
    /** Waits for the workflows it starts, overriding the contracts' (the demo and tests use seconds). */
    readonly overrides?: Pick<CustomerPeriodInput, 'graceMs' | 'reviewTimeoutMs' | 'stepTimeoutMs' | 'recheckMs'>;
    /** The contract sweep: how far back it opens periods, and what it saw last time (updated in place). */
    readonly contracts?: { readonly backdatePeriods: number; readonly state: ContractSweepState; readonly now?: Date };
  },
): Promise<number> {
  if (options.contracts !== undefined) {
    const now = options.contracts.now ?? new Date();
    const publicationId = await latestContractPublicationId(pool);
    const period = periodOf(now).name;
    const { state } = options.contracts;
    if (publicationId !== undefined && (publicationId !== state.publicationId || period !== state.period)) {
      await openContractPeriods(pool, now.toISOString(), options.contracts.backdatePeriods);
      state.publicationId = publicationId;
      state.period = period;
    }
  }
  const rows = await unstartedCustomerPeriods(pool, options.limit ?? 500);
  for (const row of rows) {
    const input: CustomerPeriodInput = {
      customerId: row.customerId,
      period: row.period,
      mode: 'live',
      calculationVersion: CALCULATION_VERSION,
      ...options.overrides,
    };
    await startPeriodWorkflow(client, { taskQueue: options.taskQueue, input, closeNow: false });
    await markWorkflowStarted(pool, row.customerId, row.period);
  }
  return rows.length;
}
