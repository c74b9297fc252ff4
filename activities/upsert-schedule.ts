import { ScheduleAlreadyRunning, type Client, type ScheduleOptions } from '@temporalio/client';

/**
 * Creates a Temporal Schedule, or brings an existing one of the same id to these spec, action and
 * policies: the one way Tally's periodic work (the hourly marketplace send, the daily revenue
 * recognition and anomaly scan) is kept, so every worker start may call it.
 */
export async function upsertSchedule(client: Client, schedule: ScheduleOptions): Promise<string> {
  try {
    await client.schedule.create(schedule);
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(schedule.scheduleId).update((previous) => ({
      ...previous,
      spec: schedule.spec,
      action: schedule.action,
      policies: schedule.policies,
    }));
  }
  return schedule.scheduleId;
}
