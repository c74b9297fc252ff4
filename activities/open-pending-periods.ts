import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { CALCULATION_VERSION, customerPeriodWorkflowId, type CustomerPeriodInput } from '../workflows/definitions.ts';

/**
 * The outbox relay: ingest records each customer-period when it first sees usage
 * (`customer_periods`, in the same transaction as the events); this starts one live workflow per
 * row under its business id and marks the row. Starting twice finds the running workflow, so a
 * crash between start and mark is harmless.
 */
export async function openPendingPeriods(
  pool: pg.Pool,
  client: Client,
  options: {
    readonly taskQueue: string;
    readonly limit?: number;
    /** Waits for the workflows it starts, overriding the contracts' (the demo and tests use seconds). */
    readonly overrides?: Pick<CustomerPeriodInput, 'graceMs' | 'reviewTimeoutMs' | 'stepTimeoutMs'>;
  },
): Promise<number> {
  const { rows } = await pool.query<{ customer_id: string; period: string }>(
    `SELECT customer_id, period FROM customer_periods WHERE workflow_started_at IS NULL ORDER BY period, customer_id LIMIT $1`,
    [options.limit ?? 500],
  );
  for (const row of rows) {
    const input: CustomerPeriodInput = {
      customerId: row.customer_id,
      period: row.period,
      mode: 'live',
      calculationVersion: CALCULATION_VERSION,
      ...options.overrides,
    };
    try {
      await client.workflow.start('customerPeriodWorkflow', {
        taskQueue: options.taskQueue,
        workflowId: customerPeriodWorkflowId(input),
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        // A finished live workflow is never run again under its id: corrections are adjustments.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (error) {
      // A closed workflow with this id (the period was billed): nothing to start.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    await pool.query(
      'UPDATE customer_periods SET workflow_started_at = now() WHERE customer_id = $1 AND period = $2 AND workflow_started_at IS NULL',
      [row.customer_id, row.period],
    );
  }
  return rows.length;
}
