import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listUsageAlerts } from '../../db/queries/usage-alerts.ts';
import { periodOf } from '../../domain/period.ts';
import { buildContract, buildUsageEvent } from '../builders/rating.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { waitFor } from '../harness/wait-for.ts';

// Customer ids of their own: the worker's period opener starts `billing:<customer>:<period>`
// workflows, whose ids are shared by every test on the run's Temporal namespace.
const customerId = `alerts-e2e-${process.pid}`;
// The current month: the worker's opener starts the period's workflow, and a period that has already
// ended would close at once (grace 0), after which its usage is late and no longer alerted on.
const period = periodOf(new Date());
const usedAt = new Date(Math.max(Date.parse(period.start), Date.now() - 60_000)).toISOString();
const withoutContract = `alerts-e2e-none-${process.pid}`;

let testbed: BillingTestbed;

beforeAll(async () => {
  testbed = await BillingTestbed.create('usage_alerts_worker');
});
afterAll(async () => {
  await testbed?.close();
});

describe('tally worker: the usage-alert loop', () => {
  it('alerts on usage stored while it runs, beside a customer without a contract, each threshold once', async () => {
    await testbed.publishContract(buildContract({ customer_id: customerId, commit: { amount: '100.00' } }));
    const event = (id: string, customer: string, quantity: string) =>
      buildUsageEvent({
        event_id: id,
        customer_id: customer,
        timestamp: usedAt,
        unit: 'queries',
        quantity,
        metadata: { sku: 'db.queries' },
      });
    // Usage of a customer without a contract first: the loop must skip it and carry on.
    await testbed.storeEvents([event('e2e-none-1', withoutContract, '5000000')]);
    await testbed.spawnWorker({ TALLY_USAGE_ALERT_INTERVAL: '300ms' });

    // 1,600,000 queries: 80.00 of a 100.00 commit.
    await testbed.storeEvents([event('e2e-1', customerId, '1600000')]);
    const key = (pct: number) => `usage_alert:${customerId}:${period.name}:commit:${pct}`;
    await waitFor('the 75 % alert at the webhook', async () =>
      testbed.notifications.find((sent) => sent.key === key(75)),
    );

    await testbed.storeEvents([event('e2e-2', customerId, '400000')]);
    await waitFor('the 100 % alert at the webhook', async () =>
      testbed.notifications.find((sent) => sent.key === key(100)),
    );

    // The check after the last change has run (its watermark holds the latest count): nothing more can come.
    await waitFor('the last check', async () => {
      const { rows } = await testbed.pool.query<{ n: string }>(
        'SELECT checked_event_count::text AS n FROM usage_alert_checks WHERE customer_id = $1 AND period = $2',
        [customerId, period.name],
      );
      return rows[0]?.n === '2' ? true : undefined;
    });
    expect(testbed.notifications.filter((sent) => sent.body.customerId === customerId).map((sent) => sent.key)).toEqual(
      [key(50), key(75), key(90), key(100)],
    );
    expect(
      (await listUsageAlerts(testbed.pool, { customerId })).map((record) => [record.thresholdPct, record.usageValue]),
    ).toEqual([
      [50, '80.00'],
      [75, '80.00'],
      [90, '100.00'],
      [100, '100.00'],
    ]);
    const { rows } = await testbed.pool.query<{ skipped_reason: string | null }>(
      'SELECT skipped_reason FROM usage_alert_checks WHERE customer_id = $1',
      [withoutContract],
    );
    expect(rows[0]?.skipped_reason).toMatch(/no published contract for customer/);
  });
});
