import type { ChildProcess } from 'node:child_process';
import { ScheduleNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anomalyScheduleId } from '../../workflows/anomaly-definitions.ts';
import { marketplaceScheduleId } from '../../workflows/marketplace-definitions.ts';
import { revenueScheduleId } from '../../workflows/revenue-definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// `tally worker` stops within a bounded time after SIGTERM, whatever its workflows are doing: here a
// close whose first step blocks on a locked table, times out and is retried again and again.
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('worker_shutdown');
});
afterAll(async () => {
  await testbed.close();
});

/** Milliseconds until the child exits, or undefined if it is still running after `limitMs`. */
function exitWithin(child: ChildProcess, limitMs: number): Promise<number | undefined> {
  const startedMs = Date.now();
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(0);
    const timer = setTimeout(() => resolve(undefined), limitMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(Date.now() - startedMs);
    });
  });
}

describe('tally worker shutdown', () => {
  it('exits within the grace period plus a bound on SIGTERM while a step keeps retrying', async () => {
    const customerId = 'stuck-close';
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        starts_at: '2026-10-01T00:00:00Z',
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    await testbed.storeEvents([
      buildUsageEvent({ customer_id: customerId, event_id: 'stuck-1', timestamp: '2026-10-02T09:00:00.000Z' }),
    ]);
    const worker = await testbed.spawnWorker({ TALLY_WORKER_SHUTDOWN_GRACE: '2s', TALLY_PERIOD_OPENER_INTERVAL: '1h' });
    // A worker the tests spawn leaves no daily schedule on the shared test server: one would fire in
    // the middle of a suite (the anomaly scan at 01:30 UTC) into this testbed's queue and database.
    for (const scheduleId of [
      revenueScheduleId(testbed.taskQueue),
      anomalyScheduleId(testbed.taskQueue),
      marketplaceScheduleId(testbed.taskQueue),
    ]) {
      await expect(testbed.client.schedule.getHandle(scheduleId).describe(), scheduleId).rejects.toBeInstanceOf(
        ScheduleNotFoundError,
      );
    }
    let output = '';
    worker.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    worker.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    // Every read of the customer's terms waits for this lock: each attempt times out and is retried.
    const locker = await testbed.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE contract_publications IN ACCESS EXCLUSIVE MODE');
      await testbed.startPeriod(testbed.periodInput(customerId, '2026-10', { stepTimeoutMs: 1_500 }));
      // Long enough for a few attempts to time out and be retried.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      worker.kill('SIGTERM');
      const tookMs = await exitWithin(worker, 45_000);
      if (tookMs === undefined) worker.kill('SIGKILL');
      // Grace 2 s, then in-flight steps are cancelled; the process is gone well within 15 s.
      expect(tookMs, 'tally worker was still draining 45 s after SIGTERM').toBeDefined();
      expect(tookMs, output).toBeLessThan(15_000);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
  }, 120_000);
});
