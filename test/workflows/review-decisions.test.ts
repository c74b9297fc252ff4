import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInvoice } from '../../db/queries/invoices.ts';
import { findReviewException } from '../../db/queries/review-exceptions.ts';
import { decideUpdate, statusQuery, type ReviewDecision } from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { recordHistory } from '../replay/workflow-histories.ts';
import { waitFor } from '../harness/wait-for.ts';

/** Exactly one decision wins an exception; the database and the workflow always agree on which. */

let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('decisions');
});
afterAll(async () => {
  await testbed?.close();
});

async function reviewedPeriod(customerId: string, review: Record<string, string> = {}) {
  await testbed.publishContract(
    buildContract({
      customer_id: customerId,
      starts_at: '2026-01-01T00:00:00Z',
      review: { total_above: '1.00', timeout: '72h', ...review },
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

  it('applies an adjust above dual_control_above only when a second, different reviewer confirms it, and shows the wait in the Temporal UI', async () => {
    await testbed.withWorker(async () => {
      const { handle, exceptionId } = await reviewedPeriod(`dual-${process.pid}`, { dual_control_above: '100.00' });
      const adjust = (reviewer: string, amount = '-250.00'): ReviewDecision => ({
        kind: 'adjust',
        exceptionId,
        reviewer,
        reason: 'meter double-counted on the 2nd',
        amount,
      });
      const reviewState = async () =>
        (await handle.describe()).searchAttributes as Record<string, unknown[] | undefined>;
      await waitFor('the review state', async () =>
        (await reviewState()).ReviewState?.[0] === 'awaiting_review' ? true : undefined,
      );
      expect((await reviewState()).ExceptionKind).toEqual(['threshold']);

      // The first reviewer proposes; nothing is decided yet.
      expect(await handle.executeUpdate(decideUpdate, { args: [adjust('ops-ana')] })).toMatchObject({
        decision: 'adjust',
        repeated: false,
        awaitingConfirmation: true,
        decidedBy: 'ops-ana',
      });
      await waitFor('the review state', async () =>
        (await reviewState()).ReviewState?.[0] === 'awaiting_confirmation' ? true : undefined,
      );
      expect(await findReviewException(testbed.pool, exceptionId)).toMatchObject({
        status: 'open',
        decidedAt: undefined,
        proposal: { by: 'ops-ana', decision: expect.objectContaining({ amount: '-250.00' }) },
      });
      // The same reviewer again cannot confirm their own adjust: it still waits.
      expect(await handle.executeUpdate(decideUpdate, { args: [adjust('ops-ana')] })).toMatchObject({
        repeated: true,
        awaitingConfirmation: true,
      });
      // Anything but the same adjust or a reject is refused while it waits, naming the proposal.
      for (const other of [
        { kind: 'approve', exceptionId, reviewer: 'ops-ben' } as const,
        adjust('ops-ben', '-300.00'),
      ]) {
        const refusal = await handle.executeUpdate(decideUpdate, { args: [other] }).catch((error: unknown) => error);
        expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
        expect(String((refusal as WorkflowUpdateFailedError).cause?.message)).toContain(
          'adjust -250.00 proposed by ops-ana',
        );
      }
      expect((await handle.query(statusQuery)).stage).toBe('awaiting_review');

      // A second, different reviewer confirms: the adjust applies, recorded under both names.
      expect(await handle.executeUpdate(decideUpdate, { args: [adjust('ops-ben')] })).toMatchObject({
        decision: 'adjust',
        repeated: false,
        decidedBy: 'ops-ana',
        confirmedBy: 'ops-ben',
      });
      expect((await handle.result()).stage).toBe('completed');
      await recordHistory(handle, 'dual-control-confirmed');
      const recorded = await findReviewException(testbed.pool, exceptionId);
      expect(recorded).toMatchObject({ status: 'adjusted', reviewer: 'ops-ana' });
      expect(recorded?.decision).toMatchObject({ amount: '-250.00', confirmedBy: 'ops-ben' });
      const invoice = await findInvoice(testbed.pool, `inv:dual-${process.pid}:2026-10`);
      expect(invoice?.document.lines.find((line) => line.kind === 'adjustment')).toMatchObject({
        amount: '-250.00',
        reason: expect.stringContaining('by ops-ana, confirmed by ops-ben'),
      });
      expect((await reviewState()).ReviewState).toEqual(['decided']);
      // The database refuses a confirmation by the reviewer who decided, whatever writes it.
      await expect(
        testbed.pool.query(
          `UPDATE review_exceptions SET decision = decision || '{"confirmedBy":"ops-ana"}' WHERE exception_id = $1`,
          [exceptionId],
        ),
      ).rejects.toThrow(/review_exceptions_confirmed_by_another/);
    });
  }, 120_000);

  it('applies an adjust at or below dual_control_above with one reviewer, and lets a second reviewer reject a proposal', async () => {
    await testbed.withWorker(async () => {
      const small = await reviewedPeriod(`dual-small-${process.pid}`, { dual_control_above: '100.00' });
      expect(
        await small.handle.executeUpdate(decideUpdate, {
          args: [
            {
              kind: 'adjust',
              exceptionId: small.exceptionId,
              reviewer: 'ops-ana',
              reason: 'goodwill',
              amount: '-100.00',
            },
          ],
        }),
      ).toMatchObject({ repeated: false, decidedBy: 'ops-ana' });
      expect((await small.handle.result()).stage).toBe('completed');

      const large = await reviewedPeriod(`dual-reject-${process.pid}`, { dual_control_above: '100.00' });
      await large.handle.executeUpdate(decideUpdate, {
        args: [
          { kind: 'adjust', exceptionId: large.exceptionId, reviewer: 'ops-ana', reason: 'goodwill', amount: '500.00' },
        ],
      });
      expect(
        await large.handle.executeUpdate(decideUpdate, {
          args: [
            {
              kind: 'reject',
              exceptionId: large.exceptionId,
              reviewer: 'ops-ben',
              reason: 'not agreed with the account team',
            },
          ],
        }),
      ).toMatchObject({ decision: 'reject', decidedBy: 'ops-ben' });
      expect((await large.handle.result()).stage).toBe('held');
      expect(await findReviewException(testbed.pool, large.exceptionId)).toMatchObject({
        status: 'rejected',
        reviewer: 'ops-ben',
        proposal: { by: 'ops-ana' },
      });
    });
  }, 120_000);
});
