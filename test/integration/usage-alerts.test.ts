import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkChangedUsageAlerts,
  checkUsageAlerts,
  deliverNotification,
  type UsageAlertDependencies,
} from '../../activities/index.ts';
import { tallyInProcess as tally } from '../cli/tally-in-process.ts';
import { recordCreditGrants } from '../../activities/credit-ledger.ts';
import { findNotification, listUndeliveredNotifications } from '../../db/queries/notifications.ts';
import { listUsageAlerts } from '../../db/queries/usage-alerts.ts';
import { publishedTerms } from '../../terms/index.ts';
import { createWebhookNotifier } from '../../providers/webhook-notifier.ts';
import { buildContract, buildUsageEvent } from '../builders/rating.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';

// November 2026: one version of the standard card is in force all month (2026-10-16), so
// `db.queries` (a dimensionless sum, 0.05 per started 1,000) is valued exactly from the totals.
const PERIOD = '2026-11';

let testbed: BillingTestbed;
let deps: UsageAlertDependencies;
let eventNumber = 0;

beforeAll(async () => {
  testbed = await BillingTestbed.create('usage_alerts');
  deps = {
    pool: testbed.pool,
    terms: publishedTerms(testbed.pool),
    notifier: createWebhookNotifier(testbed.webhookUrl),
  };
});
afterAll(async () => {
  await testbed?.close();
});

/** Stores `quantity` database queries for the customer through ingest's write path (running totals included). */
async function storeQueries(customerId: string, quantity: string, day = 10): Promise<void> {
  eventNumber += 1;
  const event = buildUsageEvent({
    event_id: `alerts-${eventNumber}`,
    customer_id: customerId,
    timestamp: `2026-11-${String(day).padStart(2, '0')}T12:00:00.000Z`,
    unit: 'queries',
    quantity,
    metadata: { sku: 'db.queries' },
  });
  expect(await testbed.storeEvents([event])).toEqual({ stored: 1, late: 0 });
}

function sentTo(customerId: string): { key: string; status: number }[] {
  return testbed.notifications
    .filter((sent) => sent.body.customerId === customerId)
    .map(({ key, status }) => ({ key, status }));
}

