import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInvoice } from '../../db/queries/invoices.ts';
import { trialBalance } from '../../db/queries/journal.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// The unattended close of a customer on the Postgres ledger sink makes no activity round trip through
// the server: every step, snapshot, rate and the ledger sync included, runs as a local activity
// inside workflow tasks (see docs/decisions/period-close.md); a remote provider (Stripe) stays a
// regular activity. Workflows started before those changes replay their regular activities: the
// recorded histories in test/replay cover the earlier shapes.

let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('round_trips');
});
afterAll(async () => {
  await testbed.close();
});

describe('the unattended close', () => {
  it('runs every step of a ledger-sink close as a local activity, each once, and the invoice is complete', async () => {
    const customerId = 'round-trips';
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        starts_at: '2026-01-01T00:00:00Z',
        commit: { amount: '20.00' },
        credits: [{ id: 'promo', kind: 'promotional', amount: '3.00', granted_at: '2026-09-01T00:00:00Z' }],
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    await testbed.storeEvents(
      [1, 2, 3].map((index) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-${index}`,
          timestamp: `2026-10-0${index}T08:00:00.000Z`,
          quantity: '100000',
        }),
      ),
    );

    const { result, history } = await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'));
      return { result: await handle.result(), history: await handle.fetchHistory() };
    });
    expect(result.stage).toBe('completed');

    const events = history.events ?? [];
    const scheduled = events.flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(scheduled).toEqual([]);
    const markers = events.flatMap((event) => event.markerRecordedEventAttributes?.markerName ?? []);
    // Four patch markers (the checked close, the checked input, dual control, billing authority), then one marker
    // per local activity: terms, snapshot, rate, billing authority, review check, draw down, issue, sync, journal.
    // The checks of the close (earlier periods final, published terms, the ingest watermark) run inside the
    // snapshot: no extra step.
    expect(markers.filter((name) => name === 'core_patch')).toHaveLength(4);
    expect(markers.filter((name) => name === 'core_local_activity')).toHaveLength(9);
    const workflowTasks = events.filter((event) => event.workflowTaskCompletedEventAttributes != null).length;
    expect(workflowTasks).toBeLessThanOrEqual(3);

    const invoice = await findInvoice(testbed.pool, `inv:${customerId}:2026-10`);
    expect(invoice).toMatchObject({ status: 'issued', invoiceNumber: `${customerId}-0001` });
    const count = async (sql: string): Promise<number | undefined> =>
      (await testbed.pool.query<{ n: number }>(sql, [customerId])).rows[0]?.n;
    expect(await count('SELECT count(*)::int AS n FROM provider_ledger_invoices WHERE customer_id = $1')).toBe(1);
    expect(
      await count("SELECT count(*)::int AS n FROM credit_movements WHERE customer_id = $1 AND kind = 'consumption'"),
    ).toBe(1);
    expect(await count('SELECT count(*)::int AS n FROM journal_entries WHERE customer_id = $1')).toBeGreaterThan(0);
    expect((await trialBalance(testbed.pool, { customerId })).balanced).toBe(true);
  }, 120_000);
});
