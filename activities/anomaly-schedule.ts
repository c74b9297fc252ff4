import { ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { upsertSchedule } from './upsert-schedule.ts';
import { anomalyScheduleId, type AnomalyLauncherInput } from '../workflows/anomaly-definitions.ts';

/**
 * The daily Temporal Schedule of anomaly detection (SPEC §10): at `hour:minute` UTC it starts the
 * launcher, which scans the day before under a deterministic id. Creating it again updates it, so
 * every worker start may call this. A missed run (the cluster down) is caught up within a day.
 */
export async function ensureAnomalySchedule(
  client: Client,
  options: { taskQueue: string; hour: number; minute: number; stepTimeoutMs?: number },
): Promise<string> {
  const scheduleId = anomalyScheduleId(options.taskQueue);
  const input: AnomalyLauncherInput = {
    taskQueue: options.taskQueue,
    ...(options.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: options.stepTimeoutMs }),
  };
  const schedule = {
    scheduleId,
    spec: { calendars: [{ hour: options.hour, minute: options.minute }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'anomalyLauncherWorkflow',
      workflowId: `anomaly-launch:${options.taskQueue}`,
      taskQueue: options.taskQueue,
      args: [input],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
  } satisfies ScheduleOptions;
  return upsertSchedule(client, schedule);
}