describe('usage alerts against the commit', () => {
  const customerId = 'alerts-commit';

  it('records 50 and 75 once, then 90 and 100 when more usage arrives, each sent to the webhook once', async () => {
    await testbed.publishContract(buildContract({ customer_id: customerId, commit: { amount: '1000.00' } }));
    // 16,000,000 queries: 16,000 packages × 0.05 = 800.00, 80 % of the commit.
    await storeQueries(customerId, '8000000', 3);
    await storeQueries(customerId, '8000000', 9);

    const first = await checkUsageAlerts(deps, { customerId, period: PERIOD });
    expect(first).toMatchObject({
      status: 'checked',
      usage: '800.00',
      exact: true,
      currency: 'USD',
      eventCount: '2',
      references: { commit: '1000.00' },
      alerts: [
        {
          basis: 'commit',
          thresholdPct: 50,
          usage: '800.00',
          reference: '1000.00',
          delivered: true,
          notificationKey: `usage_alert:${customerId}:${PERIOD}:commit:50`,
        },
        {
          basis: 'commit',
          thresholdPct: 75,
          delivered: true,
          notificationKey: `usage_alert:${customerId}:${PERIOD}:commit:75`,
        },
      ],
    });
    expect(sentTo(customerId)).toEqual([
      { key: `usage_alert:${customerId}:${PERIOD}:commit:50`, status: 204 },
      { key: `usage_alert:${customerId}:${PERIOD}:commit:75`, status: 204 },
    ]);
    const body = testbed.notifications.find((sent) => sent.key.endsWith('commit:75'))?.body;
    expect(body).toMatchObject({
      key: `usage_alert:${customerId}:${PERIOD}:commit:75`,
      kind: 'usage_alert',
      customerId,
      period: PERIOD,
      basis: 'commit',
      thresholdPct: 75,
      usage: '800.00',
      reference: '1000.00',
      currency: 'USD',
      usedPct: '80.00',
      valuation: 'exact',
      approximations: [],
      eventCount: '2',
    });
    expect(String(body?.message)).toContain('reached 80.00% of the minimum commit (800.00 of 1000.00 USD)');

    // The same totals again: nothing new recorded or sent.
    expect(await checkUsageAlerts(deps, { customerId, period: PERIOD })).toMatchObject({
      status: 'checked',
      usage: '800.00',
      alerts: [],
    });
    expect(sentTo(customerId)).toHaveLength(2);

    // 4,000,000 more: 1000.00, the whole commit: 90 and 100 at once.
    await storeQueries(customerId, '4000000', 20);
    const second = await checkUsageAlerts(deps, { customerId, period: PERIOD });
    expect(second).toMatchObject({ status: 'checked', usage: '1000.00', eventCount: '3' });
    expect(second.status === 'checked' && second.alerts.map((alert) => [alert.thresholdPct, alert.delivered])).toEqual([
      [90, true],
      [100, true],
    ]);
    expect(await checkUsageAlerts(deps, { customerId, period: PERIOD })).toMatchObject({ alerts: [] });
    expect(sentTo(customerId).map((sent) => sent.key.split(':').slice(-2).join(':'))).toEqual([
      'commit:50',
      'commit:75',
      'commit:90',
      'commit:100',
    ]);

    const records = await listUsageAlerts(testbed.pool, { customerId });
    expect(
      records.map((record) => [
        record.basis,
        record.thresholdPct,
        record.usageValue,
        record.referenceAmount,
        record.valuation,
        record.eventCount,
      ]),
    ).toEqual([
      ['commit', 50, '800.00', '1000.00', 'exact', '2'],
      ['commit', 75, '800.00', '1000.00', 'exact', '2'],
      ['commit', 90, '1000.00', '1000.00', 'exact', '3'],
      ['commit', 100, '1000.00', '1000.00', 'exact', '3'],
    ]);
    for (const record of records)
      expect(record).toMatchObject({
        deliveryAttempts: 1,
        lastDeliveryError: undefined,
        deliveredAt: expect.any(String),
      });
  });

  it('checks running side by side record each threshold once', async () => {
    const racing = 'alerts-racing';
    await testbed.publishContract(buildContract({ customer_id: racing, commit: { amount: '100.00' } }));
    await storeQueries(racing, '2000000');
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => checkUsageAlerts(deps, { customerId: racing, period: PERIOD })),
    );
    const recorded = results.flatMap((result) =>
      result.status === 'checked' ? result.alerts.map((alert) => alert.thresholdPct) : [],
    );
    expect(recorded.sort((a, b) => a - b)).toEqual([50, 75, 90, 100]);
    expect(await listUsageAlerts(testbed.pool, { customerId: racing })).toHaveLength(4);
    expect(sentTo(racing)).toHaveLength(4);
  });

  it('an alert is a fact: the table refuses changes', async () => {
    await expect(
      testbed.pool.query(`UPDATE usage_alerts SET usage_value = 0 WHERE customer_id = 'alerts-commit'`),
    ).rejects.toThrow(/append-only/);
    await expect(testbed.pool.query(`DELETE FROM usage_alerts WHERE customer_id = 'alerts-commit'`)).rejects.toThrow(
      /append-only/,
    );
  });
});

