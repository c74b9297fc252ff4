import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ScheduleOverlapPolicy, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../contracts/contract.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { listShadowRuns, shadowResultsOf } from '../../db/queries/shadow.ts';
import { Decimal, formatMoney } from '../../domain/money.ts';
import { legacyLinesFromInvoice } from '../../domain/shadow/index.ts';
import { importLegacyFile } from '../../shadow/import-legacy-file.ts';
import { loadReadiness } from '../../shadow/shadow-reports.ts';
import {
  addShadowSchedule,
  changeShadowSchedule,
  listShadowSchedules,
  shadowScheduleId,
} from '../../shadow/shadow-schedules.ts';
import type { shadowRunWorkflow } from '../../workflows/shadow-run.ts';
import {
  CALCULATION_VERSION,
  decideUpdate,
  previousPeriodName,
  shadowRunProgressQuery,
  shadowRunWorkflowId,
  type ReviewDecision,
  type ShadowRunInput,
} from '../../workflows/definitions.ts';
import { legacyLinesToCsv } from '../builders/legacy-lines-csv.ts';
import { offlineInvoice } from '../builders/offline-invoice.ts';
import { demoContract, demoCustomers, generateUsageEvents } from '../builders/usage-events.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('shadow');
});
afterAll(async () => {
  await testbed.close();
});

const OCTOBER = '2026-10';

