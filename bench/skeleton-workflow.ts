import { proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { closeNowSignal, type CustomerPeriodInput } from '../workflows/definitions.ts';

/** The one activity of the skeleton: does nothing, returns at once. */
export interface SkeletonActivities {
  doNothing(step: string): Promise<string>;
}

const { doNothing } = proxyActivities<SkeletonActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * The close benchmark's Temporal baseline: the customer-period workflow's shape on a live close
 * without review (started with signal-with-start, the same search attributes, the same eight
 * activities in sequence) with activities that do nothing. N of these at the same concurrency is
 * what the orchestration alone costs on this server; the real close adds the work of the steps.
 */
export async function skeletonCloseWorkflow(input: CustomerPeriodInput): Promise<number> {
  let closeRequested = false;
  setHandler(closeNowSignal, () => {
    closeRequested = true;
  });
  upsertSearchAttributes({ CustomerId: [input.customerId], BillingPeriod: [input.period], RunMode: ['bench'] });
  const steps = [
    'loadPeriodTerms',
    'snapshotPeriod',
    'rateDraftInvoice',
    'evaluateReview',
    'drawDownCredits',
    'issueInvoice',
    'syncInvoice',
    'postJournal',
  ];
  for (const step of steps) await doNothing(step);
  return closeRequested ? steps.length : -1;
}
