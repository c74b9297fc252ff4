import { ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { upsertSchedule } from '../activities/upsert-schedule.ts';
import { revenueScheduleId, type RevenueLauncherInput } from '../workflows/revenue-definitions.ts';

/**
 * The daily Temporal Schedule of revenue recognition (SPEC §11): at `hour:minute` UTC every day it
 * starts the launcher, which recognizes the day before under a deterministic id. Creating it again
 * updates it, so every worker start may call this. A missed run (the cluster down) is caught up
 * within a day; runs never overlap; a day missed altogether is folded into the next day's run
 * (recognition is cumulative) or run by hand with `tally revenue run --day D`.
 */
export async function ensureRevenueSchedule(
  client: Client,
  options: { taskQueue: string; hour: number; minute: number; stepTimeoutMs?: number },
): Promise<string> {
  const scheduleId = revenueScheduleId(options.taskQueue);
  const input: RevenueLauncherInput = {
    taskQueue: options.taskQueue,
    ...(options.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: options.stepTimeoutMs }),
  };
  const schedule = {
    scheduleId,
    spec: { calendars: [{ minute: options.minute, hour: options.hour }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'revenueLauncherWorkflow',
      workflowId: `revenue-launch:${options.taskQueue}`,
      taskQueue: options.taskQueue,
      args: [input],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
  } satisfies ScheduleOptions;
  return upsertSchedule(client, schedule);
}
