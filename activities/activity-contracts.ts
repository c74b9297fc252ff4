import { ApplicationFailure, type Context } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { activityContract, contractProblem, type ActivityContract } from '../contracts/activity-io.ts';
import { activityFailureInterceptors } from './activity-failures.ts';

/** The failure type of an activity called with, or returning, what its contract refuses. */
export const ACTIVITY_CONTRACT_BROKEN = 'activity_contract_broken';

/**
 * Checks every activity's arguments before it runs and its result after, against its contract in
 * contracts/activity-io.ts. A mismatch is a bug (a workflow, or the activity, out of step with the
 * contract), never something a retry fixes: the activity fails non-retryably, naming the activity,
 * the side (input or output), the field and the rule. The arguments reach the activity as sent.
 */
class CheckActivityContracts implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly activityType: string,
    private readonly contract: ActivityContract | undefined,
  ) {}

  async execute(
    ...[input, next]: Parameters<NonNullable<ActivityInboundCallsInterceptor['execute']>>
  ): Promise<unknown> {
    const contract = this.contract;
    // A worker checks its activities at start (checkActivityContracts): none is unknown here.
    if (contract === undefined) throw broken(this.activityType, 'input', { field: '(activity)', rule: 'no contract' });
    const inputProblem = contractProblem(contract.input, input.args, contract.input.def.items.length === 1);
    if (inputProblem !== undefined) throw broken(this.activityType, 'input', inputProblem);
    const output = await next(input);
    const outputProblem = contractProblem(contract.output, output);
    if (outputProblem !== undefined) throw broken(this.activityType, 'output', outputProblem);
    return output;
  }
}

function broken(activity: string, side: 'input' | 'output', problem: { field: string; rule: string }) {
  return ApplicationFailure.create({
    message: `activity ${activity} ${side} breaks its contract: ${problem.field}: ${problem.rule}`,
    type: ACTIVITY_CONTRACT_BROKEN,
    nonRetryable: true,
    details: [{ activity, side, field: problem.field, rule: problem.rule }],
  });
}

/** Regular and local activities both pass through it; registered by way of tallyActivityInterceptors. */
const activityContractInterceptors: ActivityInterceptorsFactory = (context: Context) => {
  const activityType = context.info.activityType;
  return { inbound: new CheckActivityContracts(activityType, activityContract(activityType)) };
};

/**
 * The activity interceptors of every worker that runs Tally activities, outermost first: error
 * translation, then the contract checks. Register the activities through checkActivityContracts.
 */
export const tallyActivityInterceptors: ActivityInterceptorsFactory[] = [
  activityFailureInterceptors,
  activityContractInterceptors,
];

/** Activity names without a contract (an empty list: every one has one). */
function activitiesWithoutContract(activities: object): string[] {
  return Object.keys(activities).filter((name) => activityContract(name) === undefined);
}

/**
 * The activities a worker registers, once each is known to have a contract: a worker refuses to
 * start with one that has none (add it to contracts/activity-io.ts).
 */
export function checkActivityContracts<T extends object>(activities: T): T {
  const missing = activitiesWithoutContract(activities);
  if (missing.length > 0)
    throw new Error(
      `activities without a contract in contracts/activity-io.ts: ${missing.join(', ')} (a worker registers none unchecked)`,
    );
  return activities;
}
