import { ServiceError, type ScheduleHandle } from '@temporalio/client';

/**
 * Triggers a Temporal Schedule and waits for the workflow it starts (the newest action not seen
 * before), returning its id. A scheduled workflow's id ends with its nominal time in seconds, which
 * the schedule takes from its own clock: a trigger processed within the same second as the last one
 * names the same workflow and starts nothing new. So it triggers again every few seconds until a
 * workflow of a new name appears. Tests trigger schedules this way instead of waiting for them.
 */
export async function triggerUntilNewAction(schedule: ScheduleHandle, seen: Set<string>): Promise<string> {
  const deadline = Date.now() + 90_000;
  let triggeredMs = 0;
  let actions: string[] = [];
  for (;;) {
    if (Date.now() - triggeredMs > 5_000) {
      await schedule.trigger();
      triggeredMs = Date.now();
    }
    const description = await schedule.describe().catch((error: unknown) => {
      // The server answers a describe from the schedule's own workflow, which can be busy right
      // after a trigger on a loaded machine (DEADLINE_EXCEEDED): ask again, within the deadline.
      if (error instanceof ServiceError && Date.now() < deadline) return undefined;
      throw error;
    });
    actions = (description?.info.recentActions ?? []).map((action) => action.action.workflow.workflowId);
    const fresh = actions.find((id) => !seen.has(id));
    if (fresh !== undefined) {
      seen.add(fresh);
      return fresh;
    }
    if (Date.now() > deadline)
      throw new Error(`the triggered schedule started no new workflow within 90 s; recent: ${JSON.stringify(actions)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