describe('usage alerts against the prepaid balance', () => {
  it('a failing webhook leaves the notification undelivered; redelivery succeeds later; one record per threshold', async () => {
    const customerId = 'alerts-prepaid';
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        credits: [
          { id: 'prepaid-1', kind: 'prepaid', amount: '1500.00', granted_at: '2026-09-15T00:00:00Z' },
          { id: 'prepaid-2', kind: 'prepaid', amount: '500.00', granted_at: '2026-11-05T00:00:00Z' },
          { id: 'promo', kind: 'promotional', amount: '300.00', granted_at: '2026-09-15T00:00:00Z' },
        ],
      }),
    );
    // The ledger knows prepaid-1 (recorded when an earlier period was rated); prepaid-2 is still only in the contract.
    await recordCreditGrants(testbed.pool, {
      customerId,
      currency: 'USD',
      grants: [{ id: 'prepaid-1', kind: 'prepaid', amount: '1500.00', granted_at: '2026-09-15T00:00:00Z' }],
    });
    await storeQueries(customerId, '21000000');

    testbed.answerWebhookWith(500);
    try {
      const check = await checkUsageAlerts(deps, { customerId, period: PERIOD });
      // 1050.00 of 2000.00 (prepaid-1 from the ledger + prepaid-2 from the contract; promotional credits are not prepaid).
      expect(check).toMatchObject({ status: 'checked', usage: '1050.00', references: { prepaid: '2000.00' } });
      expect(
        check.status === 'checked' && check.alerts.map((alert) => [alert.basis, alert.thresholdPct, alert.delivered]),
      ).toEqual([['prepaid', 50, false]]);
      const key = `usage_alert:${customerId}:${PERIOD}:prepaid:50`;
      expect(await findNotification(testbed.pool, key)).toMatchObject({ deliveredAt: undefined, attempts: 1 });
      expect(sentTo(customerId)).toEqual([{ key, status: 500 }]);

      // Checking again neither records nor sends it again: delivery is the redelivery loop's job.
      expect(await checkUsageAlerts(deps, { customerId, period: PERIOD })).toMatchObject({ alerts: [] });
      expect(sentTo(customerId)).toHaveLength(1);

      // The worker's redelivery loop, once the webhook is back.
      testbed.answerWebhookWith(204);
      const undelivered = (await listUndeliveredNotifications(testbed.pool, 50)).filter(
        (notification) => notification.customerId === customerId,
      );
      expect(undelivered.map((notification) => notification.notificationKey)).toEqual([key]);
      for (const notification of undelivered)
        expect(await deliverNotification(deps, notification.notificationKey, notification.payload)).toBe(true);

      expect(sentTo(customerId)).toEqual([
        { key, status: 500 },
        { key, status: 204 },
      ]);
      expect(testbed.notifications.filter((sent) => sent.key === key).map((sent) => sent.body.usedPct)).toEqual([
        '52.50',
        '52.50',
      ]);
      expect(await findNotification(testbed.pool, key)).toMatchObject({ deliveredAt: expect.any(String), attempts: 2 });
      const records = await listUsageAlerts(testbed.pool, { customerId });
      expect(records.map((record) => [record.basis, record.thresholdPct, record.referenceAmount])).toEqual([
        ['prepaid', 50, '2000.00'],
      ]);
      expect(records[0]).toMatchObject({ deliveryAttempts: 2, deliveredAt: expect.any(String) });
    } finally {
      testbed.answerWebhookWith(204);
    }
  });
});

describe('estimates', () => {
  it('tokens priced by region are valued at the dearer region and recorded as an estimate', async () => {
    const customerId = 'alerts-tokens';
    await testbed.publishContract(buildContract({ customer_id: customerId, commit: { amount: '50.00' } }));
    eventNumber += 1;
    await testbed.storeEvents([
      buildUsageEvent({
        event_id: `alerts-${eventNumber}`,
        customer_id: customerId,
        timestamp: '2026-11-12T08:00:00.000Z',
        quantity: '5000000',
        metadata: { sku: 'llm.tokens', region: 'us-east-1' },
      }),
    ]);
    const check = await checkUsageAlerts(deps, { customerId, period: PERIOD });
    // 5,000 thousand-token packages on tokens-eu's tiers (1000 × 0.011 + 4000 × 0.008 = 43.00) less the 10 % launch discount.
    expect(check).toMatchObject({ status: 'checked', usage: '38.70', exact: false });
    expect(check.status === 'checked' && check.alerts.map((alert) => alert.thresholdPct)).toEqual([50, 75]);
    const [record] = await listUsageAlerts(testbed.pool, { customerId });
    expect(record).toMatchObject({ valuation: 'estimate' });
    expect(
      testbed.notifications.find((sent) => sent.key === `usage_alert:${customerId}:${PERIOD}:commit:75`)?.body,
    ).toMatchObject({
      valuation: 'estimate',
      approximations: [
        {
          kind: 'dimensions_unknown',
          sku: 'llm.tokens',
          unit: 'tokens',
          candidates: ['tokens-us', 'tokens-eu'],
          chosen: 'tokens-eu',
        },
      ],
    });
  });
});

