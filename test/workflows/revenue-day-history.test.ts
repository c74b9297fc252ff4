import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJournalEntries } from '../../db/queries/journal.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { revenueDayWorkflowId } from '../../workflows/revenue-definitions.ts';
import type { revenueDayWorkflow } from '../../workflows/revenue.ts';

// A day's recognition runs one activity per customer. Its history must not grow with the number of
// customers (Temporal terminates a workflow at 50,000 events; a deployment with ~15,000 customers
// would lose its daily recognition): the day lists customers a page at a time and continues as new.

let bed: BillingTestbed;
const CUSTOMERS = 32;
const day = '2026-10-05';
const ids = Array.from({ length: CUSTOMERS }, (_, index) => `rev-page-${String(index).padStart(2, '0')}`);

beforeAll(async () => {
  bed = await BillingTestbed.create('revenue_pages');
  for (const customerId of ids) await bed.publishContract(buildContract({ customer_id: customerId }));
  // Every other customer used tokens that day; the rest have nothing to recognize.
  await bed.storeEvents(
    ids
      .filter((_, index) => index % 2 === 0)
      .map((customerId) =>
        buildUsageEvent({
          customer_id: customerId,
          timestamp: `${day}T10:00:00.000Z`,
          quantity: '300000',
          metadata: { sku: 'llm.tokens', region: 'us-east-1' },
        }),
      ),
    '2026-10-06T00:00:00.000Z',
  );
});

afterAll(async () => {
  await bed.close();
});

describe("a day's recognition over many customers", () => {
  it('keeps every run under its history budget, recognizes each customer once and sums the runs', async () => {
    const workflowId = `${revenueDayWorkflowId(bed.taskQueue, day)}:pages`;
    await bed.withWorker(async () => {
      const handle = await bed.client.workflow.start<typeof revenueDayWorkflow>('revenueDayWorkflow', {
        taskQueue: bed.taskQueue,
        workflowId,
        args: [{ day, stepTimeoutMs: 5_000, pageSize: 8, historyBudget: 30 }],
      });
      const summary = await handle.result();
      // Each customer's day posts one entry (its fee accrues daily; half also used tokens).
      expect(summary).toMatchObject({ day, customers: CUSTOMERS, posted: CUSTOMERS, unchanged: 0, failures: [] });
      const lengths = await bed.runHistoryLengths(handle.workflowId, handle.firstExecutionRunId);
      // One run of ~125 events before; a page of 8 customers (~40 events) a run after.
      expect(lengths.length).toBeGreaterThan(1);
      for (const length of lengths) expect(length).toBeLessThanOrEqual(80);
    });
    const entries = await loadJournalEntries(bed.pool, { entryTypes: ['revenue_recognized'] });
    const recognized = new Set(entries.map((entry) => entry.customer_id));
    expect(recognized.size).toBe(CUSTOMERS);
    expect(entries).toHaveLength(CUSTOMERS);
  }, 240_000);
});
