import { spawn } from 'node:child_process';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Client, ScheduleHandle } from '@temporalio/client';
import { afterEach, describe, expect, it } from 'vitest';
import { addUser, authenticatePassword, issueToken } from '../../access/index.ts';
import { ensureMarketplaceSchedule } from '../../activities/index.ts';
import { repositoryRoot } from '../../config/services.ts';
import { listPeriodBuckets, listSendLog } from '../../db/queries/marketplace.ts';
import { findReviewException, listReviewExceptions } from '../../db/queries/review-exceptions.ts';
import { addHours, hourOf, periodOfHour } from '../../domain/marketplace/index.ts';
import type { marketplaceLauncherWorkflow, marketplaceSendWorkflow } from '../../workflows/marketplace.ts';
import { marketplaceExceptionWorkflowId, marketplaceSendWorkflowId } from '../../workflows/marketplace-definitions.ts';
import { MarketplaceTestbed, SERVICE_NAME } from '../harness/marketplaces/marketplace-testbed.ts';
import { testStack } from '../harness/services.ts';
import { recordHistory } from '../replay/workflow-histories.ts';
import { triggerUntilNewAction } from '../harness/trigger-schedule.ts';

// The hourly Temporal Schedule on the real dev server, triggered (never waited for): its launcher
// starts the hour's send under a deterministic id, which seals, sends through the adapters to the
// emulators, checks windows and gives each marketplace exception a waiting workflow that billing
// ops decide with `tally review`. Then kill -9 of a real `tally worker` in the middle of a call.

let testbed: MarketplaceTestbed | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await testbed?.close();
  testbed = undefined;
});

async function triggerAndWait(client: Client, schedule: ScheduleHandle, seen: Set<string>) {
  return client.workflow.getHandle<typeof marketplaceLauncherWorkflow>(await triggerUntilNewAction(schedule, seen));
}

function tally(
  bed: MarketplaceTestbed,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return tallyAs(bed, {}, ...args);
}

