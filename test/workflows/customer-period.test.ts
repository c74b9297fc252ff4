import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../contracts/contract.ts';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { trialBalance } from '../../db/queries/journal.ts';
import { findReviewException } from '../../db/queries/review-exceptions.ts';
import { Decimal, sumDecimals } from '../../domain/money.ts';
import { decideUpdate, statusQuery } from '../../workflows/definitions.ts';
import { repositoryRoot } from '../../config/services.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { demoContract, demoCustomers, generateUsageEvents } from '../builders/usage-events.ts';
import { offlineInvoice } from '../builders/offline-invoice.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';
import { waitFor } from '../harness/wait-for.ts';
import { recordHistory } from '../replay/workflow-histories.ts';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('workflow');
});
afterAll(async () => {
  await testbed.close();
});

const OCTOBER = '2026-10';

function onLedger(contract: Contract): Contract {
  return { ...contract, provider: { kind: 'ledger', customer: contract.customer_id } };
}

describe('the customer-period workflow', () => {
  it('bills several customers: issued, synced once, journaled in balance, tied to the rated usage to the cent', async () => {
    const customers = demoCustomers(4, 11).map((customer) => ({
      ...customer,
      customerId: `happy-${customer.customerId}`,
    }));
    const contracts = customers.map((customer) =>
      onLedger({ ...demoContract(customer), customer_id: customer.customerId }),
    );
    for (const contract of contracts) await testbed.publishContract(contract);
    const events = generateUsageEvents({ customers, period: OCTOBER, seed: 3, scale: 0.3, duplicateEvery: 25 });
    await testbed.storeEvents(events);

    const results = await testbed.withWorker(() =>
      Promise.all(
        contracts.map(async (contract, index) => {
          const handle = await testbed.startPeriod(testbed.periodInput(contract.customer_id, OCTOBER));
          const result = await handle.result();
          if (index === 0) await recordHistory(handle, 'issued-and-synced');
          return result;
        }),
      ),
    );

    for (const [index, contract] of contracts.entries()) {
      const result = results[index];
      expect(result?.stage).toBe('completed');
      const record = await findInvoice(testbed.pool, `inv:${contract.customer_id}:${OCTOBER}`);
      expect(record?.status).toBe('issued');
      expect(record?.invoiceNumber).toBe(`${contract.customer_id}-0001`);
      const issued = record?.document as IssuedInvoice;
      // The workflow's invoice equals the offline rating of the same (deduplicated) events, line for line.
      const offline = await offlineInvoice(
        contract,
        events.filter((event) => event.customer_id === contract.customer_id),
        OCTOBER,
      );
      expect(issued.lines).toEqual(offline.lines);
      expect([issued.subtotal, issued.total]).toEqual([offline.subtotal, offline.total]);
      expect(issued.event_fingerprint).toMatch(/^[0-9a-f]{64}$/);
      const synced = await testbed.pool.query(
        'SELECT count(*)::int AS n FROM provider_ledger_invoices WHERE invoice_id = $1',
        [record?.invoiceId],
      );
      expect(synced.rows[0].n).toBe(1);
      const credits = await testbed.pool.query(
        `SELECT credit_id, amount::text FROM credit_movements WHERE invoice_id = $1 AND kind = 'consumption' ORDER BY credit_id`,
        [record?.invoiceId],
      );
      expect(credits.rows).toEqual(
        issued.lines
          .filter((line) => line.kind === 'credit')
          .map((line) => ({ credit_id: line.credit_id, amount: line.amount }))
          .sort((a, b) => (a.credit_id < b.credit_id ? -1 : 1)),
      );
    }
    const balance = await trialBalance(testbed.pool);
    expect(balance.balanced).toBe(true);
    expect(balance.totals.every((total) => new Decimal(total.difference).isZero())).toBe(true);
  }, 180_000);

  describe('review', () => {
    const reviewed = (customerId: string): Contract =>
      onLedger(
        buildContract({
          customer_id: customerId,
          starts_at: '2026-01-01T00:00:00Z',
          review: { total_above: '1.00', timeout: '72h' },
        }),
      );
    const usage = (customerId: string): UsageEvent[] =>
      [1, 2, 3].map((index) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-${index}`,
          timestamp: `2026-10-0${index}T10:00:00.000Z`,
          quantity: '250000',
        }),
      );

    it('waits for a person, refuses a decision on the wrong exception, and issues once approved', async () => {
      const contract = reviewed('review-approve');
      await testbed.publishContract(contract);
      await testbed.storeEvents(usage(contract.customer_id));
      await testbed.withWorker(async () => {
        const handle = await testbed.startPeriod(testbed.periodInput(contract.customer_id, OCTOBER));
        const exceptionId = await waitFor(
          'an open exception',
          async () => (await handle.query(statusQuery)).openExceptionId,
        );
        expect((await handle.query(statusQuery)).stage).toBe('awaiting_review');
        const exception = await findReviewException(testbed.pool, exceptionId);
        expect(exception?.breaches.map((breach) => breach.rule)).toEqual(['total_above']);
        expect(exception?.context).toMatchObject({
          contract: { customer_id: contract.customer_id },
          previousInvoices: [],
          priorDecisions: [],
        });
        expect(exception?.kind === 'threshold' ? exception.context.draft?.total : undefined).toMatch(/^\d+\.\d{2}$/);

        await expect(
          handle.executeUpdate(decideUpdate, {
            args: [{ kind: 'approve', exceptionId: 'exc:nope', reviewer: 'ops-ana' }],
          }),
        ).rejects.toThrow(WorkflowUpdateFailedError);
        // The steps after approval are quick local ones; hold the ledger sync on a lock so that the
        // workflow is still running when the same decision arrives a second time.
        const holder = await testbed.pool.connect();
        try {
          await holder.query('BEGIN');
          await holder.query('LOCK TABLE provider_ledger_invoices IN SHARE ROW EXCLUSIVE MODE');
          const outcome = await handle.executeUpdate(decideUpdate, {
            args: [{ kind: 'approve', exceptionId, reviewer: 'ops-ana', note: 'expected growth' }],
          });
          expect(outcome).toMatchObject({ exceptionId, decision: 'approve', repeated: false, decidedBy: 'ops-ana' });
          // The same decision again is a no-op, not an error.
          expect(
            await handle.executeUpdate(decideUpdate, { args: [{ kind: 'approve', exceptionId, reviewer: 'ops-ana' }] }),
          ).toMatchObject({ repeated: true, decidedBy: 'ops-ana' });
        } finally {
          await holder.query('ROLLBACK');
          holder.release();
        }
        expect((await handle.result()).stage).toBe('completed');
        await recordHistory(handle, 'review-approved');
        const decided = await findReviewException(testbed.pool, exceptionId);
        expect(decided).toMatchObject({ status: 'approved', reviewer: 'ops-ana' });
      });
      expect((await findInvoice(testbed.pool, `inv:${contract.customer_id}:${OCTOBER}`))?.status).toBe('issued');
    }, 120_000);

    it('holds a rejected invoice: nothing synced, no credit drawn, nothing journaled', async () => {
      const contract = reviewed('review-reject');
      await testbed.publishContract({
        ...contract,
        credits: [{ id: 'promo', kind: 'promotional', amount: '10.00', granted_at: '2026-09-01T00:00:00.000Z' }],
      });
      await testbed.storeEvents(usage(contract.customer_id));
      await testbed.withWorker(async () => {
        const handle = await testbed.startPeriod(testbed.periodInput(contract.customer_id, OCTOBER));
        const exceptionId = await waitFor(
          'an open exception',
          async () => (await handle.query(statusQuery)).openExceptionId,
        );
        await handle.executeUpdate(decideUpdate, {
          args: [{ kind: 'reject', exceptionId, reviewer: 'ops-ben', reason: 'meter double-reported' }],
        });
        expect((await handle.result()).stage).toBe('held');
        await recordHistory(handle, 'review-rejected');
      });
      const invoiceId = `inv:${contract.customer_id}:${OCTOBER}`;
      expect(await findInvoice(testbed.pool, invoiceId)).toMatchObject({ status: 'held' });
      for (const table of [
        'provider_ledger_invoices',
        'provider_sync_records',
        'journal_entries',
        'credit_movements',
      ]) {
        const column = table === 'credit_movements' ? "invoice_id = $1 AND kind = 'consumption'" : 'invoice_id = $1';
        const { rows } = await testbed.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column}`, [
          invoiceId,
        ]);
        expect(rows[0].n, table).toBe(0);
      }
    }, 120_000);

    it('escalates when nobody decides in time, notifies, and keeps waiting: never approves by timeout', async () => {
      const contract = reviewed('review-timeout');
      await testbed.publishContract(contract);
      await testbed.storeEvents(usage(contract.customer_id));
      await testbed.withWorker(async () => {
        const handle = await testbed.startPeriod(
          testbed.periodInput(contract.customer_id, OCTOBER, { reviewTimeoutMs: 1_000 }),
        );
        await waitFor('escalation', async () =>
          (await handle.query(statusQuery)).stage === 'escalated' ? true : undefined,
        );
        const exceptionId = (await handle.query(statusQuery)).openExceptionId as string;
        expect(await findReviewException(testbed.pool, exceptionId)).toMatchObject({ status: 'escalated' });
        const notification = await waitFor('the webhook', async () =>
          testbed.notifications.find((sent) => sent.key === `escalation:${exceptionId}`),
        );
        expect(notification.body).toMatchObject({
          kind: 'review_escalated',
          customerId: contract.customer_id,
          period: OCTOBER,
        });
        // Still waiting, still a draft, well past the timeout.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect((await handle.query(statusQuery)).stage).toBe('escalated');
        expect((await findInvoice(testbed.pool, `inv:${contract.customer_id}:${OCTOBER}`))?.status).toBe('draft');
        await handle.executeUpdate(decideUpdate, { args: [{ kind: 'approve', exceptionId, reviewer: 'ops-cy' }] });
        expect((await handle.result()).stage).toBe('completed');
        await recordHistory(handle, 'review-escalated-then-approved');
      });
    }, 120_000);
  });

  it('journals a contract that ends inside the period against its prorated commit', async () => {
    // Commit 200.00 a month, ratable, contract over the first 15 of October's 31 days: the invoice's
    // commit is 96.77 and the journal must check the true-up against that, not against 200.00.
    const contract = onLedger(
      buildContract({
        customer_id: 'ends-mid-period',
        starts_at: '2026-01-01T00:00:00Z',
        ends_at: '2026-10-16T00:00:00Z',
        commit: { amount: '200.00' },
        revenue: { commit_policy: 'ratable' },
      }),
    );
    await testbed.publishContract(contract);
    await testbed.storeEvents([
      buildUsageEvent({
        customer_id: contract.customer_id,
        event_id: 'ends-1',
        timestamp: '2026-10-03T00:00:00.000Z',
        quantity: '250000',
      }),
    ]);
    const result = await testbed.withWorker(async () =>
      (await testbed.startPeriod(testbed.periodInput(contract.customer_id, OCTOBER))).result(),
    );
    expect(result.stage).toBe('completed');
    const issued = (await findInvoice(testbed.pool, `inv:${contract.customer_id}:${OCTOBER}`))
      ?.document as IssuedInvoice;
    expect(issued.lines.find((line) => line.kind === 'commit_true_up')).toMatchObject({ commit: '96.77' });
    const { rows } = await testbed.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM journal_entries WHERE invoice_id = $1 AND entry_type = 'commit_recognized'`,
      [issued.invoice_id],
    );
    expect(rows[0]?.n).toBe(1);
    expect((await trialBalance(testbed.pool, { customerId: contract.customer_id })).balanced).toBe(true);
  }, 120_000);

  it('bills usage that arrives after close as an adjustment on the next invoice, never touching the issued one', async () => {
    // The late adjustment here is small: under the contract's adjustment threshold, so no review stops it.
    const contract = onLedger(
      buildContract({
        customer_id: 'late-usage',
        starts_at: '2026-01-01T00:00:00Z',
        review: { adjustment_above: '1000.00' },
      }),
    );
    await testbed.publishContract(contract);
    const event = (id: string, timestamp: string, quantity: string) =>
      buildUsageEvent({ customer_id: contract.customer_id, event_id: id, timestamp, quantity });
    await testbed.storeEvents([
      event('oct-1', '2026-10-05T00:00:00.000Z', '400000'),
      event('oct-2', '2026-10-20T00:00:00.000Z', '100000'),
    ]);
    await testbed.withWorker(async () => {
      await (await testbed.startPeriod(testbed.periodInput(contract.customer_id, OCTOBER))).result();
    });
    const october = await findInvoice(testbed.pool, `inv:${contract.customer_id}:${OCTOBER}`);
    expect(october?.status).toBe('issued');

    // October is closed: these two are late (and a repeat of one of them changes nothing).
    const late = [
      event('oct-late-1', '2026-10-30T00:00:00.000Z', '300000'),
      event('oct-late-2', '2026-10-31T23:00:00.000Z', '200000'),
    ];
    expect(await testbed.storeEvents(late)).toEqual({ stored: 2, late: 2 });
    expect(await testbed.storeEvents(late)).toEqual({ stored: 0, late: 0 });
    await testbed.storeEvents([event('nov-1', '2026-11-03T00:00:00.000Z', '1000')]);

    const november = await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(contract.customer_id, '2026-11'));
      await handle.result();
      await recordHistory(handle, 'late-usage-adjusted');
      return findInvoice(testbed.pool, `inv:${contract.customer_id}:2026-11`);
    });
    const adjustments = (november?.document.lines ?? []).filter((line) => line.kind === 'adjustment');
    expect(adjustments.length).toBeGreaterThan(0);
    for (const adjustment of adjustments) {
      expect(adjustment).toMatchObject({
        corrects_period: OCTOBER,
        corrects_invoice_id: `inv:${contract.customer_id}:${OCTOBER}`,
      });
    }
    // The adjustment is exactly the difference between October re-rated with the late usage and what was issued.
    const rerated = await offlineInvoice(
      contract,
      [
        ...['oct-1', 'oct-2'].map((id, index) =>
          event(
            id,
            index === 0 ? '2026-10-05T00:00:00.000Z' : '2026-10-20T00:00:00.000Z',
            index === 0 ? '400000' : '100000',
          ),
        ),
        ...late,
      ],
      OCTOBER,
    );
    const usageDriven = (invoiceLines: readonly { kind: string; amount: string }[]) =>
      sumDecimals(
        invoiceLines
          .filter((line) => ['usage', 'discount', 'commit_true_up'].includes(line.kind))
          .map((line) => new Decimal(line.amount)),
      );
    expect(sumDecimals(adjustments.map((line) => new Decimal(line.amount))).toString()).toBe(
      usageDriven(rerated.lines)
        .minus(usageDriven((october?.document as IssuedInvoice).lines))
        .toString(),
    );
    // The issued October invoice is byte for byte what it was.
    expect((await findInvoice(testbed.pool, `inv:${contract.customer_id}:${OCTOBER}`))?.document).toEqual(
      october?.document,
    );
    await expect(
      testbed.pool.query(`UPDATE invoices SET total = 0 WHERE invoice_id = $1`, [october?.invoiceId]),
    ).rejects.toThrow(/immutable/);

    // December: the late events were adjusted once; nothing is adjusted again.
    await testbed.withWorker(async () => {
      await (await testbed.startPeriod(testbed.periodInput(contract.customer_id, '2026-12'))).result();
    });
    const december = await findInvoice(testbed.pool, `inv:${contract.customer_id}:2026-12`);
    expect(december?.document.lines.filter((line) => line.kind === 'adjustment')).toEqual([]);

    // Lineage: every usage line of October traces to its events, and the event set still hashes to its fingerprint;
    // November's adjustment traces to the two late events.
    const { endpoints } = testStack();
    const tally = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), ...args], {
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: testbed.databaseUrl,
          NATS_URL: endpoints.natsUrl,
          TEMPORAL_ADDRESS: endpoints.temporalAddress,
        },
        encoding: 'utf8',
        timeout: 120_000,
      });
    const octoberLineage = JSON.parse(
      tally('invoice', 'show', `inv:${contract.customer_id}:${OCTOBER}`, '--lineage', '--json', '--events', '10')
        .stdout,
    ) as {
      fingerprint: { matches: boolean; eventCount: number };
      lines: { lineKey: string; groups?: { eventCount: number; events: { eventId: string }[] }[] }[];
    };
    expect(octoberLineage.fingerprint).toMatchObject({ matches: true, eventCount: 2 });
    const tokens = octoberLineage.lines.find((line) => line.lineKey === 'usage:tokens-us');
    expect(tokens?.groups?.flatMap((group) => group.events.map((traced) => traced.eventId)).sort()).toEqual([
      'oct-1',
      'oct-2',
    ]);
    const novemberLineage = JSON.parse(
      tally('invoice', 'show', `inv:${contract.customer_id}:2026-11`, '--lineage', '--json').stdout,
    ) as {
      lines: { kind: string; lateEvents?: { eventId: string }[] }[];
    };
    expect(
      novemberLineage.lines
        .filter((line) => line.kind === 'adjustment')
        .flatMap((line) => line.lateEvents ?? [])
        .map((traced) => traced.eventId),
    ).toContain('oct-late-1');

    // An engineer's check: the three histories replay against the current code.
    const replay = tally(
      'replay',
      '--query',
      `WorkflowType = 'customerPeriodWorkflow' AND CustomerId = '${contract.customer_id}'`,
    );
    expect(replay.stdout).toContain('3 histories replayed, 0 failed');
    expect(replay.status).toBe(0);
  }, 240_000);
});
