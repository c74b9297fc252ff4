import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillActivities } from '../../activities/index.ts';
import { signCorrection } from '../../contracts/event-correction.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import type { AdjustmentLine, IssuedInvoice } from '../../contracts/invoice.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { tallyInProcess as tally } from '../cli/tally-in-process.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { loadJournalEntries, trialBalance } from '../../db/queries/journal.ts';
import { netDebitByAccount, type AccountCode } from '../../domain/journal/index.ts';
import { Decimal, formatMoney, sumDecimals } from '../../domain/money.ts';
import { amendEvents } from '../../ingest/event-corrections.ts';
import { publishedTerms } from '../../terms/index.ts';
import { backfillWorkflowId, type BackfillProgress } from '../../workflows/backfill-definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent, TEST_SOURCE_KEYS } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';

// Revenue recognition through corrections on the real stack (issue 18): October recognized by day,
// closed and invoiced; October's events then amended (a void and a replace, SPEC §5), a backfill
// writes the difference on November's invoice; November closed. The tie-out must still hold:
// reconcile has no difference, the disaggregation nets to October's usage plus the adjustment,
// every entry balances, and the revenue schedule shows the adjustment.

let bed: BillingTestbed;
let files: RateCardFiles;
const run = `${process.pid}`;
const customerId = `rev-corr-${run}`;
const card = `revcorr${run}`;
const savedEnv = { ...process.env };

function tokens(id: string, timestamp: string, quantity: string): UsageEvent {
  return buildUsageEvent({
    customer_id: customerId,
    event_id: `${customerId}-${id}`,
    timestamp,
    unit: 'tokens',
    quantity,
    metadata: { sku: 'llm.tokens' },
  });
}

const october = [
  tokens('e1', '2026-10-05T10:00:00.000Z', '100000'),
  tokens('e2', '2026-10-06T10:00:00.000Z', '200000'),
  tokens('e3', '2026-10-20T10:00:00.000Z', '300000'),
];