/** `tally` with extra environment (a reviewer's personal token). */
function tallyAs(
  bed: MarketplaceTestbed,
  extraEnv: Record<string, string>,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const { endpoints } = testStack();
  const child = spawn(process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), ...args], {
    env: {
      ...extraEnv,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: bed.billing.databaseUrl,
      NATS_URL: endpoints.natsUrl,
      TEMPORAL_ADDRESS: endpoints.temporalAddress,
      TEMPORAL_NAMESPACE: endpoints.temporalNamespace,
      TALLY_TASK_QUEUE: bed.billing.taskQueue,
      ...bed.workerEnv(),
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

describe('the hourly marketplace schedule', () => {
  it('sends due buckets when triggered, once per hour however often it runs; an exception waits for `tally review`', async () => {
    const bed = (testbed = await MarketplaceTestbed.create('mkt_schedule'));
    const lastHour = addHours(hourOf(new Date().toISOString()), -1);
    await bed.addCustomer('sch-aws', 'aws');
    await bed.addCustomer('sch-azure', 'azure');
    await bed.addCustomer('sch-gcp', 'gcp');
    // A Google customer whose entitlement lapsed: its operation is refused, and finance hears of it.
    await bed.addCustomer('sch-gcp-lapsed', 'gcp', {
      marketplace: { kind: 'gcp', consumer_id: 'project_number:9999', service_name: SERVICE_NAME },
    } as never);
    bed.gcp.unentitled.add('project_number:9999');
    for (const customer of ['sch-aws', 'sch-azure', 'sch-gcp', 'sch-gcp-lapsed'])
      await bed.billing.storeEvents(
        bed.events(customer, [
          [addHours(lastHour, 0.25), 'llm.tokens', '2500'],
          [addHours(lastHour, 0.5), 'batch.jobs', '1'],
        ]),
      );

    await bed.withWorker(
      async () => {
        const client = bed.billing.client;
        // A minute far from now: the schedule never fires by itself during the test.
        const minute = (new Date().getUTCMinutes() + 30) % 60;
        const scheduleId = await ensureMarketplaceSchedule(client, {
          taskQueue: bed.billing.taskQueue,
          minute,
          stepTimeoutMs: 5_000,
        });
        // Created again (a second worker start): updated, not duplicated.
        await ensureMarketplaceSchedule(client, { taskQueue: bed.billing.taskQueue, minute, stepTimeoutMs: 5_000 });
        const schedule = client.schedule.getHandle(scheduleId);
        try {
          const seen = new Set<string>();
          const launcher = await triggerAndWait(client, schedule, seen);
          const summary = await launcher.result();
          expect(summary).toMatchObject({ failures: [] });
          if ('alreadyRunning' in summary) throw new Error('the first run found a send running');
          expect(summary.sent.aws).toMatchObject({ status: 'sent', rejected: 0 });
          expect(summary.sent.azure).toMatchObject({ status: 'sent', accepted: 2 });
          expect(summary.sent.gcp).toMatchObject({ status: 'sent', accepted: 2, rejected: 2 });
          expect(bed.aws.totals()).toEqual(
            new Map([
              ['123456789012|jobs', 1],
              ['123456789012|tokens', 2],
            ]),
          );
          expect(bed.azure.totals()).toEqual(
            new Map([
              ['7c9e6679-7425-40de-944b-e07fc1f90ae7|jobs', 1],
              ['7c9e6679-7425-40de-944b-e07fc1f90ae7|tokens', 2.5],
            ]),
          );
          expect(bed.gcp.totals().get(`project_number:4242|${SERVICE_NAME}/tokens`)).toBe(2n);

          // Run again in the same hour: the same send id, nothing sent twice.
          const records = [bed.aws.records.size, bed.azure.events.size, bed.gcp.operations.size];
          const again = await (await triggerAndWait(client, schedule, seen)).result();
          expect(again).toMatchObject({ sealed: 0, failures: [] });
          expect([bed.aws.records.size, bed.azure.events.size, bed.gcp.operations.size]).toEqual(records);
          const send = client.workflow.getHandle<typeof marketplaceSendWorkflow>(
            marketplaceSendWorkflowId(bed.billing.taskQueue, hourOf((summary as { asOf: string }).asOf)),
          );
          await recordHistory(launcher, 'marketplace-launcher');
          await recordHistory(send, 'marketplace-send');

          // The refused operation: an exception in the review queue, decided through its workflow's `decide` update.
          const [exception] = await listReviewExceptions(bed.pool, { status: 'waiting' });
          expect(exception).toMatchObject({
            kind: 'marketplace_report_failed',
            customerId: 'sch-gcp-lapsed',
            period: periodOfHour(lastHour),
          });
          const list = await tally(bed, 'review', 'list', '--json');
          expect(list.status, list.stderr).toBe(0);
          expect(
            (JSON.parse(list.stdout) as { exceptionId: string; kind: string }[]).map((entry) => entry.kind),
          ).toEqual(['marketplace_report_failed']);
          const table = await tally(bed, 'review', 'list');
          expect(table.stdout).toContain('marketplace_report_failed');
          const show = await tally(bed, 'review', 'show', exception?.exceptionId ?? '');
          expect(show.status, show.stderr).toBe(0);
          expect(show.stdout).toContain('PERMISSION_DENIED');
          // Decided as a console user with a personal token, as billing ops do at the terminal.
          const password = 'finance fay has a long password';
          await addUser(bed.pool, { operator: 'test' }, { username: 'finance-fay', role: 'reviewer', password });
          const fay = await authenticatePassword(bed.pool, { username: 'finance-fay', password });
          const { token } = await issueToken(bed.pool, fay, 1);
          const approve = await tallyAs(
            bed,
            { TALLY_USER_TOKEN: token },
            'review',
            'approve',
            exception?.exceptionId ?? '',
            '--note',
            'entitlement renewed; billed by hand',
          );
          expect(approve.status, approve.stderr).toBe(0);
          const decided = await findReviewException(bed.pool, exception?.exceptionId ?? '');
          expect(decided).toMatchObject({ status: 'approved', reviewer: 'finance-fay' });
          const waiting = client.workflow.getHandle(marketplaceExceptionWorkflowId(exception?.exceptionId ?? ''));
          expect(await waiting.result()).toMatchObject({ kind: 'approve', reviewer: 'finance-fay' });
          await recordHistory(waiting, 'marketplace-exception-approved');
        } finally {
          await schedule.delete();
        }
      },
      { settleMs: 0 },
    );
    // A schedule, its triggered runs, a child per hour and an exception workflow: minutes on a busy machine.
  }, 180_000);

  it('kill -9 of the worker in the middle of a call: the next worker finds out what AWS accepted, sends nothing twice', async () => {
    const bed = (testbed = await MarketplaceTestbed.create('mkt_crash'));
    const lastHour = addHours(hourOf(new Date().toISOString()), -1);
    await bed.addCustomer('crash-aws', 'aws');
    await bed.billing.storeEvents(
      bed.events('crash-aws', [
        [addHours(lastHour, 0.1), 'llm.tokens', '4200'],
        [addHours(lastHour, 0.2), 'batch.jobs', '1'],
      ]),
    );
    bed.aws.server.inject({ fault: { kind: 'hold' } });
    const first = await bed.billing.spawnWorker({ ...bed.workerEnv(), TALLY_OPENER_STEP_TIMEOUT: '3s' });
    children.push(first);
    const asOf = new Date().toISOString();
    const handle = await bed.billing.client.workflow.start('marketplaceSendWorkflow', {
      taskQueue: bed.billing.taskQueue,
      workflowId: `${bed.billing.name}:${marketplaceSendWorkflowId(bed.billing.taskQueue, hourOf(asOf))}`,
      args: [{ asOf, stepTimeoutMs: 3_000 }],
    });
    while (bed.aws.server.heldCount === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    // AWS processes the call, but its answer has nobody to go to.
    bed.aws.server.release();
    expect(bed.aws.records.size).toBe(2);
    children.push(await bed.billing.spawnWorker({ ...bed.workerEnv(), TALLY_OPENER_STEP_TIMEOUT: '3s' }));
    const summary = (await handle.result()) as {
      sent: { aws: { accepted: number; pending: number } };
      failures: string[];
    };
    expect(summary.sent.aws).toMatchObject({ accepted: 2, pending: 0 });
    expect(bed.aws.records.size).toBe(2);
    expect(bed.aws.totals()).toEqual(
      new Map([
        ['123456789012|jobs', 1],
        ['123456789012|tokens', 4],
      ]),
    );
    const buckets = await listPeriodBuckets(bed.pool, { period: periodOfHour(lastHour), customerId: 'crash-aws' });
    const sent = buckets.filter((bucket) => bucket.hour === lastHour);
    expect(sent.map((bucket) => [bucket.attempts, bucket.outcome])).toEqual([
      [2, 'accepted'],
      [2, 'accepted'],
    ]);
    const log = await listSendLog(
      bed.pool,
      sent.map((bucket) => bucket.bucketId),
    );
    expect(log.map((entry) => [entry.attempt, entry.answer])).toEqual([
      [1, null],
      [2, 'accepted'],
      [1, null],
      [2, 'accepted'],
    ]);
    // Two calls reached AWS; the second was the identical records, which AWS answered from what it held.
    expect(bed.aws.server.requests.map((request) => request.outcome)).toEqual(['lost_response', 200]);
  }, 120_000);
});
