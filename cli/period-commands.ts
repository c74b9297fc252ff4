import type { Command } from 'commander';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { billingPeriod } from '../domain/period.ts';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import {
  CALCULATION_VERSION,
  closeNowSignal,
  customerPeriodWorkflowId,
  statusQuery,
  type CustomerPeriodInput,
} from '../workflows/definitions.ts';
import type { customerPeriodWorkflow } from '../workflows/customer-period.ts';
import { connectTemporal, ensureServices, printTable } from './services.ts';

/**
 * Closes a customer-period now: signal-with-start `closeNow` under the business id, so a running
 * workflow (started by the period opener) is closed and a missing one is started and closed. The
 * input counts only when this starts the workflow. `tally period close` and the demo use it.
 */
export function requestPeriodClose(
  client: Client,
  taskQueue: string,
  input: CustomerPeriodInput,
): Promise<WorkflowHandle<typeof customerPeriodWorkflow>> {
  return client.workflow.signalWithStart<typeof customerPeriodWorkflow, []>('customerPeriodWorkflow', {
    taskQueue,
    workflowId: customerPeriodWorkflowId(input),
    args: [input],
    signal: closeNowSignal,
    signalArgs: [],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}

/** Ops' view of the customer-period workflows: close early, see where each one stands. */
export function registerPeriodCommands(program: Command): void {
  const period = program.command('period');

  period
    .command('close <customer> <period>')
    .description('close the period now instead of at period end + grace (starts the workflow if needed)')
    .action(async (customerId: string, periodName: string) => {
      billingPeriod(periodName);
      const { endpoints } = await ensureServices();
      const temporal = await connectTemporal(endpoints);
      try {
        const input: CustomerPeriodInput = {
          customerId,
          period: periodName,
          mode: 'live',
          calculationVersion: CALCULATION_VERSION,
        };
        const handle = await requestPeriodClose(temporal.client, parseBillingWorkerEnv().taskQueue, input);
        process.stdout.write(`close requested: ${handle.workflowId}\n`);
      } finally {
        await temporal.close();
      }
    });

  period
    .command('status [customer] [period]')
    .description('where each customer-period workflow stands')
    .option('--json', 'machine-readable output')
    .action(async (customerId: string | undefined, periodName: string | undefined, options: { json?: boolean }) => {
      const { endpoints } = await ensureServices();
      const temporal = await connectTemporal(endpoints);
      try {
        const ids: string[] = [];
        if (customerId !== undefined && periodName !== undefined) {
          ids.push(
            customerPeriodWorkflowId({
              customerId,
              period: periodName,
              mode: 'live',
              calculationVersion: CALCULATION_VERSION,
            }),
          );
        } else {
          const clauses = ["WorkflowType = 'customerPeriodWorkflow'", "RunMode = 'live'"];
          if (customerId !== undefined) clauses.push(`CustomerId = '${customerId.replace(/'/g, '')}'`);
          for await (const execution of temporal.client.workflow.list({ query: clauses.join(' AND ') }))
            ids.push(execution.workflowId);
        }
        const statuses = [];
        for (const workflowId of [...new Set(ids)].sort()) {
          const handle = temporal.client.workflow.getHandle(workflowId);
          try {
            const description = await handle.describe();
            const status = description.status.name === 'RUNNING' ? await handle.query(statusQuery) : undefined;
            statuses.push({
              workflowId,
              execution: description.status.name,
              stage: status?.stage ?? '-',
              closesAt: status?.closesAt ?? '-',
              openException: status?.openExceptionId ?? '-',
            });
          } catch (error) {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
            statuses.push({ workflowId, execution: 'NOT_STARTED', stage: '-', closesAt: '-', openException: '-' });
          }
        }
        if (options.json) process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
        else printTable(statuses, ['workflowId', 'execution', 'stage', 'closesAt', 'openException']);
      } finally {
        await temporal.close();
      }
    });
}
