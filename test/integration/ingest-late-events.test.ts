import { describe, expect, it } from 'vitest';
import { signEvent } from '../../contracts/event-signature.ts';
import { periodOf, previousPeriod } from '../../domain/period.ts';
import { addressUsageMessage } from '../../ingest/usage-stream.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { ingestWorkerSuite, waitUntil } from '../harness/ingest-harness.ts';

const suite = ingestWorkerSuite();
const { pool } = suite;

describe('late events', () => {
  it('stores an event of a closed customer-period with late = true and counts it, whatever the cut-off; an open period stays on time', async () => {
    const source = suite.testbed.sources[0] as string;
    const secret = suite.testbed.keys[source] as string;
    const nowMs = Date.now();
    // An event of the previous month (inside the 35-day window), for a customer whose previous month is closed.
    const eventTime = new Date(
      Math.max(new Date(previousPeriod(periodOf(new Date(nowMs))).end).getTime() - 3_600_000, nowMs - 30 * 86_400_000),
    );
    const period = periodOf(eventTime).name;
    const closed = `${suite.testbed.name}-closed`;
    const open = `${suite.testbed.name}-open`;
    const cutoffLater = `${suite.testbed.name}-cutoff-later`;
    await pool.query(
      'INSERT INTO period_closures (customer_id, period, event_cutoff) VALUES ($1, $2, $3), ($4, $2, $5)',
      [closed, period, new Date(nowMs - 60_000), cutoffLater, new Date(nowMs + 3_600_000)],
    );

    const before = suite.worker.consumer.totals.late;
    for (const customer of [closed, open, cutoffLater]) {
      for (const index of [1, 2]) {
        const event = signEvent(
          buildUnsignedEvent({
            source,
            customer_id: customer,
            event_id: `${customer}-${index}`,
            timestamp: eventTime.toISOString(),
            quantity: '2',
          }),
          secret,
        );
        await suite.testbed.publisher.publish(
          addressUsageMessage(Buffer.from(JSON.stringify(event)), event, suite.testbed.config.subjectPrefix),
        );
      }
    }
    await waitUntil(
      async () =>
        (await pool.query('SELECT count(*)::int AS n FROM usage_events WHERE source = $1', [source])).rows[0].n === 6,
      30_000,
      'six events stored',
    );

    const rows = await pool.query<{ customer_id: string; late: boolean; period: string }>(
      'SELECT customer_id, late, period FROM usage_events WHERE source = $1 ORDER BY customer_id, event_id',
      [source],
    );
    expect(rows.rows).toEqual([
      { customer_id: closed, late: true, period },
      { customer_id: closed, late: true, period },
      // Closed with a cut-off still ahead: the snapshot is already taken, so these can only be adjustments.
      { customer_id: cutoffLater, late: true, period },
      { customer_id: cutoffLater, late: true, period },
      { customer_id: open, late: false, period },
      { customer_id: open, late: false, period },
    ]);
    expect(suite.worker.consumer.totals.late - before).toBe(4);
    // Late usage is still usage of its event-time period: month-to-date totals include it.
    const totals = await pool.query(
      'SELECT event_count, quantity_sum FROM usage_running_totals WHERE customer_id = $1 AND period = $2',
      [closed, period],
    );
    expect(totals.rows).toEqual([{ event_count: '2', quantity_sum: '4' }]);
    const metrics = await suite.worker.metrics.registry.getSingleMetricAsString('tally_ingest_late_total');
    expect(metrics).toMatch(/tally_ingest_late_total [1-9]/);
  });
});
