import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../contracts/contract.ts';
import type { AdjustmentLine, IssuedInvoice } from '../../contracts/invoice.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { findInvoice, listInvoices } from '../../db/queries/invoices.ts';
import { findReviewException, listReviewExceptions } from '../../db/queries/review-exceptions.ts';
import { decideUpdate, statusQuery } from '../../workflows/definitions.ts';
import { runTally } from '../cli/run-tally.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';
import { recordHistory } from '../replay/workflow-histories.ts';
import { waitFor } from '../harness/wait-for.ts';

/**
 * The close path as a billing team's auditor tries it (issue: "Every customer-period billed exactly
 * once and right"). One test per defect; each failed on the code before its fix.
 */

let testbed: BillingTestbed;
let files: RateCardFiles;
/** Unique per run: the period opener starts `billing:<customer>:<period>` in the shared Temporal namespace. */
const run = `${process.pid}`;

beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('correctness', { ratecardsDir: files.root });
  // One card most tests use: tokens at 0.001 and a 300.00 platform fee, published like Finance would.
  await files.publish(
    testbed.pool,
    await files.write('corr', '2026-09-01T00:00:00Z', { tokenPrice: '0.001', fee: '300.00' }),
  );
});
afterAll(async () => {
  await testbed?.close();
  await rm(files.root, { recursive: true, force: true });
});

const OCTOBER = '2026-10';
const NOVEMBER = '2026-11';

function contract(customerId: string, overrides: Partial<Record<keyof Contract, unknown>> = {}): Contract {
  return buildContract({
    customer_id: customerId,
    ratecard: 'corr',
    starts_at: '2026-09-01T00:00:00Z',
    provider: { kind: 'ledger', customer: customerId },
    ...overrides,
  });
}

function tokens(customerId: string, id: string, timestamp: string, quantity: string): UsageEvent {
  return buildUsageEvent({
    customer_id: customerId,
    event_id: `${customerId}-${id}`,
    timestamp,
    unit: 'tokens',
    quantity,
    metadata: { sku: 'llm.tokens' },
  });
}

async function issued(invoiceId: string): Promise<IssuedInvoice | undefined> {
  const record = await findInvoice(testbed.pool, invoiceId);
  return record?.status === 'issued' ? (record.document as IssuedInvoice) : undefined;
}

function adjustmentsFor(invoice: IssuedInvoice, corrected: string): AdjustmentLine[] {
  return invoice.lines.filter(
    (line): line is AdjustmentLine => line.kind === 'adjustment' && line.corrects_invoice_id === corrected,
  );
}

