import { ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { upsertSchedule } from './upsert-schedule.ts';
import { marketplaceScheduleId, type MarketplaceLauncherInput } from '../workflows/marketplace-definitions.ts';

/**
 * The hourly Temporal Schedule that sends due marketplace records (SPEC §12): at `minute` past
 * every hour it starts the launcher, which starts that hour's send under a deterministic id.
 * Creating it again updates it (a new minute, task queue or step timeout), so every worker start
 * may call this. Missed runs (the cluster down) are caught up within the hour; runs never overlap.
 */
export async function ensureMarketplaceSchedule(
  client: Client,
  options: { taskQueue: string; minute: number; stepTimeoutMs?: number },
): Promise<string> {
  const scheduleId = marketplaceScheduleId(options.taskQueue);
  const input: MarketplaceLauncherInput = {
    taskQueue: options.taskQueue,
    ...(options.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: options.stepTimeoutMs }),
  };
  const schedule = {
    scheduleId,
    spec: { calendars: [{ minute: options.minute, hour: { start: 0, end: 23 } }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'marketplaceLauncherWorkflow',
      workflowId: `marketplace-launch:${options.taskQueue}`,
      taskQueue: options.taskQueue,
      args: [input],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  } satisfies ScheduleOptions;
  return upsertSchedule(client, schedule);
}
