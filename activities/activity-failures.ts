import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { TallyError } from '../contracts/tally-error.ts';

/**
 * The one translation point from Tally's errors to Temporal's retry semantics (STYLE.md convention 7):
 * a permanent TallyError becomes a non-retryable ApplicationFailure whose `type` is the error's stable
 * code, so the workflow can turn it into an exception for a person; anything else (a lost connection,
 * a deadlock, a bug fixed by the next deploy) is left to the activity's retry policy.
 *
 * Activities throw TallyErrors and never construct ApplicationFailures themselves.
 */
function toActivityFailure(error: unknown): unknown {
  if (error instanceof TallyError && error.permanent) {
    return ApplicationFailure.create({ message: error.message, type: error.code, nonRetryable: true, cause: error });
  }
  return error;
}

class TranslateTallyErrors implements ActivityInboundCallsInterceptor {
  async execute(
    ...[input, next]: Parameters<NonNullable<ActivityInboundCallsInterceptor['execute']>>
  ): Promise<unknown> {
    try {
      return await next(input);
    } catch (error) {
      throw toActivityFailure(error);
    }
  }
}

/** Register on every worker that runs Tally activities (regular and local: both pass activity interceptors). */
export const activityFailureInterceptors: ActivityInterceptorsFactory = () => ({ inbound: new TranslateTallyErrors() });
