import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADVISORY_LOCKS } from '../../db/advisory-locks.ts';
import { listAuditEntries } from '../../db/queries/audit-log.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { Decimal } from '../../domain/money.ts';
import {
  CALCULATION_VERSION,
  customerPeriodWorkflowId,
  decideUpdate,
  statusQuery,
  type PeriodStatus,
} from '../../workflows/definitions.ts';
import type { customerPeriodWorkflow } from '../../workflows/customer-period.ts';
import { buildContract } from '../builders/rating.ts';
import type { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { runTallyAsOperator } from '../cli/run-tally.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { waitFor } from '../harness/wait-for.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

/**
 * `tally period rerun` (SPEC §5 "Held periods"): a period whose review rejected is re-rated as a new
 * draft that goes through review again; the held draft stays, voided; its late events are billed by
 * the re-run and by nothing else; once, whatever is repeated, raced or killed.
 */

let testbed: BillingTestbed;
let files: RateCardFiles;
beforeAll(async () => {
  ({ testbed, files } = await BillingTestbed.createWithRateCardFiles('rerun'));
});
afterAll(async () => {
  await testbed?.close();
});

const OCTOBER = '2026-10';
const NOVEMBER = '2026-11';

function tally(...args: string[]) {
  return runTallyAsOperator(testbed, {}, ...args);
}

/** How long a wait for the workflow or a worker may take here (a re-run is a second close, on a shared machine). */
const WAIT_MS = 90_000;

function tokens(customerId: string, key: string, timestamp: string, quantity = '250000') {
  return buildUsageEvent({ customer_id: customerId, event_id: `${customerId}-${key}`, timestamp, quantity });
}

/**
 * A customer whose every invoice goes to review (250,000 tokens at 0.001 per token), with October
 * closed and rejected: held.
 */
async function heldOctober(
  customerId: string,
  /** Where the contract ends (a spawned worker's period opener closes every period it covers). */
  endsAt?: string,
): Promise<{ heldTotal: string; usage: Decimal; card: string }> {
  const card = `rr${customerId.replace(/[^a-z0-9]/g, '')}`;
  await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
  await testbed.publishContract(
    buildContract({
      customer_id: customerId,
      ratecard: card,
      starts_at: '2026-10-01T00:00:00Z',
      ...(endsAt === undefined ? {} : { ends_at: endsAt }),
      review: { total_above: '1.00', timeout: '72h' },
      provider: { kind: 'ledger', customer: customerId },
    }),
  );
  await testbed.storeEvents([tokens(customerId, 'o1', '2026-10-02T10:00:00.000Z')]);
  const handle = await testbed.startPeriod(testbed.periodInput(customerId, OCTOBER));
  const exceptionId = await waitFor(
    'the review',
    async () => (await handle.query(statusQuery)).openExceptionId,
    WAIT_MS,
  );
  await handle.executeUpdate(decideUpdate, {
    args: [{ kind: 'reject', exceptionId, reviewer: 'ops-ben', reason: 'rate card was wrong' }],
  });
  expect((await handle.result()).stage).toBe('held');
  const held = await findInvoice(testbed.pool, `inv:${customerId}:${OCTOBER}`);
  expect(held).toMatchObject({ status: 'held', invoiceNumber: undefined });
  const usage = (held?.document.lines ?? [])
    .filter((line) => line.kind === 'usage')
    .reduce((sum, line) => sum.plus(line.amount), new Decimal(0));
  expect(usage.toFixed(2)).toBe('250.00');
  return { heldTotal: held?.document.total ?? '', usage, card };
}

function rerunHandle(customerId: string, period: string, rerun: number) {
  const workflowId = customerPeriodWorkflowId({
    customerId,
    period,
    mode: 'live',
    calculationVersion: CALCULATION_VERSION,
    rerun: { number: rerun },
  });
  return testbed.client.workflow.getHandle<typeof customerPeriodWorkflow>(workflowId);
}

/** Waits for the workflow's open exception (the re-run's review) and approves it. */
async function approveReview(handle: ReturnType<typeof rerunHandle>): Promise<string> {
  const exceptionId = await waitFor(
    'an open exception',
    async () => {
      const status: PeriodStatus | undefined = await handle.query(statusQuery).catch(() => undefined);
      return status?.openExceptionId;
    },
    WAIT_MS,
  );
  await handle.executeUpdate(decideUpdate, { args: [{ kind: 'approve', exceptionId, reviewer: 'ops-ana' }] });
  return exceptionId;
}

async function rerunAudit(customerId: string) {
  return listAuditEntries(testbed.pool, {
    action: 'period_rerun',
    subject: `period:${customerId}:${OCTOBER}`,
    limit: 10,
  });
}

describe('tally period rerun', () => {
  it('re-rates a held period as a new draft through review, voids and keeps the held one, bills its late events once, and audits who and why', async () => {
    const customerId = `rerun-cli-${process.pid}`;
    await testbed.withWorker(async () => {
      const { heldTotal, card } = await heldOctober(customerId);
      // The fix the period waited for: October's price was twice what it should be.
      await files.publish(testbed.pool, await files.write(card, '2026-10-01T00:00:00Z', { tokenPrice: '0.0005' }));
      // A late event of the held period: no invoice has billed it; the re-run must.
      expect(await testbed.storeEvents([tokens(customerId, 'o2', '2026-10-03T10:00:00.000Z')])).toEqual({
        stored: 1,
        late: 1,
      });

      // Bad requests first: nothing is recorded.
      const noReason = await tally('period', 'rerun', customerId, OCTOBER, '--reason', '  ');
      expect(noReason.status).toBe(1);
      expect(noReason.stderr).toContain('--reason must say why');
      const notHeld = await tally('period', 'rerun', customerId, NOVEMBER, '--reason', 'x');
      expect(notHeld.status).toBe(1);
      expect(notHeld.stderr).toContain(`${customerId} ${NOVEMBER} is not held`);

      const reason = 'rate card fixed in ratecards/ (ticket 42)';
      const started = await tally('period', 'rerun', customerId, OCTOBER, '--reason', reason, '--by', 'ops-ana');
      expect(started.stderr).toBe('');
      expect(started.status).toBe(0);
      expect(started.stdout).toContain(`re-run 1 of ${customerId} ${OCTOBER} started`);
      expect(started.stdout).toContain(`held draft inv:${customerId}:${OCTOBER} (${heldTotal}`);
      expect(started.stdout).toContain(`inv:${customerId}:${OCTOBER}:r1 goes through review again`);

      const handle = rerunHandle(customerId, OCTOBER, 1);
      // The same request again (a retried command) starts nothing and says what stands.
      const retried = await tally('period', 'rerun', customerId, OCTOBER, '--reason', reason, '--by', 'ops-ana');
      expect(retried.status).toBe(0);
      expect(retried.stdout).toMatch(/^already requested: re-run 1 of /);

      const exceptionId = await approveReviewAfter(handle, async () => {
        // While it waits for review, another re-run is refused, naming the one under way.
        const other = await tally(
          'period',
          'rerun',
          customerId,
          OCTOBER,
          '--reason',
          'another idea',
          '--by',
          'ops-ben',
        );
        expect(other.status).toBe(1);
        expect(other.stderr).toContain(`${customerId} ${OCTOBER} is not held: re-run 1`);
        expect(other.stderr).toContain(`asked by ops-ana`);
      });
      expect(exceptionId).toBe(`exc:inv:${customerId}:${OCTOBER}:r1:threshold:1`);
      const result = await handle.result();
      expect(result).toMatchObject({ stage: 'completed', invoiceId: `inv:${customerId}:${OCTOBER}:r1` });
      await recordHistory(handle, 'period-rerun-issued');

      // The held draft stays, voided, with why it was held; it never had a number, the re-run has the first.
      const voided = await findInvoice(testbed.pool, `inv:${customerId}:${OCTOBER}`);
      expect(voided).toMatchObject({ status: 'voided', invoiceNumber: undefined });
      expect(voided?.heldReason).toContain('rate card was wrong');
      const rerun = await findInvoice(testbed.pool, `inv:${customerId}:${OCTOBER}:r1`);
      expect(rerun).toMatchObject({ status: 'issued', invoiceNumber: `${customerId}-0001` });
      // Both October events are billed in its usage lines under the fixed price: the late one too.
      const rerunUsage = (rerun?.document.lines ?? [])
        .filter((line) => line.kind === 'usage')
        .reduce((sum, line) => sum.plus(line.amount), new Decimal(0));
      expect(rerunUsage.toFixed(2)).toBe('250.00');
      expect(rerun?.document.ratecard_versions.map((version) => version.effective_from)).toContainEqual(
        expect.stringMatching(/^2026-10-01T00:00:00(\.000)?Z$/),
      );
      const claims = await testbed.pool.query(
        'SELECT source, event_id, corrected_invoice_id, adjusting_invoice_id FROM late_event_adjustments WHERE event_id LIKE $1',
        [`${customerId}-%`],
      );
      expect(claims.rows).toEqual([
        {
          source: 'api-gateway',
          event_id: `${customerId}-o2`,
          corrected_invoice_id: `inv:${customerId}:${OCTOBER}:r1`,
          adjusting_invoice_id: `inv:${customerId}:${OCTOBER}:r1`,
        },
      ]);
      const outcome = await testbed.pool.query(
        'SELECT outcome FROM customer_periods WHERE customer_id = $1 AND period = $2',
        [customerId, OCTOBER],
      );
      expect(outcome.rows).toEqual([{ outcome: 'issued' }]);

      // Who, when, why, what was voided: once.
      const audit = await rerunAudit(customerId);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        actor: { kind: 'process', name: 'cli:ops-ana' },
        details: {
          reason,
          rerun: 1,
          voided_invoice_id: `inv:${customerId}:${OCTOBER}`,
          rerun_invoice_id: `inv:${customerId}:${OCTOBER}:r1`,
        },
      });
      // `tally period status` lists the re-run beside the period's close.
      await waitFor(
        'the re-run in period status',
        async () => {
          const status = await tally('period', 'status', customerId, OCTOBER);
          return new RegExp(`billing:${customerId}:${OCTOBER}:rerun:1 +COMPLETED`).test(status.stdout)
            ? true
            : undefined;
        },
        WAIT_MS,
      );
      const after = await tally('period', 'rerun', customerId, OCTOBER, '--reason', reason, '--by', 'ops-ana');
      expect(after.status).toBe(0);
      expect(after.stdout).toContain(`its draft inv:${customerId}:${OCTOBER}:r1 is issued`);

      // A late event after the re-run is an adjustment of the re-run's invoice on November's; the one
      // the re-run billed is not billed again.
      await testbed.storeEvents([
        tokens(customerId, 'o3', '2026-10-04T10:00:00.000Z'),
        tokens(customerId, 'n1', '2026-11-04T10:00:00.000Z'),
      ]);
      const november = await testbed.startPeriod(testbed.periodInput(customerId, NOVEMBER));
      await approveReview(november);
      expect((await november.result()).stage).toBe('completed');
      const novemberInvoice = await findInvoice(testbed.pool, `inv:${customerId}:${NOVEMBER}`);
      const adjustments = (novemberInvoice?.document.lines ?? []).filter((line) => line.kind === 'adjustment');
      expect(adjustments.map((line) => [line.corrects_invoice_id, line.amount])).toEqual([
        [rerun?.invoiceId, '125.00'],
      ]);
    });
  }, 240_000);

  it('starts one re-run for two requests at once, and a worker killed inside it (kill -9) voids, records and audits once', async () => {
    const customerId = `rerun-kill-${process.pid}`;
    await testbed.withWorker(() => heldOctober(customerId, '2026-11-01T00:00:00Z'));
    const holder = await testbed.pool.connect();
    let worker = await testbed.spawnWorker({ TALLY_PERIOD_OPENER_INTERVAL: '1h' });
    try {
      // Hold the re-run's first step on the lock it takes, so the kill lands inside it.
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [
        ADVISORY_LOCKS.PERIOD_RERUN,
        `${customerId}:${OCTOBER}`,
      ]);
      const reason = 'corrected meter';
      const [first, second] = await Promise.all([
        tally('period', 'rerun', customerId, OCTOBER, '--reason', reason, '--by', 'ops-ana'),
        tally('period', 'rerun', customerId, OCTOBER, '--reason', reason, '--by', 'ops-ana'),
      ]);
      expect([first.status, second.status]).toEqual([0, 0]);
      expect([first.stdout, second.stdout].filter((out) => out.includes('started'))).toHaveLength(1);
      expect([first.stdout, second.stdout].filter((out) => out.startsWith('already requested'))).toHaveLength(1);
      await waitFor(
        'the re-run waiting on the lock',
        async () => {
          const { rows } = await testbed.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1`,
            [ADVISORY_LOCKS.PERIOD_RERUN],
          );
          return (rows[0]?.n ?? 0) > 0 ? true : undefined;
        },
        WAIT_MS,
      );
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.kill('SIGKILL');
      await exited;
      await holder.query('SELECT pg_advisory_unlock_all()');
      worker = await testbed.spawnWorker({ TALLY_PERIOD_OPENER_INTERVAL: '1h' });
      const handle = rerunHandle(customerId, OCTOBER, 1);
      await approveReview(handle);
      expect(await handle.result()).toMatchObject({ stage: 'completed', invoiceId: `inv:${customerId}:${OCTOBER}:r1` });
    } finally {
      holder.release();
      worker.kill('SIGKILL');
    }
    const reruns = await testbed.pool.query(
      'SELECT rerun_number, voided_invoice_id FROM period_reruns WHERE customer_id = $1',
      [customerId],
    );
    expect(reruns.rows).toEqual([{ rerun_number: 1, voided_invoice_id: `inv:${customerId}:${OCTOBER}` }]);
    expect(await rerunAudit(customerId)).toHaveLength(1);
    const invoices = await testbed.pool.query(
      'SELECT invoice_id, status, invoice_number FROM invoices WHERE customer_id = $1 ORDER BY invoice_id',
      [customerId],
    );
    expect(invoices.rows).toEqual([
      { invoice_id: `inv:${customerId}:${OCTOBER}`, status: 'voided', invoice_number: null },
      { invoice_id: `inv:${customerId}:${OCTOBER}:r1`, status: 'issued', invoice_number: `${customerId}-0001` },
    ]);
  }, 240_000);

  it('re-runs a re-run that was held in turn as re-run 2, and keeps every voided draft as it is', async () => {
    const customerId = `rerun-twice-${process.pid}`;
    await testbed.withWorker(async () => {
      await heldOctober(customerId);
      expect((await tally('period', 'rerun', customerId, OCTOBER, '--reason', 'first try')).status).toBe(0);
      const first = rerunHandle(customerId, OCTOBER, 1);
      const exceptionId = await waitFor(
        'the re-run review',
        async () => (await first.query(statusQuery)).openExceptionId,
        WAIT_MS,
      );
      await first.executeUpdate(decideUpdate, {
        args: [{ kind: 'reject', exceptionId, reviewer: 'ops-ben', reason: 'still wrong' }],
      });
      expect((await first.result()).stage).toBe('held');
      expect((await findInvoice(testbed.pool, `inv:${customerId}:${OCTOBER}:r1`))?.status).toBe('held');

      const again = await tally('period', 'rerun', customerId, OCTOBER, '--reason', 'second try');
      expect(again.status).toBe(0);
      expect(again.stdout).toContain(`re-run 2 of ${customerId} ${OCTOBER} started`);
      const second = rerunHandle(customerId, OCTOBER, 2);
      await approveReview(second);
      expect(await second.result()).toMatchObject({ stage: 'completed', invoiceId: `inv:${customerId}:${OCTOBER}:r2` });
      const statuses = await testbed.pool.query(
        'SELECT invoice_id, status FROM invoices WHERE customer_id = $1 ORDER BY invoice_id',
        [customerId],
      );
      expect(statuses.rows).toEqual([
        { invoice_id: `inv:${customerId}:${OCTOBER}`, status: 'voided' },
        { invoice_id: `inv:${customerId}:${OCTOBER}:r1`, status: 'voided' },
        { invoice_id: `inv:${customerId}:${OCTOBER}:r2`, status: 'issued' },
      ]);
      // The database keeps a voided draft as it is.
      await expect(
        testbed.pool.query(`UPDATE invoices SET status = 'draft' WHERE invoice_id = $1`, [
          `inv:${customerId}:${OCTOBER}`,
        ]),
      ).rejects.toThrow(/voided by a re-run/);
    });
  }, 240_000);
});

/** Runs `meanwhile` once the re-run waits for review, then approves it. */
async function approveReviewAfter(
  handle: ReturnType<typeof rerunHandle>,
  meanwhile: () => Promise<void>,
): Promise<string> {
  const exceptionId = await waitFor(
    'the re-run review',
    async () => {
      const status: PeriodStatus | undefined = await handle.query(statusQuery).catch(() => undefined);
      return status?.openExceptionId;
    },
    WAIT_MS,
  );
  await meanwhile();
  await handle.executeUpdate(decideUpdate, { args: [{ kind: 'approve', exceptionId, reviewer: 'ops-ana' }] });
  return exceptionId;
}
