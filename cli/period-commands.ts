import type { Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { billingPeriod } from '../domain/period.ts';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import {
  CALCULATION_VERSION,
  customerPeriodWorkflowId,
  statusQuery,
  type CustomerPeriodInput,
} from '../workflows/definitions.ts';
import { startPeriodWorkflow } from '../activities/period-workflows.ts';
import { findInvoice, type InvoiceRecord } from '../db/queries/invoices.ts';
import { connectTemporal, ensureServices, printTable, withDatabase } from './services.ts';

/** Ops' view of the customer-period workflows: close early, see where each one stands. */
export function registerPeriodCommands(program: Command): void {
  const period = program.command('period');

  period
    .command('close <customer> <period>')
    .description('close the period now instead of at period end + grace (starts the workflow if needed)')
    .action(async (customerId: string, periodName: string) => {
      billingPeriod(periodName);
      const { endpoints } = await ensureServices();
      // A period that has ended is final: closing it again changes nothing, and says so.
      const final = await withDatabase((pool) => findInvoice(pool, `inv:${customerId}:${periodName}`));
      if (final !== undefined && final.status !== 'draft') {
        process.stdout.write(`${describeFinal(customerId, periodName, final)}\n`);
        return;
      }
      const temporal = await connectTemporal(endpoints);
      try {
        const input: CustomerPeriodInput = {
          customerId,
          period: periodName,
          mode: 'live',
          calculationVersion: CALCULATION_VERSION,
        };
        const handle = await startPeriodWorkflow(temporal.client, {
          taskQueue: parseBillingWorkerEnv().taskQueue,
          input,
          closeNow: true,
        });
        if (handle === undefined) {
          process.stdout.write(
            `${customerId} ${periodName} is already closed: its workflow ${customerPeriodWorkflowId(input)} has finished (tally period status ${customerId} ${periodName})\n`,
          );
          return;
        }
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

function describeFinal(customerId: string, period: string, invoice: InvoiceRecord): string {
  switch (invoice.status) {
    case 'issued':
      return `${customerId} ${period} is already closed: invoice ${invoice.invoiceNumber ?? invoice.invoiceId} issued ${invoice.issuedAt ?? ''} (total ${invoice.document.total} ${invoice.document.currency})`;
    case 'held':
      return `${customerId} ${period} is already closed: held after review (${invoice.heldReason ?? 'rejected'}); tally period rerun re-rates it`;
    case 'skipped':
      return `${customerId} ${period} is already closed: all zero, and the contract wants no invoice for such a period`;
    case 'draft':
      return `${customerId} ${period} is being closed`;
  }
}
