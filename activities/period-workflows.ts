import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { customerPeriodWorkflow } from '../workflows/customer-period.ts';
import { closeNowSignal, customerPeriodWorkflowId, type CustomerPeriodInput } from '../workflows/definitions.ts';

/**
 * The one way to start a customer-period workflow (the period opener, `tally period close`, the demo):
 * under its business id, finding a running one (USE_EXISTING) and never running a finished live one
 * again (REJECT_DUPLICATE: corrections are adjustments and reruns, never a second close). With
 * `closeNow`, a signal-with-start asks it to close now instead of at period end + grace.
 * Returns undefined when the period's workflow has already finished.
 */
export async function startPeriodWorkflow(
  client: Client,
  options: { readonly taskQueue: string; readonly input: CustomerPeriodInput; readonly closeNow: boolean },
): Promise<WorkflowHandle<typeof customerPeriodWorkflow> | undefined> {
  const start = {
    taskQueue: options.taskQueue,
    workflowId: customerPeriodWorkflowId(options.input),
    args: [options.input] as [CustomerPeriodInput],
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    // What the Temporal UI shows in its list; the workflow's current details say what it waits for.
    staticSummary: `${options.input.customerId} · ${options.input.period} · ${options.input.mode === 'shadow' ? 'shadow close' : 'period close'}`,
  };
  try {
    if (!options.closeNow)
      return await client.workflow.start<typeof customerPeriodWorkflow>('customerPeriodWorkflow', start);
    return await client.workflow.signalWithStart<typeof customerPeriodWorkflow, []>('customerPeriodWorkflow', {
      ...start,
      signal: closeNowSignal,
      signalArgs: [],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw error;
  }
}