describe('the worker loop: customer-periods whose totals changed', () => {
  it('checks what changed, skips a customer without a contract, and comes back when its usage grows', async () => {
    const withContract = 'alerts-loop';
    const withoutContract = 'alerts-no-contract';
    await testbed.publishContract(buildContract({ customer_id: withContract, commit: { amount: '100.00' } }));
    await storeQueries(withContract, '1000000');
    await storeQueries(withoutContract, '1000000');

    // Start-up: a full scan (other tests' customer-periods are already checked, so only these two are due).
    const first = await checkChangedUsageAlerts(deps, {});
    const mine = (scan: typeof first) =>
      scan.results.filter(
        (result) => result.customerId.startsWith('alerts-loop') || result.customerId === withoutContract,
      );
    expect(first.failures).toEqual([]);
    expect(mine(first).map((result) => [result.customerId, result.status])).toEqual([
      [withContract, 'checked'],
      [withoutContract, 'skipped'],
    ]);
    expect(first.results.find((result) => result.customerId === withContract)).toMatchObject({
      usage: '50.00',
      alerts: [{ thresholdPct: 50 }],
    });
    const skipped = first.results.find((result) => result.customerId === withoutContract);
    expect(skipped?.status === 'skipped' && skipped.reason).toMatch(
      /no published contract for customer alerts-no-contract/,
    );
    expect(first.nextSince).toEqual(expect.any(String));

    // Nothing changed: nothing to check, and the skipped customer is not retried.
    const second = await checkChangedUsageAlerts(deps, { since: first.nextSince });
    expect(mine(second)).toEqual([]);

    // More usage for both: both are due again (the one without a contract is skipped again).
    await storeQueries(withContract, '1000000');
    await storeQueries(withoutContract, '1');
    const third = await checkChangedUsageAlerts(deps, { since: second.nextSince });
    expect(mine(third).map((result) => [result.customerId, result.status])).toEqual([
      [withContract, 'checked'],
      [withoutContract, 'skipped'],
    ]);
    expect(third.results.find((result) => result.customerId === withContract)).toMatchObject({
      usage: '100.00',
      alerts: [{ thresholdPct: 75 }, { thresholdPct: 90 }, { thresholdPct: 100 }],
    });

    // Its contract arrives; a restart's full scan retries skipped customer-periods.
    await testbed.publishContract(buildContract({ customer_id: withoutContract, commit: { amount: '10.00' } }));
    expect(mine(await checkChangedUsageAlerts(deps, { since: third.nextSince }))).toEqual([]);
    const restart = await checkChangedUsageAlerts(deps, {});
    expect(mine(restart)).toMatchObject([
      {
        customerId: withoutContract,
        status: 'checked',
        usage: '50.05',
        alerts: [{ thresholdPct: 50 }, { thresholdPct: 75 }, { thresholdPct: 90 }, { thresholdPct: 100 }],
      },
    ]);
  });

  it('leaves periods closed for ingest to their invoice', async () => {
    const customerId = 'alerts-closed';
    await testbed.publishContract(buildContract({ customer_id: customerId, commit: { amount: '10.00' } }));
    await storeQueries(customerId, '1000000');
    await testbed.pool.query(`INSERT INTO period_closures (customer_id, period, event_cutoff) VALUES ($1, $2, now())`, [
      customerId,
      PERIOD,
    ]);
    expect(
      (await checkChangedUsageAlerts(deps, {})).results.filter((result) => result.customerId === customerId),
    ).toEqual([]);
    expect(await listUsageAlerts(testbed.pool, { customerId })).toEqual([]);
  });

  it('a change committed late by a long ingest transaction is found within the slack, and by a full scan beyond it', async () => {
    const customerId = 'alerts-slow-ingest';
    await testbed.publishContract(buildContract({ customer_id: customerId, commit: { amount: '100.00' } }));
    await storeQueries(customerId, '1000');
    const before = await checkChangedUsageAlerts(deps, {});
    expect(before.results.filter((result) => result.customerId === customerId)).toHaveLength(1);
    const since = before.nextSince as string;
    // Totals whose updated_at (their transaction's start) is older than the scan that just ran,
    // as when an ingest transaction commits after a scan that began while it was open.
    const commitLate = (updatedAt: string) =>
      testbed.pool.query(
        `UPDATE usage_running_totals SET event_count = event_count + 1, quantity_sum = quantity_sum + 1000, updated_at = $2::timestamptz
        WHERE customer_id = $1`,
        [customerId, updatedAt],
      );
    const mine = (scan: Awaited<ReturnType<typeof checkChangedUsageAlerts>>) =>
      scan.results.filter((result) => result.customerId === customerId);

    await commitLate(new Date(Date.parse(since) + 9 * 60_000).toISOString());
    const within = await checkChangedUsageAlerts(deps, { since });
    expect(mine(within)).toMatchObject([{ status: 'checked', eventCount: '2', usage: '0.10' }]);

    // Older than the slack: the incremental scan cannot see it; the next change or a start-up's full scan does.
    await commitLate(new Date(Date.parse(within.nextSince as string) - 60_000).toISOString());
    expect(mine(await checkChangedUsageAlerts(deps, { since: within.nextSince }))).toEqual([]);
    expect(mine(await checkChangedUsageAlerts(deps, {}))).toMatchObject([
      { status: 'checked', eventCount: '3', usage: '0.15' },
    ]);
  });
});