async function tableCount(table: string, where = 'true'): Promise<number> {
  const { rows } = await testbed.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`);
  return rows[0]?.n ?? 0;
}

describe('a shadow run', () => {
  it('rates every contracted customer in shadow, compares against the legacy import, records each result, and changes nothing live', async () => {
    const customers = demoCustomers(3, 21).map((customer) => ({
      ...customer,
      customerId: `sh-${customer.customerId}`,
    }));
    const contracts = customers.map((customer) => ({
      ...demoContract(customer),
      customer_id: customer.customerId,
      provider: { kind: 'ledger' as const, customer: customer.customerId },
      review: { timeout: '72h', shadow_variance_pct: '1', shadow_variance_abs: '5.00' },
    }));
    for (const contract of contracts) await testbed.publishContract(contract);
    const events = generateUsageEvents({ customers, period: OCTOBER, seed: 5, scale: 0.2 });
    await testbed.storeEvents(events);

    // The legacy biller agrees on the first customer, charges 10.00 more on the second's first line
    // (an old price) and bills a customer Tally has no contract for.
    const [agreeing, pricier, untouched] = contracts as [Contract, Contract, Contract];
    const legacy = [
      ...legacyLinesFromInvoice(await offlineInvoice(agreeing, events, OCTOBER)),
      ...legacyLinesFromInvoice(await offlineInvoice(pricier, events, OCTOBER)).map((line, index) =>
        index === 0 ? { ...line, amount: formatMoney(new Decimal(line.amount).plus('10.00'), line.currency) } : line,
      ),
      {
        customer_id: 'sh-gone',
        period: OCTOBER,
        price_id: 'platform',
        quantity: undefined,
        amount: '99.00',
        currency: 'USD',
      },
    ];
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-shadow-'));
    const file = path.join(directory, 'legacy.csv');
    await writeFile(file, legacyLinesToCsv(legacy));
    const [imported] = await importLegacyFile(testbed.pool, { file, source: 'oldbill', importedBy: 'test' });
    expect(imported).toMatchObject({ outcome: 'imported', import: { version: 1 } });
    // The same file again is a no-op.
    const [again] = await importLegacyFile(testbed.pool, { file, source: 'oldbill', importedBy: 'test' });
    expect(again).toMatchObject({ outcome: 'unchanged', import: { importId: imported?.import.importId } });

    const alertsBefore = await tableCount('usage_alerts');
    const input: ShadowRunInput = {
      source: 'oldbill',
      period: OCTOBER,
      runId: 'oldbill-2026-10-test',
      calculationVersion: CALCULATION_VERSION,
      concurrency: 2,
      taskQueue: testbed.taskQueue,
      stepTimeoutMs: 5_000,
      closeOptions: { graceMs: 0, stepTimeoutMs: 5_000, recheckMs: 500, reviewTimeoutMs: 60_000 },
    };
    const { result, live } = await testbed.withWorker(async () => {
      // The live close of the agreeing customer runs at the same time, under its own id.
      const liveHandle = await testbed.startPeriod(testbed.periodInput(agreeing.customer_id, OCTOBER));
      const handle = await testbed.client.workflow.start<typeof shadowRunWorkflow>('shadowRunWorkflow', {
        taskQueue: testbed.taskQueue,
        workflowId: `${testbed.name}:${shadowRunWorkflowId(input.runId as string)}`,
        args: [input],
      });
      const liveResult = await liveHandle.result();
      // Compared and recorded, the run waits for a person on each exception, in the review queue.
      const deadline = Date.now() + 60_000;
      while ((await handle.query(shadowRunProgressQuery)).stage !== 'awaiting_review') {
        if (Date.now() > deadline) throw new Error('the shadow run did not reach review');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(await handle.query(shadowRunProgressQuery)).toMatchObject({
        customers: 4,
        rated: 3,
        compared: 4,
        exceptions: 3,
        openExceptions: 3,
      });
      expect((await loadReadiness(testbed.pool, { source: 'oldbill', periods: 1 })).ready).toBe(false);
      const queue = await testbed.pool.query<{
        exception_id: string;
        customer_id: string;
        context: { comparison: { lines: unknown[] } };
      }>(
        `SELECT exception_id, customer_id, context FROM review_exceptions WHERE kind = 'shadow_variance' AND status = 'open' ORDER BY customer_id`,
      );
      expect(queue.rows.map((row) => row.customer_id)).toEqual(
        ['sh-gone', pricier.customer_id, untouched.customer_id].sort(),
      );
      // Both sides, line by line, in the exception.
      expect(queue.rows.every((row) => row.context.comparison.lines.length > 0)).toBe(true);
      const decide = (decision: ReviewDecision) =>
        testbed.client.workflow.getHandle(handle.workflowId).executeUpdate(decideUpdate, { args: [decision] });
      const [first] = queue.rows;
      await expect(
        decide({ kind: 'adjust', exceptionId: first?.exception_id ?? '', reviewer: 'ops', reason: 'x', amount: '1' }),
      ).rejects.toThrow();
      await expect(
        decide({ kind: 'approve', exceptionId: first?.exception_id ?? '', reviewer: 'ops' }),
      ).rejects.toThrow();
      const note = 'explained: the legacy biller still charges the old rate';
      expect(
        await decide({ kind: 'approve', exceptionId: first?.exception_id ?? '', reviewer: 'ops', note }),
      ).toMatchObject({
        decision: 'approve',
        repeated: false,
        decidedBy: 'ops',
      });
      // A repeat is a no-op that names the first decider; a contradiction is refused.
      expect(
        await decide({ kind: 'approve', exceptionId: first?.exception_id ?? '', reviewer: 'ops2', note: 'again' }),
      ).toMatchObject({ repeated: true, decidedBy: 'ops' });
      const refused = await decide({
        kind: 'reject',
        exceptionId: first?.exception_id ?? '',
        reviewer: 'ops2',
        reason: 'no',
      }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/already decided: approve by ops/);
      for (const row of queue.rows.slice(1)) {
        const outcome = await decide({
          kind: 'approve',
          exceptionId: row.exception_id,
          reviewer: 'ops',
          note: 'explained: the legacy biller still charges the old rate',
        });
        expect(outcome).toMatchObject({ decision: 'approve', repeated: false, decidedBy: 'ops' });
      }
      const shadowResult = await handle.result();
      await recordHistory(handle, 'shadow-run');
      return { result: shadowResult, live: liveResult };
    });
    expect(result).toMatchObject({ runId: 'oldbill-2026-10-test', period: OCTOBER, customers: 4, exceptions: 3 });

    const results = await shadowResultsOf(testbed.pool, 'oldbill-2026-10-test');
    const byCustomer = Object.fromEntries(results.map((row) => [row.customerId, row]));
    expect(byCustomer[agreeing.customer_id]).toMatchObject({
      status: 'match',
      exception: false,
      exceptionState: 'none',
    });
    expect(byCustomer[pricier.customer_id]).toMatchObject({
      status: 'diff',
      exception: true,
      exceptionState: 'accepted',
      decidedBy: 'ops',
    });
    expect(byCustomer[pricier.customer_id]?.comparison).toMatchObject({ variance: '-10.00' });
    expect(byCustomer[untouched.customer_id]).toMatchObject({ status: 'only_new', exception: true });
    expect(byCustomer['sh-gone']).toMatchObject({ status: 'only_legacy', exception: true });
    const [run] = await listShadowRuns(testbed.pool, { source: 'oldbill' });
    expect(run).toMatchObject({ status: 'completed', legacyImportId: imported?.import.importId, customerCount: 4 });

    // Nothing live: the shadow drafts stay drafts without a number, no credit drawn, nothing synced
    // or journaled for them, no usage alert; the live close issued its own invoice, numbered first.
    const shadowIds = `invoice_id LIKE 'shadow:%'`;
    expect(await tableCount('invoices', `${shadowIds} AND (status <> 'draft' OR invoice_number IS NOT NULL)`)).toBe(0);
    expect(await tableCount('invoices', shadowIds)).toBe(3);
    expect(await tableCount('credit_movements', shadowIds)).toBe(0);
    expect(await tableCount('provider_ledger_invoices', shadowIds)).toBe(0);
    expect(await tableCount('journal_entries', shadowIds)).toBe(0);
    expect(await tableCount('usage_alerts')).toBe(alertsBefore);
    expect(live).toMatchObject({ stage: 'completed', invoiceNumber: `${agreeing.customer_id}-0001` });
    const liveInvoice = await findInvoice(testbed.pool, `inv:${agreeing.customer_id}:${OCTOBER}`);
    expect(liveInvoice?.status).toBe('issued');
    expect(await tableCount('invoices', `invoice_number IS NOT NULL`)).toBe(1);

    // Ready once each exception is accepted with its explanation; two periods are not.
    expect((await loadReadiness(testbed.pool, { source: 'oldbill', periods: 2 })).periods[0]?.reasons).toEqual([
      { customerId: undefined, reason: 'no completed shadow run' },
    ]);
    expect((await loadReadiness(testbed.pool, { source: 'oldbill', periods: 1 })).ready).toBe(true);
    // A newer legacy file supersedes: the run compared against the old version no longer counts.
    await writeFile(file, legacyLinesToCsv(legacy.slice(1)));
    const [newer] = await importLegacyFile(testbed.pool, { file, source: 'oldbill', importedBy: 'test' });
    expect(newer).toMatchObject({ outcome: 'imported', import: { version: 2 }, supersedes: { version: 1 } });
    const stale = await loadReadiness(testbed.pool, { source: 'oldbill', periods: 1 });
    expect(stale.ready).toBe(false);
    expect(stale.periods[0]?.reasons[0]?.reason).toMatch(/superseded/);
  });

  it('refuses a bad legacy file whole, naming file, line and field, and imports nothing of it', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-shadow-'));
    const file = path.join(directory, 'bad.csv');
    await writeFile(
      file,
      [
        'customer_id,period,price_id,quantity,amount,currency',
        'good,2026-10,platform,,500.00,USD',
        'good,2026-11,platform,,500.00,USD',
        'bad,2026-10,platform,,5.0,USD',
      ].join('\n'),
    );
    const before = await tableCount('shadow_legacy_lines');
    await expect(importLegacyFile(testbed.pool, { file, source: 'refused', importedBy: 'test' })).rejects.toThrow(
      `${file}:4: amount: 5.0 does not have exactly 2 decimal digits for USD`,
    );
    expect(await tableCount('shadow_legacy_lines')).toBe(before);
    expect(await tableCount('shadow_legacy_imports', `source = 'refused'`)).toBe(0);
  });

  it('a schedule starts a shadow run of the period that just closed when triggered, skips overlapping firings by policy, and can be listed, paused and deleted', async () => {
    const source = `sched-${process.pid}`;
    await testbed.withWorker(async () => {
      await addShadowSchedule(testbed.client, {
        source,
        cron: '0 6 2 * *',
        taskQueue: testbed.taskQueue,
        run: {
          calculationVersion: CALCULATION_VERSION,
          concurrency: 4,
          stepTimeoutMs: 5_000,
          closeOptions: { graceMs: 0, stepTimeoutMs: 5_000, recheckMs: 500, reviewTimeoutMs: 60_000 },
        },
      });
      const handle = testbed.client.schedule.getHandle(shadowScheduleId(source));
      // Overlap is the server's policy: a firing while a run still runs is skipped, never doubled.
      expect((await handle.describe()).policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      await handle.trigger();
      const deadline = Date.now() + 60_000;
      for (;;) {
        const runs = await listShadowRuns(testbed.pool, { source });
        if (runs.length > 0 && runs.every((run) => run.status === 'completed')) break;
        if (Date.now() > deadline) throw new Error('the scheduled shadow run did not complete');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    });
    const runs = await listShadowRuns(testbed.pool, { source });
    expect(runs).toHaveLength(1);
    expect(runs[0]?.period).toBe(previousPeriodName(new Date().toISOString()));
    const [listed] = (await listShadowSchedules(testbed.client)).filter((entry) => entry.source === source);
    expect(listed).toMatchObject({ source, cron: ['0 6 2 * *'], paused: false });
    // Its customers (no legacy lines for that period) wait for review: end the run's workflow here.
    const fired = (await testbed.client.schedule.getHandle(shadowScheduleId(source)).describe()).info.recentActions;
    expect(fired).toHaveLength(1);
    await testbed.client.workflow.getHandle(fired[0]?.action.workflow.workflowId ?? '').terminate('test done');
    await changeShadowSchedule(testbed.client, source, { kind: 'pause', note: 'cutover week' });
    expect((await listShadowSchedules(testbed.client)).find((entry) => entry.source === source)?.paused).toBe(true);
    await changeShadowSchedule(testbed.client, source, { kind: 'delete' });
    expect((await listShadowSchedules(testbed.client)).some((entry) => entry.source === source)).toBe(false);
    await expect(changeShadowSchedule(testbed.client, source, { kind: 'delete' })).rejects.toThrow(
      /no shadow schedule/,
    );
  });
});
