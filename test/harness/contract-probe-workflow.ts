// Calls one activity by name with the arguments it is given, as a regular or a local activity: the
// activity-contract test sends what no workflow of Tally's would, to see the worker refuse it.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

type AnyActivities = Record<string, (...args: unknown[]) => Promise<unknown>>;

const options = { startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3, initialInterval: '100 ms' } };
const regular = proxyActivities<AnyActivities>(options);
const local = proxyLocalActivities<AnyActivities>(options);

export async function contractProbeWorkflow(name: string, args: unknown[], asLocal: boolean): Promise<unknown> {
  const activity = (asLocal ? local : regular)[name];
  if (activity === undefined) throw new Error(`no activity ${name}`);
  return activity(...args);
}
