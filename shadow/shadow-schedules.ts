import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { TallyError } from '../contracts/tally-error.ts';
import type { ShadowRunInput } from '../workflows/definitions.ts';

/** Every shadow schedule's id starts with this, then the source name: one schedule per source. */
const SCHEDULE_PREFIX = 'shadow-schedule:';

export function shadowScheduleId(source: string): string {
  return `${SCHEDULE_PREFIX}${source}`;
}

export interface ShadowScheduleSummary {
  readonly scheduleId: string;
  readonly source: string;
  readonly cron: readonly string[];
  readonly paused: boolean;
  readonly note: string | undefined;
  readonly nextRuns: readonly string[];
  readonly recentRuns: number;
}

/**
 * `tally shadow schedule add`: a Temporal Schedule that starts a shadow run of `source` for the
 * period that just closed (the run without a period shadows the month before it started). A firing
 * while the previous run still runs is skipped, never doubled (overlap policy SKIP); the server
 * appends the firing time to each run's workflow id, which is the run's id.
 */
export async function addShadowSchedule(
  client: Client,
  options: {
    source: string;
    cron: string;
    taskQueue: string;
    run: Omit<ShadowRunInput, 'source' | 'period' | 'runId'>;
  },
): Promise<string> {
  const scheduleId = shadowScheduleId(options.source);
  const args: [ShadowRunInput] = [{ ...options.run, source: options.source }];
  await client.schedule.create({
    scheduleId,
    spec: { cronExpressions: [options.cron] },
    action: {
      type: 'startWorkflow',
      workflowType: 'shadowRunWorkflow',
      workflowId: `shadow-run:${options.source}:scheduled`,
      taskQueue: options.taskQueue,
      args,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    state: { note: `shadow runs of ${options.source}` },
    // The server keeps a cron expression only as calendars: the memo keeps it as it was written.
    memo: { cron: options.cron },
  });
  return scheduleId;
}

export async function listShadowSchedules(client: Client): Promise<ShadowScheduleSummary[]> {
  const summaries: ShadowScheduleSummary[] = [];
  for await (const schedule of client.schedule.list()) {
    if (!schedule.scheduleId.startsWith(SCHEDULE_PREFIX)) continue;
    const description = await client.schedule.getHandle(schedule.scheduleId).describe();
    summaries.push({
      scheduleId: schedule.scheduleId,
      source: schedule.scheduleId.slice(SCHEDULE_PREFIX.length),
      cron: typeof description.memo?.cron === 'string' ? [description.memo.cron] : [],
      paused: description.state.paused,
      note: description.state.note,
      nextRuns: description.info.nextActionTimes.slice(0, 3).map((time) => time.toISOString()),
      recentRuns: description.info.recentActions.length,
    });
  }
  return summaries.sort((a, b) => (a.scheduleId < b.scheduleId ? -1 : 1));
}

class ShadowScheduleMissingError extends TallyError {
  constructor(message: string) {
    super('shadow_schedule_missing', message, { permanent: true });
  }
}

/** Pauses (with a note) or deletes the source's schedule; says so when there is none. */
export async function changeShadowSchedule(
  client: Client,
  source: string,
  change: { kind: 'pause'; note: string } | { kind: 'unpause'; note: string } | { kind: 'delete' },
): Promise<void> {
  const handle = client.schedule.getHandle(shadowScheduleId(source));
  try {
    if (change.kind === 'pause') await handle.pause(change.note);
    else if (change.kind === 'unpause') await handle.unpause(change.note);
    else await handle.delete();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError)
      throw new ShadowScheduleMissingError(`no shadow schedule for ${source}`);
    throw error;
  }
}
