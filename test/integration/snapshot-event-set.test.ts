import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRateCard } from '../../config/config-files.ts';
import { repositoryRoot } from '../../config/services.ts';
import { summarizeEventSet } from '../../db/queries/period-snapshots.ts';
import { loadUsageAggregates, loadUsageAggregatesWithEventSet } from '../../db/queries/usage-aggregates.ts';
import { billingPeriod } from '../../domain/period.ts';
import { usageAggregationPlan } from '../../domain/rating/index.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { demoCustomers, generateUsageEvents } from '../builders/usage-events.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import path from 'node:path';

// The snapshot reads a customer's month once for both the aggregates and the event-set fingerprint;
// that must give exactly what the two separate queries give (the fingerprint is re-checked later by
// `tally invoice show --lineage` with summarizeEventSet).

const OCTOBER = billingPeriod('2026-10');
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('snapshot_event_set');
});
afterAll(async () => {
  await testbed.close();
});

describe('the snapshot read', () => {
  it('gives the aggregates and the count and fingerprint of the events not late, as the separate queries do', async () => {
    const customers = demoCustomers(3, 21).map((customer) => ({
      ...customer,
      customerId: `set-${customer.customerId}`,
    }));
    await testbed.storeEvents(
      generateUsageEvents({ customers, period: '2026-10', seed: 5, scale: 0.4, unpricedPerCustomer: 2 }),
    );
    // Events of another month are outside the set; events stored after the closure are late, outside it too.
    const first = customers[0]?.customerId as string;
    await testbed.storeEvents([
      buildUsageEvent({ customer_id: first, event_id: 'september', timestamp: '2026-09-30T23:59:59.999Z' }),
    ]);
    await testbed.pool.query(
      "INSERT INTO period_closures (customer_id, period, event_cutoff) VALUES ($1, '2026-10', now())",
      [first],
    );
    const late = await testbed.storeEvents([
      buildUsageEvent({ customer_id: first, event_id: 'late-one', timestamp: '2026-10-20T10:00:00Z' }),
    ]);
    expect(late.late).toBe(1);

    for (const customerId of [...customers.map((customer) => customer.customerId), 'nobody']) {
      const versions = await loadRateCard(path.join(repositoryRoot, 'ratecards'), 'standard');
      const plan = usageAggregationPlan(versions, OCTOBER);
      const combined = await loadUsageAggregatesWithEventSet(testbed.pool, plan, { customerId, lateEvents: 'exclude' });
      expect(combined.aggregates).toEqual(
        await loadUsageAggregates(testbed.pool, plan, { customerId, lateEvents: 'exclude' }),
      );
      expect(combined.eventSet).toEqual(
        await summarizeEventSet(testbed.pool, { customerId, periodStart: OCTOBER.start, periodEnd: OCTOBER.end }),
      );
      if (customerId === 'nobody') {
        expect(combined).toEqual({
          aggregates: [],
          eventSet: { eventCount: 0, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) },
        });
      } else {
        expect(combined.eventSet.eventCount).toBe(
          combined.aggregates.reduce((sum, aggregate) => sum + aggregate.eventCount, 0),
        );
        expect(combined.aggregates.length).toBeGreaterThan(5);
      }
    }
  });
});