describe('tally alerts list', () => {
  it('prints the alerts as a table and as JSON', async () => {
    const { endpoints } = testStack();
    process.env.DATABASE_URL = testbed.databaseUrl;
    process.env.NATS_URL = endpoints.natsUrl;
    process.env.TEMPORAL_ADDRESS = endpoints.temporalAddress;
    const table = (await tally('alerts', 'list', '--customer', 'alerts-commit', '--period', PERIOD)).split('\n');
    expect(table[0]).toMatch(
      /^customer\s+period\s+basis\s+threshold\s+used\s+usage\s+reference\s+currency\s+valuation\s+crossed\s+webhook$/,
    );
    expect(table.slice(1, 5).map((line) => line.split(/\s+/).slice(0, 9).join(' '))).toEqual([
      'alerts-commit 2026-11 commit 50% 80.00% 800.00 1000.00 USD exact',
      'alerts-commit 2026-11 commit 75% 80.00% 800.00 1000.00 USD exact',
      'alerts-commit 2026-11 commit 90% 100.00% 1000.00 1000.00 USD exact',
      'alerts-commit 2026-11 commit 100% 100.00% 1000.00 1000.00 USD exact',
    ]);
    expect(table[1]).toMatch(/delivered \d{4}-/);
    const json = JSON.parse(await tally('alerts', 'list', '--customer', 'alerts-prepaid', '--json')) as unknown[];
    expect(json).toMatchObject([
      { customerId: 'alerts-prepaid', basis: 'prepaid', thresholdPct: 50, usageValue: '1050.00', deliveryAttempts: 2 },
    ]);
    expect(await tally('alerts', 'list', '--customer', 'nobody')).toBe('no usage alerts\n');
  });
});