describe('every customer-period billed exactly once and right', () => {
  it('opens and bills every period a contract is active in, usage or not: a fee-only month, a mid-month start prorated, invoice_when_zero honoured', async () => {
    await files.publish(testbed.pool, await files.write('corrnofee', '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    const feeOnly = contract(`feeonly-${run}`, { starts_at: '2026-09-16T00:00:00Z' });
    const skipZero = contract(`zero-skip-${run}`, {
      ratecard: 'corrnofee',
      starts_at: '2026-10-01T00:00:00Z',
      invoice_when_zero: false,
    });
    const keepZero = contract(`zero-keep-${run}`, { ratecard: 'corrnofee', starts_at: '2026-10-01T00:00:00Z' });
    for (const terms of [feeOnly, skipZero, keepZero]) await testbed.publishContract(terms);
    // Not a single event: only the contracts say these customers are billed.
    const worker = await testbed.spawnWorker();

    const september = await waitFor('the fee-only September invoice', () =>
      issued(`inv:${feeOnly.customer_id}:2026-09`),
    );
    // 15 of September's 30 days.
    expect(september.lines.map((line) => [line.kind, line.amount])).toEqual([['fee', '150.00']]);
    expect(september.total).toBe('150.00');
    const october = await waitFor('the fee-only October invoice', () =>
      issued(`inv:${feeOnly.customer_id}:${OCTOBER}`),
    );
    expect(october.total).toBe('300.00');

    const zeroKept = await waitFor('the all-zero invoice', () => issued(`inv:${keepZero.customer_id}:${OCTOBER}`));
    expect(zeroKept.total).toBe('0.00');

    const skippedHandle = testbed.client.workflow.getHandle(`billing:${skipZero.customer_id}:${OCTOBER}`);
    const skipped = await skippedHandle.result();
    expect(skipped.stage).toBe('skipped');
    await recordHistory(skippedHandle, 'all-zero-skipped');
    expect(await listInvoices(testbed.pool, { customerId: skipZero.customer_id, status: 'issued' })).toEqual([]);
    // The opener would open the later tests' contracts too: stop it, as a deploy would.
    worker.kill('SIGKILL');
  }, 180_000);

  it('rates only published rate cards: a version in force never published, or a file edited after publication, stops the period as an unpublished_ratecard exception', async () => {
    const published = await files.write('corrpub', '2026-09-01T00:00:00Z', { tokenPrice: '0.001' });
    await files.publish(testbed.pool, published);
    const unpublished = await files.write('corrpub', '2026-10-16T00:00:00Z', { tokenPrice: '0.002' });
    const customer = contract(`unpub-${run}`, { ratecard: 'corrpub' });
    await testbed.publishContract(customer);
    await testbed.storeEvents([tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', '1000000')]);

    await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customer.customer_id, OCTOBER));
      const exceptionId = await waitFor('an exception', async () => (await handle.query(statusQuery)).openExceptionId);
      const exception = await findReviewException(testbed.pool, exceptionId);
      expect(exception?.kind).toBe('unpublished_ratecard');
      expect(JSON.stringify(exception?.breaches)).toMatch(/corrpub.*2026-10-16.*never published/);
      // Finance publishes it; ops retries the close.
      await files.publish(testbed.pool, unpublished);
      await handle.executeUpdate(decideUpdate, {
        args: [{ kind: 'approve', exceptionId, reviewer: 'ops-ana', note: 'published now' }],
      });
      expect((await handle.result()).stage).toBe('completed');
      await recordHistory(handle, 'unpublished-ratecard-approved');
    });
    const invoice = await issued(`inv:${customer.customer_id}:${OCTOBER}`);
    expect(invoice?.ratecard_versions.map((version) => version.effective_from)).toEqual([
      '2026-09-01T00:00:00.000Z',
      '2026-10-16T00:00:00.000Z',
    ]);

    // A published file edited afterwards: the worker never rates from the file.
    const edited = await files.write('corredit', '2026-09-01T00:00:00Z', { tokenPrice: '0.001' });
    await files.publish(testbed.pool, edited);
    await files.write('corredit', '2026-09-01T00:00:00Z', { tokenPrice: '0.0005' });
    const second = contract(`edited-${run}`, { ratecard: 'corredit' });
    await testbed.publishContract(second);
    await testbed.storeEvents([tokens(second.customer_id, '1', '2026-10-05T10:00:00.000Z', '1000000')]);
    await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(second.customer_id, OCTOBER));
      const exceptionId = await waitFor('an exception', async () => (await handle.query(statusQuery)).openExceptionId);
      const exception = await findReviewException(testbed.pool, exceptionId);
      expect(exception?.kind).toBe('unpublished_ratecard');
      expect(JSON.stringify(exception?.breaches)).toMatch(/corredit.*2026-09-01.*no longer matches/);
      await handle.executeUpdate(decideUpdate, {
        args: [{ kind: 'reject', exceptionId, reviewer: 'ops-ana', reason: 'rate card edited by hand' }],
      });
      expect((await handle.result()).stage).toBe('held');
      await recordHistory(handle, 'unpublished-ratecard-held');
    });
  }, 180_000);

  it('bills late usage under the rate-card versions and calculation version of the invoice it corrects', async () => {
    await files.publish(
      testbed.pool,
      await files.write('corrlate', '2026-09-01T00:00:00Z', { tokenPrice: '0.001', fee: '300.00' }),
    );
    const customer = contract(`late-${run}`, { ratecard: 'corrlate' });
    await testbed.publishContract(customer);
    await testbed.storeEvents([tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', '1000000')]);
    await testbed.withWorker(async () => {
      expect(
        (await (await testbed.startPeriod(testbed.periodInput(customer.customer_id, OCTOBER))).result()).stage,
      ).toBe('completed');
    });
    const octoberId = `inv:${customer.customer_id}:${OCTOBER}`;
    expect((await issued(octoberId))?.total).toBe('1300.00');

    // Finance publishes a price rise in force from 16 October, after October was invoiced; then late
    // October usage arrives. The adjustment is the late usage at October's recorded prices, nothing else.
    await files.publish(
      testbed.pool,
      await files.write('corrlate', '2026-10-16T00:00:00Z', { tokenPrice: '0.002', fee: '300.00' }),
    );
    expect(
      (await testbed.storeEvents([tokens(customer.customer_id, 'late-1', '2026-10-20T10:00:00.000Z', '100000')])).late,
    ).toBe(1);
    await testbed.withWorker(async () => {
      expect(
        (await (await testbed.startPeriod(testbed.periodInput(customer.customer_id, NOVEMBER))).result()).stage,
      ).toBe('completed');
    });
    const november = await issued(`inv:${customer.customer_id}:${NOVEMBER}`);
    expect(adjustmentsFor(november as IssuedInvoice, octoberId).map((line) => [line.line_key, line.amount])).toEqual([
      [`adjustment:${OCTOBER}:usage:tokens`, '100.00'],
    ]);
  }, 180_000);

  it("never reverses a reviewer's adjust: later late usage adjusts by the late usage's effect alone, for a raise and a cut", async () => {
    await files.publish(
      testbed.pool,
      await files.write('corradj', '2026-09-01T00:00:00Z', { tokenPrice: '0.001', fee: '300.00' }),
    );
    for (const [sign, amount] of [
      ['up', '25.00'],
      ['down', '-7.50'],
    ] as const) {
      const customer = contract(`adjust-${sign}-${run}`, {
        ratecard: 'corradj',
        review: { total_above: '1.00', timeout: '72h' },
      });
      await testbed.publishContract(customer);
      await testbed.storeEvents([tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', '1000000')]);
      const octoberId = `inv:${customer.customer_id}:${OCTOBER}`;
      await testbed.withWorker(async () => {
        const handle = await testbed.startPeriod(testbed.periodInput(customer.customer_id, OCTOBER));
        const exceptionId = await waitFor('review', async () => (await handle.query(statusQuery)).openExceptionId);
        await handle.executeUpdate(decideUpdate, {
          args: [{ kind: 'adjust', exceptionId, reviewer: 'ops-ana', reason: 'goodwill for an outage', amount }],
        });
        expect((await handle.result()).stage).toBe('completed');
      });
      const october = (await issued(octoberId)) as IssuedInvoice;
      expect(october.lines.filter((line) => line.kind === 'adjustment').map((line) => line.amount)).toEqual([amount]);

      await testbed.storeEvents([tokens(customer.customer_id, 'late-1', '2026-10-25T10:00:00.000Z', '10000')]);
      await testbed.withWorker(async () => {
        const handle = await testbed.startPeriod(testbed.periodInput(customer.customer_id, NOVEMBER));
        const exceptionId = await waitFor('review', async () => (await handle.query(statusQuery)).openExceptionId);
        await handle.executeUpdate(decideUpdate, { args: [{ kind: 'approve', exceptionId, reviewer: 'ops-ana' }] });
        expect((await handle.result()).stage).toBe('completed');
      });
      const november = (await issued(`inv:${customer.customer_id}:${NOVEMBER}`)) as IssuedInvoice;
      // 10,000 late tokens at 0.001, and no line undoing the reviewer's decision.
      expect(adjustmentsFor(november, octoberId).map((line) => [line.line_key, line.amount])).toEqual([
        [`adjustment:${OCTOBER}:usage:tokens`, '10.00'],
      ]);
    }
  }, 240_000);

  it('says so, and starts nothing, when `tally period close` names a finished period', async () => {
    const customer = contract(`closed-twice-${run}`);
    await testbed.publishContract(customer);
    await testbed.storeEvents([tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', '1000')]);
    const { endpoints } = testStack();
    const environment = {
      DATABASE_URL: testbed.databaseUrl,
      NATS_URL: endpoints.natsUrl,
      TEMPORAL_ADDRESS: endpoints.temporalAddress,
      TEMPORAL_NAMESPACE: endpoints.temporalNamespace,
      TALLY_TASK_QUEUE: testbed.taskQueue,
    };
    const workflowId = `billing:${customer.customer_id}:${OCTOBER}`;
    await testbed.withWorker(async () => {
      const first = await runTally(['period', 'close', customer.customer_id, OCTOBER], environment);
      expect(first.code, first.stderr).toBe(0);
      expect((await testbed.client.workflow.getHandle(workflowId).result()).stage).toBe('completed');

      const again = await runTally(['period', 'close', customer.customer_id, OCTOBER], environment);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(
        new RegExp(`${customer.customer_id} ${OCTOBER} is already closed: invoice ${customer.customer_id}-0001 issued`),
      );
    });
    const runs: string[] = [];
    for await (const execution of testbed.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
      runs.push(execution.runId);
    expect(runs).toHaveLength(1);
  }, 120_000);

  it('raises an unknown_customer exception with the count and amount at stake for usage no contract covers, and bills it once a contract appears', async () => {
    const customerId = `nobody-${run}`;
    await testbed.storeEvents(
      [1, 2, 3].map((index) => tokens(customerId, String(index), `2026-10-0${index}T10:00:00.000Z`, '200000')),
    );
    await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customerId, OCTOBER, { recheckMs: 500 }));
      const exceptionId = await waitFor('an exception', async () => (await handle.query(statusQuery)).openExceptionId);
      const exception = await findReviewException(testbed.pool, exceptionId);
      expect(exception?.kind).toBe('unknown_customer');
      expect(exception?.invoiceId).toBeNull();
      const detail = JSON.stringify(exception?.breaches);
      expect(detail).toContain('3 events');
      expect(detail).toContain('600000 tokens');
      // At stake under each published card that prices the usage (corr: 0.001 a token).
      expect(detail).toContain('600.00 USD under corr');

      // Sales signs the contract: the period bills without anyone deciding.
      await testbed.publishContract(contract(customerId));
      expect((await handle.result()).stage).toBe('completed');
      await recordHistory(handle, 'unknown-customer-resolved');
      expect(await findReviewException(testbed.pool, exceptionId)).toMatchObject({ status: 'resolved' });
    });
    expect((await issued(`inv:${customerId}:${OCTOBER}`))?.total).toBe('900.00');
  }, 120_000);

  it('turns a permanent error into an exception for a person: never a failed workflow, never an endless retry', async () => {
    // A EUR contract on a USD card: the engine refuses it, the same way every time.
    const customer = contract(`mismatch-${run}`, { currency: 'EUR' });
    await testbed.publishContract(customer);
    await testbed.storeEvents([tokens(customer.customer_id, '1', '2026-10-05T10:00:00.000Z', '1000')]);
    await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customer.customer_id, OCTOBER));
      const exceptionId = await waitFor('an exception', async () => (await handle.query(statusQuery)).openExceptionId);
      const exception = await findReviewException(testbed.pool, exceptionId);
      expect(exception?.kind).toBe('step_failed');
      expect(JSON.stringify(exception?.breaches)).toContain('currency_mismatch');
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await handle.executeUpdate(decideUpdate, {
        args: [{ kind: 'reject', exceptionId, reviewer: 'ops-ana', reason: 'contract in the wrong currency' }],
      });
      expect((await handle.result()).stage).toBe('held');
      await recordHistory(handle, 'step-failed-held');
    });
    const open = await listReviewExceptions(testbed.pool, { customerId: customer.customer_id, status: 'waiting' });
    expect(open).toEqual([]);
  }, 120_000);
});
