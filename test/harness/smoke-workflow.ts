// A one-activity workflow for the stack smoke test: proves the dev server runs workflow code and activities.
import { proxyActivities } from '@temporalio/workflow';

export interface SmokeActivities {
  recordAmount(amount: string): Promise<string>;
}

const { recordAmount } = proxyActivities<SmokeActivities>({ startToCloseTimeout: '30 seconds' });

export async function smokeWorkflow(amount: string): Promise<string> {
  return recordAmount(amount);
}
