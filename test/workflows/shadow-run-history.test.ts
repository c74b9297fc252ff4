import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../contracts/contract.ts';
import { shadowResultsOf } from '../../db/queries/shadow.ts';
import { Decimal, formatMoney } from '../../domain/money.ts';
import { legacyLinesFromInvoice, type LegacyLine } from '../../domain/shadow/index.ts';
import { importLegacyFile } from '../../shadow/import-legacy-file.ts';
import type { shadowRunWorkflow } from '../../workflows/shadow-run.ts';
import {
  CALCULATION_VERSION,
  decideUpdate,
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

// A shadow run starts one shadow close per customer (≈ 6–7 history events each) and compares them
// in batches. Its history must not grow with the number of customers (Temporal terminates a workflow
// at 50,000 events): the run reads its customers a page at a time and continues as new past a
// history budget, carrying its stage, counts and exceptions; so does a run waiting for decisions.

let testbed: BillingTestbed;
let directory: string;
const OCTOBER = '2026-10';
const CUSTOMERS = 16;
const RUN_ID = 'oldbill-history';
let contracts: Contract[];
/** The customers the legacy biller charges 10.00 more: shadow_variance exceptions. */
let pricier: string[];

beforeAll(async () => {
  testbed = await BillingTestbed.create('shadow_history');
  const customers = demoCustomers(CUSTOMERS, 33).map((customer) => ({
    ...customer,
    customerId: `shh-${customer.customerId}`,
  }));
  contracts = customers.map((customer) => ({
    ...demoContract(customer),
    customer_id: customer.customerId,
    provider: { kind: 'ledger' as const, customer: customer.customerId },
    review: { timeout: '72h', shadow_variance_pct: '1', shadow_variance_abs: '5.00' },
  }));
  for (const contract of contracts) await testbed.publishContract(contract);
  const events = generateUsageEvents({ customers, period: OCTOBER, seed: 7, scale: 0.1 });
  await testbed.storeEvents(events);
  // The legacy biller agrees with Tally on every customer but two, which it charges 10.00 more.
  pricier = [contracts[3]?.customer_id as string, contracts[11]?.customer_id as string];
  const legacy: LegacyLine[] = [];
  for (const contract of contracts)
    legacy.push(
      ...legacyLinesFromInvoice(await offlineInvoice(contract, events, OCTOBER)).map((line, index) =>
        index === 0 && pricier.includes(contract.customer_id)
          ? { ...line, amount: formatMoney(new Decimal(line.amount).plus('10.00'), line.currency) }
          : line,
      ),
    );
  directory = await mkdtemp(path.join(os.tmpdir(), 'tally-shadow-history-'));
  const file = path.join(directory, 'legacy.csv');
  await writeFile(file, legacyLinesToCsv(legacy));
  await importLegacyFile(testbed.pool, { file, source: 'oldbill', importedBy: 'test' });
}, 240_000);

afterAll(async () => {
  await testbed?.close();
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
});

describe('a shadow run over many customers', () => {
  it('keeps every run under its history budget, rates and compares each customer once, and takes decisions across runs', async () => {
    const input: ShadowRunInput = {
      source: 'oldbill',
      period: OCTOBER,
      runId: RUN_ID,
      calculationVersion: CALCULATION_VERSION,
      concurrency: 2,
      taskQueue: testbed.taskQueue,
      stepTimeoutMs: 5_000,
      closeOptions: { graceMs: 0, stepTimeoutMs: 5_000, recheckMs: 500, reviewTimeoutMs: 60_000 },
      pageSize: 4,
      // Every run continues as new after its first page (or decision): 4 close pages, 4 compare pages, 2 decisions.
      historyBudget: 1,
    };
    await testbed.withWorker(async () => {
      const handle = await testbed.client.workflow.start<typeof shadowRunWorkflow>('shadowRunWorkflow', {
        taskQueue: testbed.taskQueue,
        workflowId: `${testbed.name}:${shadowRunWorkflowId(RUN_ID)}`,
        args: [input],
      });
      const deadline = Date.now() + 180_000;
      while ((await handle.query(shadowRunProgressQuery)).stage !== 'awaiting_review') {
        if (Date.now() > deadline) throw new Error('the shadow run did not reach review');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(await handle.query(shadowRunProgressQuery)).toMatchObject({
        runId: RUN_ID,
        period: OCTOBER,
        customers: CUSTOMERS,
        rated: CUSTOMERS,
        compared: CUSTOMERS,
        matches: CUSTOMERS - 2,
        exceptions: 2,
        openExceptions: 2,
      });
      const decide = (decision: ReviewDecision) =>
        testbed.client.workflow.getHandle(handle.workflowId).executeUpdate(decideUpdate, { args: [decision] });
      const [first, second] = pricier.map((customerId) => `exc:shadow:${RUN_ID}:${customerId}`) as [string, string];
      const note = 'explained: the legacy biller still charges the old rate';
      const reviewing = (await handle.describe()).runId;
      expect(await decide({ kind: 'approve', exceptionId: first, reviewer: 'ops', note })).toMatchObject({
        decision: 'approve',
        repeated: false,
        decidedBy: 'ops',
      });
      // Past its budget, the run that recorded the decision continues as new, still waiting for the other.
      const waiting = Date.now() + 30_000;
      while ((await handle.describe()).runId === reviewing) {
        if (Date.now() > waiting) throw new Error('the run did not continue as new after a decision');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(await handle.query(shadowRunProgressQuery)).toMatchObject({ stage: 'awaiting_review', openExceptions: 1 });
      // A repeat of a decision an earlier run took is a no-op naming the first decider; a contradiction is refused.
      expect(await decide({ kind: 'approve', exceptionId: first, reviewer: 'ops2', note: 'again' })).toMatchObject({
        repeated: true,
        decidedBy: 'ops',
      });
      const refused = await decide({ kind: 'reject', exceptionId: first, reviewer: 'ops2', reason: 'no' }).catch(
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/already decided: approve by ops/);
      expect(await decide({ kind: 'approve', exceptionId: second, reviewer: 'ops', note })).toMatchObject({
        repeated: false,
      });
      expect(await handle.result()).toEqual({
        runId: RUN_ID,
        source: 'oldbill',
        period: OCTOBER,
        customers: CUSTOMERS,
        matches: CUSTOMERS - 2,
        exceptions: 2,
      });
      // One run of ≈ 130 events before; a page of 4 closes (≈ 40 events) a run after.
      const lengths = await testbed.runHistoryLengths(handle.workflowId, handle.firstExecutionRunId);
      expect(lengths.length).toBeGreaterThan(1);
      for (const length of lengths) expect(length).toBeLessThanOrEqual(80);
      // The first run (ends continuing as new) and the last (resumed in review, finishes) for the replay corpus.
      await recordHistory(
        testbed.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId),
        'shadow-run-continued-first',
      );
      await recordHistory(testbed.client.workflow.getHandle(handle.workflowId), 'shadow-run-continued-last');
    });
    // Each customer closed in shadow once and compared once; both decisions recorded.
    const closes = await testbed.pool.query(
      `SELECT 1 FROM invoices WHERE invoice_id LIKE $1 AND customer_id LIKE 'shh-%'`,
      [`%:run:${RUN_ID}`],
    );
    expect(closes.rowCount).toBe(CUSTOMERS);
    const results = await shadowResultsOf(testbed.pool, RUN_ID);
    expect(results.map((row) => row.customerId)).toEqual(contracts.map((contract) => contract.customer_id).sort());
    expect(results.filter((row) => row.exception).map((row) => [row.customerId, row.exceptionState])).toEqual(
      [...pricier].sort().map((customerId) => [customerId, 'accepted']),
    );
  }, 300_000);
});