beforeAll(async () => {
  files = await RateCardFiles.create();
  bed = await BillingTestbed.create('revenue_corrections', { ratecardsDir: files.root });
  const { endpoints } = testStack();
  process.env.DATABASE_URL = bed.databaseUrl;
  process.env.NATS_URL = endpoints.natsUrl;
  process.env.TEMPORAL_ADDRESS = endpoints.temporalAddress;
  await files.publish(bed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001', fee: '50.00' }));
  await bed.publishContract(
    buildContract({
      customer_id: customerId,
      ratecard: card,
      starts_at: '2026-09-01T00:00:00Z',
      provider: { kind: 'ledger', customer: customerId },
    }),
  );
  await bed.storeEvents(october, '2026-10-21T00:00:00.000Z');
});

afterAll(async () => {
  process.env = savedEnv;
  await bed?.close();
  await rm(files.root, { recursive: true, force: true });
});

async function runDay(day: string): Promise<{ status: string; detail: string }> {
  const output = JSON.parse(await tally('revenue', 'run', '--day', day, '--customer', customerId, '--json')) as {
    results: { status: string; detail: string }[];
  };
  const [result] = output.results;
  if (result === undefined) throw new Error(`no result for ${day}`);
  return result;
}

async function closePeriod(period: string): Promise<IssuedInvoice> {
  const result = await (await bed.startPeriod(bed.periodInput(customerId, period))).result();
  expect(result.stage).toBe('completed');
  return (await findInvoice(bed.pool, `inv:${customerId}:${period}`))?.document as IssuedInvoice;
}

const credited = (entries: Parameters<typeof netDebitByAccount>[0], account: AccountCode): Decimal =>
  (netDebitByAccount(entries).get(account) ?? new Decimal(0)).negated();

describe('revenue recognition through event corrections and a backfill', () => {
  it('recognizes October by day, bills its correction on November, and still ties out usage → invoice → GL', async () => {
    // October by day: 5 days in, 300,000 tokens at 0.001 → 300.00; by the 31st all 600.00.
    expect(await runDay('2026-10-10')).toMatchObject({
      status: 'posted',
      detail: 'usage revenue 300.00 USD, booked in 2026-10',
    });
    expect(await runDay('2026-10-31')).toMatchObject({
      status: 'posted',
      detail: 'usage revenue 300.00 USD, booked in 2026-10',
    });

    const octoberInvoice = await bed.withWorker(async () => closePeriod('2026-10'));
    const octoberUsage = sumDecimals(
      octoberInvoice.lines.filter((line) => line.kind === 'usage').map((line) => new Decimal(line.amount)),
    );
    expect(formatMoney(octoberUsage, 'USD')).toBe('600.00');

    // After the invoice: e1 was double-metered (void), e2 was 10x too large (replace with 20,000).
    const secret = TEST_SOURCE_KEYS['api-gateway'];
    const base = { schema_version: 1, source: 'api-gateway' };
    const { signature: _signature, ...unsigned } = october[1] as UsageEvent;
    const text = [
      signCorrection({ ...base, action: 'void', event_id: `${customerId}-e1`, reason: 'double-metered' }, secret),
      signCorrection(
        {
          ...base,
          action: 'replace',
          event_id: `${customerId}-e2`,
          reason: 'ten times too large',
          event: signEvent({ ...unsigned, quantity: '20000' }, secret),
        },
        secret,
      ),
    ]
      .map((line) => JSON.stringify(line))
      .join('\n');
    const outcomes = await amendEvents(bed.pool, { file: 'fix.jsonl', text, keys: TEST_SOURCE_KEYS, amendedBy: 'ops' });
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['accepted', 'accepted']);

    // The backfill over October: 320,000 tokens now, 320.00 against 600.00 billed → −280.00.
    const backfills = createBackfillActivities({ pool: bed.pool, terms: publishedTerms(bed.pool) });
    const plan = await backfills.planBackfill({
      from: '2026-10',
      to: '2026-10',
      customers: [customerId],
      reason: 'gateway corrections',
      createdBy: 'ops',
      now: new Date().toISOString(),
    });
    expect(plan.items[0]).toMatchObject({ adjustmentTotal: '-280.00' });
    const november = await bed.withWorker(async () => {
      const handle = await bed.client.workflow.start('backfillWorkflow', {
        taskQueue: bed.taskQueue,
        workflowId: backfillWorkflowId(plan.planId),
        args: [{ backfillId: plan.planId, planId: plan.planId, startedBy: 'ops', stepTimeoutMs: 5_000 }],
      });
      expect((await handle.result()) as BackfillProgress).toMatchObject({ state: 'completed', adjusted: 1 });
      return closePeriod('2026-11');
    });
    const adjustments = november.lines.filter((line): line is AdjustmentLine => line.kind === 'adjustment');
    expect(adjustments.map((line) => [line.amount, line.corrects_invoice_id])).toEqual([
      ['-280.00', `inv:${customerId}:2026-10`],
    ]);
    const adjustment = new Decimal('-280.00');

    // Every journal entry balances, and the customer's ledger as a whole.
    const entries = await loadJournalEntries(bed.pool, { customerId });
    for (const entry of entries) {
      const net = sumDecimals([...netDebitByAccount([entry]).values()]);
      expect(`${entry.entry_key} ${net.toString()}`).toBe(`${entry.entry_key} 0`);
    }
    expect((await trialBalance(bed.pool, { customerId })).balanced).toBe(true);

    // Reconcile: October and November both tie out.
    for (const period of ['2026-10', '2026-11']) {
      const result = JSON.parse(await tally('reconcile', '--period', period, '--json')) as { differences: unknown[] };
      process.exitCode = 0;
      expect([period, result.differences]).toEqual([period, []]);
    }

    // October's usage revenue in the journal, wherever it was posted: the invoice's usage plus the adjustment.
    const octoberEntries = await loadJournalEntries(bed.pool, { customerId, servicePeriod: '2026-10' });
    expect(formatMoney(credited(octoberEntries, 'usage_revenue'), 'USD')).toBe(
      formatMoney(octoberUsage.plus(adjustment), 'USD'),
    );

    // Disaggregation: usage revenue of October and November together nets to 600.00 − 280.00.
    const disaggregated = async (period: string) =>
      (
        JSON.parse(await tally('revenue', 'disaggregate', '--period', period, '--format', 'json')) as {
          customer_id: string;
          category: string;
          amount: string;
        }[]
      ).filter((row) => row.customer_id === customerId && row.category === 'usage');
    const usageRows = [...(await disaggregated('2026-10')), ...(await disaggregated('2026-11'))];
    expect(formatMoney(sumDecimals(usageRows.map((row) => new Decimal(row.amount))), 'USD')).toBe(
      formatMoney(octoberUsage.plus(adjustment), 'USD'),
    );

    // The revenue schedule of October shows the adjustment's effect: after the days and their settlement,
    // the correction November's invoice posted for October, dated the day it was posted; the accrual
    // position stays at zero (the adjustment is billed in the same posting, nothing is unbilled).
    const schedule = JSON.parse(
      await tally('revenue', 'schedule', '--period', '2026-10', '--customer', customerId, '--json'),
    ) as { days: { day: string; kind: string; usage_revenue: string; accrual_position: string; entry_key: string }[] };
    const postedOn = await bed.pool.query<{ day: string; entry_key: string }>(
      `SELECT to_char(posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, entry_key FROM journal_entries
        WHERE customer_id = $1 AND entry_type = 'adjustment_posted' AND invoice_id = $2`,
      [customerId, `inv:${customerId}:2026-11`],
    );
    expect(schedule.days.map((row) => [row.kind, row.day, row.usage_revenue, row.accrual_position])).toEqual([
      ['day', '2026-10-10', '300.00', '316.13'],
      ['day', '2026-10-31', '300.00', '650.00'],
      ['settlement', 'settled', '-600.00', '0.00'],
      ['adjustment', postedOn.rows[0]?.day, '-280.00', '0.00'],
    ]);
    expect(postedOn.rows).toHaveLength(1);
    expect(schedule.days.at(-1)?.entry_key).toBe(postedOn.rows[0]?.entry_key);
  }, 240_000);
});
