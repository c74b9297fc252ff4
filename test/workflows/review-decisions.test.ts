import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findReviewException } from '../../db/queries/review-exceptions.ts';
import { decideUpdate, statusQuery, type ReviewDecision } from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

/** Exactly one decision wins an exception; the database and the workflow always agree on which. */

let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('decisions');
});
afterAll(async () => {
  await testbed?.close();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function reviewedPeriod(customerId: string) {
  await testbed.publishContract(
    buildContract({
      customer_id: customerId,
      starts_at: '2026-01-01T00:00:00Z',
      review: { total_above: '1.00', timeout: '72h' },
      provider: { kind: 'ledger', customer: customerId },
    }),
  );
  await testbed.storeEvents([
    buildUsageEvent({
      customer_id: customerId,
      event_id: `${customerId}-1`,
      timestamp: '2026-10-02T10:00:00.000Z',
      quantity: '250000',
    }),
  ]);
  const handle = await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'));
  const exceptionId = await waitFor('an open exception', async () => (await handle.query(statusQuery)).openExceptionId);
  return { handle, exceptionId };
}

/** Holds every write to review_exceptions until `release`: the first decision is then still being recorded when the second arrives. */
async function holdDecisionWrites(): Promise<{ release: () => Promise<void> }> {
  const holder = await testbed.pool.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE review_exceptions IN SHARE ROW EXCLUSIVE MODE');
  return {
    release: async () => {
      await holder.query('ROLLBACK');
      holder.release();
    },
  };
}

describe('review decisions', () => {
  it('accepts exactly one of two different decisions sent at once, and refuses the other with who decided what and when', async () => {
    await testbed.withWorker(async () => {
      const { handle, exceptionId } = await reviewedPeriod(`race-${process.pid}`);
      const approve: ReviewDecision = { kind: 'approve', exceptionId, reviewer: 'ops-ana' };
      const reject: ReviewDecision = {
        kind: 'reject',
        exceptionId,
        reviewer: 'ops-ben',
        reason: 'looks double-metered',
      };
      const hold = await holdDecisionWrites();
      const first = handle.executeUpdate(decideUpdate, { args: [approve] });
      // The first decision is accepted and waiting on the held write when the second arrives.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const second = handle.executeUpdate(decideUpdate, { args: [reject] }).then(
        () => 'accepted' as const,
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await hold.release();
      expect(await first).toMatchObject({ exceptionId, decision: 'approve', repeated: false });
      const refusal = await second;
      expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((refusal as WorkflowUpdateFailedError).cause?.message)).toMatch(
        new RegExp(`${exceptionId} was already decided: approve by ops-ana at \\d{4}-\\d\\d-\\d\\dT`),
      );
      expect((await handle.result()).stage).toBe('completed');
      const recorded = await findReviewException(testbed.pool, exceptionId);
      expect(recorded).toMatchObject({ status: 'approved', reviewer: 'ops-ana' });
      expect((await handle.query(statusQuery)).decisions.map((decision) => decision.kind)).toEqual(['approve']);
    });
  }, 120_000);

  it('refuses a second adjust with another amount instead of calling it a repeat, and reports an identical one as a repeat of who decided', async () => {
    await testbed.withWorker(async () => {
      const { handle, exceptionId } = await reviewedPeriod(`readjust-${process.pid}`);
      const adjust = (amount: string, reviewer: string): ReviewDecision => ({
        kind: 'adjust',
        exceptionId,
        reviewer,
        reason: 'goodwill',
        amount,
      });
      const hold = await holdDecisionWrites();
      const first = handle.executeUpdate(decideUpdate, { args: [adjust('10.00', 'ops-ana')] });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const other = handle.executeUpdate(decideUpdate, { args: [adjust('20.00', 'ops-ben')] }).then(
        () => 'accepted' as const,
        (error: unknown) => error,
      );
      // The same adjust again, by someone else: a repeat, and it says who decided it.
      const repeat = handle.executeUpdate(decideUpdate, { args: [adjust('10.00', 'ops-cy')] });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await hold.release();
      expect(await first).toMatchObject({ decision: 'adjust', repeated: false });
      expect(await other).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(await repeat).toMatchObject({ decision: 'adjust', repeated: true, decidedBy: 'ops-ana' });
      expect((await handle.result()).stage).toBe('completed');
      await recordHistory(handle, 'adjusted-with-repeat');
      const recorded = await findReviewException(testbed.pool, exceptionId);
      expect(recorded).toMatchObject({ status: 'adjusted', reviewer: 'ops-ana' });
      expect((recorded?.decision as { amount?: string } | undefined)?.amount).toBe('10.00');
    });
  }, 120_000);
});
