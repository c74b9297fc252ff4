import http from 'node:http';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, ScheduleHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyActivityInterceptors, createAnomalyActivities, ensureAnomalySchedule } from '../../activities/index.ts';
import { anomalyDependencies, parseAnomalyEnv } from '../../config/anomalies.ts';
import { listAnomalies, updateAnomaly } from '../../db/queries/anomalies.ts';
import { dayNumber, dayText } from '../../domain/anomalies/utc-days.ts';
import { createWebhookNotifier } from '../../providers/webhook-notifier.ts';
import type { anomalyDayWorkflow, anomalyLauncherWorkflow } from '../../workflows/anomalies.ts';
import { anomalyDayWorkflowId, anomalyScheduleId } from '../../workflows/anomaly-definitions.ts';
import { buildUsageEvent } from '../builders/rating.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';
import { recordHistory } from '../replay/workflow-histories.ts';
import { triggerUntilNewAction } from '../harness/trigger-schedule.ts';

// The daily anomaly schedule on the real dev server, triggered (never waited for): its launcher scans
// yesterday's stored usage with the detector, records each anomaly once and alerts it to the targets
// its routes pick (two local HTTP receivers), retrying a failing target; a second run alerts nothing.

const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
const run = `${process.pid}`;
const spiking = `anom-spike-${run}`;
const steady = `anom-steady-${run}`;
const silent = `anom-silent-${run}`;

interface Received {
  key: string;
  body: Record<string, unknown>;
  status: number;
}

let testbed: BillingTestbed;
let finance: http.Server;
const financeReceived: Received[] = [];
let financeUrl: string;

beforeAll(async () => {
  testbed = await BillingTestbed.create('anomaly_schedule');
  finance = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      financeReceived.push({
        key: String(request.headers['idempotency-key']),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        status: 204,
      });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => finance.listen(0, '127.0.0.1', resolve));
  financeUrl = `http://127.0.0.1:${(finance.address() as { port: number }).port}/finance`;
});
afterAll(async () => {
  await new Promise((resolve) => finance?.close(resolve));
  await testbed?.close();
});

async function triggerAndWait(client: Client, schedule: ScheduleHandle, seen: Set<string>) {
  return client.workflow.getHandle<typeof anomalyLauncherWorkflow>(await triggerUntilNewAction(schedule, seen));
}

/** 42 days of db.queries usage ending yesterday: weekday 1000, weekend 300, with yesterday's spike and silence. */
function usage() {
  const yesterday = (dayNumber(new Date().toISOString().slice(0, 10)) as number) - 1;
  const events = [];
  for (let day = yesterday - 41; day <= yesterday; day += 1) {
    const weekday = (day + 4) % 7;
    const level = weekday === 0 || weekday === 6 ? 300 : 1000;
    for (const customer of [spiking, steady, silent]) {
      if (day === yesterday && customer === silent) continue;
      const quantity = day === yesterday && customer === spiking ? level * 10 : level + ((day * 13) % 7);
      events.push(
        buildUsageEvent({
          event_id: `${customer}-${day}`,
          customer_id: customer,
          timestamp: `${dayText(day)}T09:00:00Z`,
          unit: 'queries',
          quantity: String(quantity),
          metadata: { sku: 'db.queries' },
        }),
      );
    }
  }
  return { events, yesterday: dayText(yesterday) };
}

