import type { UsageEvent } from '../../contracts/usage-event.ts';
import {
  generateUsageEvents as generateSampleUsage,
  type UsageGenerationOptions,
} from '../../demo/samples/sample-usage.ts';
import { TEST_SOURCE_KEYS } from './usage-event.ts';

/** The sample usage (demo/samples), signed with the tests' source keys unless others are given. */
export function generateUsageEvents(
  options: Omit<UsageGenerationOptions, 'keys'> & Partial<Pick<UsageGenerationOptions, 'keys'>>,
): UsageEvent[] {
  return generateSampleUsage({ keys: TEST_SOURCE_KEYS, ...options });
}

export { demoContract, demoCustomers } from '../../demo/samples/sample-customers.ts';
