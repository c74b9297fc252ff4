import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opsOverview } from '../../views/ops-overview.ts';
import type { customerPeriodWorkflow } from '../../workflows/customer-period.ts';
import {
  CALCULATION_VERSION,
  customerPeriodWorkflowId,
  decideUpdate,
  statusQuery,
  type PeriodStatus,
} from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import type { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { runTallyAsOperator } from '../cli/run-tally.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { waitFor } from '../harness/wait-for.ts';

// The ops view's reconciliation (usage → invoice → GL) for a period where one customer's invoice was
// issued, one was skipped (all zero, the contract wants no such invoice) and one was left to the
// legacy biller: the skipped and legacy periods are final, so their events are accounted for, not
// "not yet billed".
let testbed: BillingTestbed;
let files: RateCardFiles;
beforeAll(async () => {
  ({ testbed, files } = await BillingTestbed.createWithRateCardFiles('ops_reconciliation'));
});
afterAll(async () => {
  await testbed?.close();
});

describe('the ops view’s reconciliation', () => {
  it('counts the events of skipped and legacy periods as settled, not as not yet billed', async () => {
    const paid = `opsr${process.pid}`;
    const free = `opsrfree${process.pid}`;
    await files.publish(testbed.pool, await files.write(paid, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    await files.publish(testbed.pool, await files.write(free, '2026-09-01T00:00:00Z', { tokenPrice: '0' }));
    const customers = {
      issued: { id: `ops-issued-${process.pid}`, contract: { ratecard: paid }, events: 3 },
      skipped: { id: `ops-skipped-${process.pid}`, contract: { ratecard: free, invoice_when_zero: false }, events: 2 },
      legacy: {
        id: `ops-legacy-${process.pid}`,
        contract: { ratecard: paid, billing_authority: 'legacy' as const },
        events: 4,
      },
    };
    for (const customer of Object.values(customers))
      await testbed.publishContract(
        buildContract({
          customer_id: customer.id,
          starts_at: '2026-10-01T00:00:00Z',
          provider: { kind: 'ledger', customer: customer.id },
          ...customer.contract,
        }),
      );
    await testbed.storeEvents(
      Object.values(customers).flatMap((customer) =>
        Array.from({ length: customer.events }, (_, index) =>
          buildUsageEvent({
            customer_id: customer.id,
            event_id: `${customer.id}-${index}`,
            timestamp: `2026-10-0${index + 1}T10:00:00.000Z`,
            quantity: '1000',
            metadata: { sku: 'llm.tokens' },
          }),
        ),
      ),
    );
    const stages = await testbed.withWorker(async () => {
      const results: Record<string, string> = {};
      for (const [name, customer] of Object.entries(customers))
        results[name] = (await (await testbed.startPeriod(testbed.periodInput(customer.id, '2026-10'))).result()).stage;
      return results;
    });
    expect(stages).toEqual({ issued: 'completed', skipped: 'skipped', legacy: 'legacy' });

    const overview = await opsOverview(testbed.pool);
    const october = overview.reconciliation.find((row) => row.period === '2026-10' && row.currency === 'USD');
    expect(october).toMatchObject({
      invoices: 3,
      issued: 1,
      skipped: 1,
      legacy: 1,
      eventsStored: '9',
      eventsInvoiced: '3',
      eventsSkippedOrLegacy: '6',
      eventsUnaccounted: '0',
    });
  }, 180_000);
});

describe('the ops view’s reconciliation of re-run periods', () => {
  it('counts a re-run period’s events as billed by its current invoice, and its voided draft apart from the invoices', async () => {
    const card = `opsrr${process.pid}`;
    await files.publish(
      testbed.pool,
      await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001', currency: 'EUR' }),
    );
    const contract = (customerId: string, review?: { total_above: string; timeout: string }) =>
      buildContract({
        customer_id: customerId,
        ratecard: card,
        currency: 'EUR',
        starts_at: '2026-10-01T00:00:00Z',
        provider: { kind: 'ledger', customer: customerId },
        ...(review === undefined ? {} : { review }),
      });
    const tokens = (customerId: string, key: string, day: string) =>
      buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-${key}`,
        timestamp: `2026-10-${day}T10:00:00.000Z`,
        quantity: '250000',
        metadata: { sku: 'llm.tokens' },
      });
    const openException = async (handle: { query: (query: typeof statusQuery) => Promise<PeriodStatus> }) =>
      waitFor(
        'an open exception',
        async () => (await handle.query(statusQuery).catch(() => undefined))?.openExceptionId,
        90_000,
      );
    const rerunOf = (customerId: string) =>
      testbed.client.workflow.getHandle<typeof customerPeriodWorkflow>(
        customerPeriodWorkflowId({
          customerId,
          period: '2026-10',
          mode: 'live',
          calculationVersion: CALCULATION_VERSION,
          rerun: { number: 1 },
        }),
      );
    const rerun = async (customerId: string) => {
      const started = await runTallyAsOperator(
        testbed,
        {},
        'period',
        'rerun',
        customerId,
        '2026-10',
        '--reason',
        'the cause of the hold is fixed',
        '--by',
        'ops-ana',
      );
      expect(started.status, started.stderr).toBe(0);
    };

    // Held with a draft: every invoice goes to review, October's is rejected; a late event arrives;
    // the re-run voids the held draft and bills both events on its own draft (inv:…:r1), approved.
    const heldDraft = `ops-rerun-draft-${process.pid}`;
    // Held before a draft: usage of a customer no contract covers, rejected; the contract comes, the
    // re-run's draft (inv:…:r1) is the period's only invoice.
    const heldBare = `ops-rerun-bare-${process.pid}`;
    await testbed.publishContract(contract(heldDraft, { total_above: '1.00', timeout: '72h' }));
    await testbed.storeEvents([tokens(heldDraft, 'o1', '02'), tokens(heldBare, 'o1', '02')]);
    await testbed.withWorker(async () => {
      for (const customerId of [heldDraft, heldBare]) {
        const handle = await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'));
        const exceptionId = await openException(handle);
        await handle.executeUpdate(decideUpdate, {
          args: [{ kind: 'reject', exceptionId, reviewer: 'ops-ben', reason: 'not right yet' }],
        });
        expect((await handle.result()).stage).toBe('held');
      }
      expect(await testbed.storeEvents([tokens(heldDraft, 'o2', '03')])).toEqual({ stored: 1, late: 1 });
      await testbed.publishContract(contract(heldBare));

      await rerun(heldDraft);
      const draftRerun = rerunOf(heldDraft);
      await draftRerun.executeUpdate(decideUpdate, {
        args: [{ kind: 'approve', exceptionId: await openException(draftRerun), reviewer: 'ops-ana' }],
      });
      expect(await draftRerun.result()).toMatchObject({ stage: 'completed', invoiceId: `inv:${heldDraft}:2026-10:r1` });
      await rerun(heldBare);
      expect(await rerunOf(heldBare).result()).toMatchObject({
        stage: 'completed',
        invoiceId: `inv:${heldBare}:2026-10:r1`,
      });
    });
    const statuses = await testbed.pool.query<{ invoice_id: string; status: string }>(
      'SELECT invoice_id, status FROM invoices WHERE customer_id = ANY($1) ORDER BY invoice_id',
      [[heldDraft, heldBare]],
    );
    expect(statuses.rows).toEqual([
      { invoice_id: `inv:${heldBare}:2026-10:r1`, status: 'issued' },
      { invoice_id: `inv:${heldDraft}:2026-10`, status: 'voided' },
      { invoice_id: `inv:${heldDraft}:2026-10:r1`, status: 'issued' },
    ]);

    // Two customer-periods, each billed by its current invoice; the voided draft is shown apart.
    const overview = await opsOverview(testbed.pool);
    const october = overview.reconciliation.find((row) => row.period === '2026-10' && row.currency === 'EUR');
    expect(october).toMatchObject({
      invoices: 2,
      issued: 2,
      held: 0,
      drafts: 0,
      voided: 1,
      eventsStored: '3',
      eventsInvoiced: '3',
      eventsLateAdjusted: '0',
      eventsUnaccounted: '0',
    });
  }, 240_000);
});
