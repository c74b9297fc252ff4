import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// Every ingest transaction updates the running totals of the customers in it. The table keeps room on
// each page (fillfactor 70) so that those updates are HOT: the row is rewritten on its page and no
// index is touched. An index on a column the update changes (updated_at, which the usage-alert scan
// reads) makes every one of them a full update with a new entry in every index.
let bed: BillingTestbed;

beforeAll(async () => {
  bed = await BillingTestbed.create('running_totals_hot');
});
afterAll(async () => {
  await bed.close();
});

async function updateCounts(): Promise<{ updates: number; hot: number }> {
  const { rows } = await bed.pool.query<{ updates: string; hot: string }>(
    `SELECT n_tup_upd::text AS updates, n_tup_hot_upd::text AS hot
       FROM pg_stat_user_tables WHERE relname = 'usage_running_totals'`,
  );
  return { updates: Number(rows[0]?.updates ?? 0), hot: Number(rows[0]?.hot ?? 0) };
}

describe('running totals', () => {
  it('are updated in place (HOT) by ingest, not rewritten with a new entry in every index', async () => {
    // Ten rows and five updates each: every version fits on the rows' page without pruning.
    const customers = Array.from({ length: 10 }, (_, index) => `hot-${index}`);
    const event = (customer: string, batch: number) =>
      buildUsageEvent({
        customer_id: customer,
        event_id: `${customer}-${batch}`,
        timestamp: '2026-10-05T10:00:00.000Z',
        quantity: '10',
      });
    await bed.storeEvents(customers.map((customer) => event(customer, 0)));
    const before = await updateCounts();
    // Five more ingest transactions, each updating the 10 customers' totals rows.
    for (let batch = 1; batch <= 5; batch++) await bed.storeEvents(customers.map((customer) => event(customer, batch)));
    // Backends report their table statistics when idle (at most every 10 s).
    let after = await updateCounts();
    for (let waited = 0; after.updates - before.updates < 50 && waited < 30_000; waited += 500) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = await updateCounts();
    }
    expect(after.updates - before.updates).toBe(50);
    expect(after.hot - before.hot).toBe(50);
  });
});