describe('the daily anomaly schedule', () => {
  it('scans yesterday when triggered, alerts each anomaly once to the targets its routes pick, retrying a failing one', async () => {
    const { events, yesterday } = usage();
    await testbed.storeEvents(events);
    const folder = await mkdtemp(path.join(os.tmpdir(), 'tally-anomaly-schedule-'));
    const costsDir = path.join(folder, 'costs');
    await mkdir(costsDir);
    await writeFile(
      path.join(costsDir, '2020-01-01.yaml'),
      'effective_from: 2020-01-01T00:00:00Z\ncosts:\n  - { sku: db.queries, unit: queries, unit_cost: "0.011", currency: USD }\n',
    );
    const routesFile = path.join(folder, 'anomaly-routes.yaml');
    await writeFile(
      routesFile,
      [
        'targets:',
        `  oncall: ${testbed.webhookUrl}`,
        `  finance: ${financeUrl}`,
        'routes:',
        '  - { target: oncall, severity: [high], metric: [usage] }',
        `  - { target: finance, customers: [${spiking}] }`,
        '',
      ].join('\n'),
    );
    const config = parseAnomalyEnv({ TALLY_COSTS_DIR: costsDir, TALLY_ANOMALY_ROUTES: routesFile });
    // The on-call receiver fails at first: the delivery step retries it with backoff.
    testbed.answerWebhookWith(503);

    const connection = await NativeConnection.connect({ address: testStack().endpoints.temporalAddress });
    try {
      const worker = await Worker.create({
        connection,
        namespace: testStack().endpoints.temporalNamespace,
        taskQueue: testbed.taskQueue,
        workflowsPath: WORKFLOWS_PATH,
        interceptors: { activity: tallyActivityInterceptors },
        activities: createAnomalyActivities({
          pool: testbed.pool,
          ...anomalyDependencies(config),
          notifierFor: (url) => createWebhookNotifier(url, 5_000),
        }),
      });
      await worker.runUntil(async () => {
        const scheduleId = await ensureAnomalySchedule(testbed.client, {
          taskQueue: testbed.taskQueue,
          hour: 3,
          minute: 17,
          stepTimeoutMs: 5_000,
        });
        expect(scheduleId).toBe(anomalyScheduleId(testbed.taskQueue));
        const schedule = testbed.client.schedule.getHandle(scheduleId);
        try {
          const seen = new Set<string>();
          const launcher = await triggerAndWait(testbed.client, schedule, seen);
          // Two failed attempts at the on-call target, then it recovers.
          const deadline = Date.now() + 60_000;
          while (testbed.notifications.filter((sent) => sent.status === 503).length < 2) {
            if (Date.now() > deadline) throw new Error('no retried delivery at the on-call target');
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          testbed.answerWebhookWith(204);
          const summary = await launcher.result();
          await recordHistory(launcher, 'anomaly-launcher');
          await recordHistory(
            testbed.client.workflow.getHandle<typeof anomalyDayWorkflow>(
              anomalyDayWorkflowId(testbed.taskQueue, yesterday),
            ),
            'anomaly-day-alerted-after-retries',
          );
          expect(summary).toMatchObject({ day: yesterday, recorded: 3, routed: 3, suppressed: 0, undelivered: false });

          const recorded = await listAnomalies(testbed.pool, { from: yesterday, to: yesterday });
          const ours = recorded.filter((anomaly) => [spiking, steady, silent].includes(anomaly.customerId ?? ''));
          expect(ours.map((anomaly) => [anomaly.customerId, anomaly.kind, anomaly.severity])).toEqual([
            [silent, 'silence', 'high'],
            [spiking, 'spike', 'high'],
          ]);
          // COGS of the SKU moved too (one customer at 10×): recorded; the on-call route is for usage and a customer route never matches COGS.
          const cogs = recorded.filter((anomaly) => anomaly.metric === 'cogs');
          expect(cogs.map((anomaly) => [anomaly.sku, anomaly.kind, anomaly.deliveries])).toEqual([
            ['db.queries', 'spike', []],
          ]);
          // Its figures are money in the currency COGS was summed in; usage figures are quantities.
          expect(cogs.map((anomaly) => anomaly.currency)).toEqual(['USD']);
          expect(ours.map((anomaly) => anomaly.currency)).toEqual([null, null]);

          const key = (customer: string, target: string) =>
            `anomaly:usage:${customer}:db.queries:${yesterday}:${target}`;
          const delivered = (received: readonly Received[]) =>
            received
              .filter((sent) => sent.status < 300)
              .map((sent) => sent.key)
              .sort();
          expect(delivered(testbed.notifications)).toEqual([key(spiking, 'oncall'), key(silent, 'oncall')].sort());
          expect(delivered(financeReceived)).toEqual([key(spiking, 'finance')]);
          expect(financeReceived[0]?.body).toMatchObject({
            key: key(spiking, 'finance'),
            kind: 'anomaly',
            anomaly_kind: 'spike',
            anomaly: { customer_id: spiking, sku: 'db.queries', day: yesterday, metric: 'usage', severity: 'high' },
          });
          const onCallSpike = ours
            .find((anomaly) => anomaly.customerId === spiking)
            ?.deliveries.find((delivery) => delivery.target === 'oncall');
          expect(onCallSpike?.attempts).toBeGreaterThanOrEqual(2);
          expect(onCallSpike?.deliveredAt).toEqual(expect.any(String));

          // A second run of the same day (a manual trigger) records and alerts nothing again.
          const before = testbed.notifications.length + financeReceived.length;
          const again = await triggerAndWait(testbed.client, schedule, seen);
          expect(await again.result()).toMatchObject({ day: yesterday, recorded: 0, routed: 0, delivered: 0 });
          expect(testbed.notifications.length + financeReceived.length).toBe(before);
        } finally {
          await schedule.delete();
        }
      });
    } finally {
      await connection.close();
    }
  });

  it('a snoozed series is recorded but not alerted; ack and annotate keep who and what', async () => {
    const { yesterday } = usage();
    const spike = (await listAnomalies(testbed.pool, { customerId: spiking }))[0];
    expect(spike).toBeDefined();
    const updated = await updateAnomaly(testbed.pool, spike?.anomalyId ?? '', {
      acknowledge: true,
      action: 'throttled',
      note: 'runaway batch job',
      by: 'cli:oncall',
    });
    expect(updated).toMatchObject({
      status: 'acknowledged',
      action: 'throttled',
      note: 'runaway batch job',
      updatedBy: 'cli:oncall',
    });
    expect(
      await updateAnomaly(testbed.pool, 'usage:nobody:x:2026-01-01', { acknowledge: true, by: 'cli:oncall' }),
    ).toBeUndefined();
    // Snooze the spiking series for a week, then scan today as the day: its spike continues and is not alerted.
    await updateAnomaly(testbed.pool, spike?.anomalyId ?? '', {
      snoozedUntil: new Date(Date.parse(`${yesterday}T00:00:00Z`) + 8 * 86_400_000).toISOString(),
      by: 'cli:oncall',
    });
    const today = dayText((dayNumber(yesterday) as number) + 1);
    await testbed.storeEvents([
      buildUsageEvent({
        event_id: `${spiking}-today`,
        customer_id: spiking,
        timestamp: `${today}T00:10:00Z`,
        unit: 'queries',
        quantity: '50000',
        metadata: { sku: 'db.queries' },
      }),
    ]);
    const activities = createAnomalyActivities({
      pool: testbed.pool,
      routes: async () => ({ targets: { oncall: testbed.webhookUrl }, routes: [{ target: 'oncall' }] }),
      notifierFor: (url) => createWebhookNotifier(url, 5_000),
    });
    const result = await activities.detectDayAnomalies({ day: today });
    const todays = (await listAnomalies(testbed.pool, { customerId: spiking, from: today, to: today }))[0];
    expect(todays).toMatchObject({ kind: 'spike', deliveries: [] });
    expect(todays?.suppressed).toContain(`snoozed until`);
    expect(result.suppressed).toBeGreaterThanOrEqual(1);
  });
});
