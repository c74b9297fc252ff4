import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditBalances } from '../../db/queries/credit-ledger.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
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

/**
 * The credits a re-run of a held period draws (SPEC §3 rule 10, §5 "Held periods"): those usable in
 * the held period, each at most once across all invoices. A later period issued while October was
 * held draws first (its invoice is immutable), but it must not make a credit usable in October
 * lapse before October's re-run could draw it; a credit granted after October never applies to it.
 */

let testbed: BillingTestbed;
let files: RateCardFiles;
beforeAll(async () => {
  ({ testbed, files } = await BillingTestbed.createWithRateCardFiles('rerun_credits'));
});
afterAll(async () => {
  await testbed?.close();
});

const OCTOBER = '2026-10';
const NOVEMBER = '2026-11';

/** How long a wait for the workflow or a worker may take here (a re-run is a second close, on a shared machine). */
const WAIT_MS = 90_000;

type PeriodHandle = ReturnType<typeof testbed.client.workflow.getHandle<typeof customerPeriodWorkflow>>;

/** Waits for the close's review and decides it. */
async function decide(handle: PeriodHandle, kind: 'approve' | 'reject'): Promise<void> {
  const exceptionId = await waitFor(
    'the review',
    async () => {
      const status: PeriodStatus | undefined = await handle.query(statusQuery).catch(() => undefined);
      return status?.openExceptionId;
    },
    WAIT_MS,
  );
  await handle.executeUpdate(decideUpdate, {
    args: [
      kind === 'approve'
        ? { kind, exceptionId, reviewer: 'ops-ana' }
        : { kind, exceptionId, reviewer: 'ops-ben', reason: 'rate card was wrong' },
    ],
  });
}

function creditLines(lines: readonly { kind: string; line_key: string; amount: string }[] | undefined) {
  return Object.fromEntries(
    (lines ?? []).filter((line) => line.kind === 'credit').map((line) => [line.line_key, line.amount]),
  );
}

describe('a re-run of a held period and the credit ledger', () => {
  it('draws the credits usable in the held period that are left, never one granted later, never one twice, and lets none lapse before it', async () => {
    const customerId = `rerun-credits-${process.pid}`;
    const card = `rrc${process.pid}`;
    await files.publish(testbed.pool, await files.write(card, '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        ratecard: card,
        starts_at: '2026-10-01T00:00:00Z',
        review: { total_above: '1.00', timeout: '72h' },
        provider: { kind: 'ledger', customer: customerId },
        credits: [
          // Usable in October only (it expires in the middle of November).
          {
            id: 'october-promo',
            kind: 'promotional',
            amount: '40.00',
            granted_at: '2026-09-01T00:00:00Z',
            expires_at: '2026-11-15T00:00:00Z',
          },
          { id: 'prepaid-a', kind: 'prepaid', amount: '100.00', granted_at: '2026-09-01T00:00:00Z' },
          // Granted after October ended: never October's.
          { id: 'prepaid-b', kind: 'prepaid', amount: '500.00', granted_at: '2026-11-10T00:00:00Z' },
        ],
      }),
    );
    // October: 250,000 tokens (250.00); November: 60,000 (60.00).
    await testbed.storeEvents([
      buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-o1`,
        timestamp: '2026-10-02T10:00:00.000Z',
        quantity: '250000',
      }),
      buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-n1`,
        timestamp: '2026-11-02T10:00:00.000Z',
        quantity: '60000',
      }),
    ]);

    await testbed.withWorker(async () => {
      // 1. October is rejected in review: held, nothing drawn.
      const october = await testbed.startPeriod(testbed.periodInput(customerId, OCTOBER));
      await decide(october, 'reject');
      expect((await october.result()).stage).toBe('held');

      // 2. November closes and issues while October is held (held is an outcome): it draws 60.00
      //    from prepaid-a (the October promotion is not usable in November; prepaid-b comes after a).
      //    (Its total after credits is 0.00, under the review threshold: no review.)
      const november = await testbed.startPeriod(testbed.periodInput(customerId, NOVEMBER));
      expect((await november.result()).stage).toBe('completed');
      const novemberInvoice = await findInvoice(testbed.pool, `inv:${customerId}:${NOVEMBER}`);
      expect(novemberInvoice?.status).toBe('issued');
      expect(creditLines(novemberInvoice?.document.lines)).toEqual({ 'credit:prepaid-a': '-60.00' });

      // 3. October is re-run (the rate card was fine after all) and approved.
      const started = await runTallyAsOperator(
        testbed,
        {},
        'period',
        'rerun',
        customerId,
        OCTOBER,
        '--reason',
        'reviewed again: the price was right',
        '--by',
        'ops-ana',
      );
      expect(started.status, started.stderr).toBe(0);
      const rerun = testbed.client.workflow.getHandle<typeof customerPeriodWorkflow>(
        customerPeriodWorkflowId({
          customerId,
          period: OCTOBER,
          mode: 'live',
          calculationVersion: CALCULATION_VERSION,
          rerun: { number: 1 },
        }),
      );
      await decide(rerun, 'approve');
      expect((await rerun.result()).stage).toBe('completed');
    });

    // October's re-run draws the October promotion in full (usable in October, never drawn), then
    // what November left of prepaid-a; never prepaid-b (granted after October).
    const rerunInvoice = await findInvoice(testbed.pool, `inv:${customerId}:${OCTOBER}:r1`);
    expect(rerunInvoice?.status).toBe('issued');
    expect(creditLines(rerunInvoice?.document.lines)).toEqual({
      'credit:october-promo': '-40.00',
      'credit:prepaid-a': '-40.00',
    });
    expect(rerunInvoice?.document.total).toBe('170.00');

    // The ledger: each credit drawn at most its amount; the promotion expired once the re-run issued
    // (the expiry after it runs to the end of the latest issued period, November), taking what was
    // left: nothing.
    const balances = Object.fromEntries(
      (await creditBalances(testbed.pool, customerId)).map((credit) => [
        credit.credit_id,
        { consumed: credit.consumed, expired: credit.expired, remaining: credit.remaining },
      ]),
    );
    expect(balances).toEqual({
      // Lapsed after the re-run issued, with nothing left: no breakage.
      'october-promo': { consumed: '40.00', expired: '0.00', remaining: '0.00' },
      'prepaid-a': { consumed: '100.00', expired: '0', remaining: '0.00' },
      'prepaid-b': { consumed: '0', expired: '0', remaining: '500.00' },
    });
    const draws = await testbed.pool.query<{ credit_id: string; invoice_id: string; amount: string }>(
      `SELECT credit_id, invoice_id, amount::text AS amount FROM credit_movements
        WHERE customer_id = $1 AND kind = 'consumption' ORDER BY movement_id`,
      [customerId],
    );
    expect(draws.rows).toEqual([
      { credit_id: 'prepaid-a', invoice_id: `inv:${customerId}:${NOVEMBER}`, amount: '-60.00' },
      { credit_id: 'october-promo', invoice_id: `inv:${customerId}:${OCTOBER}:r1`, amount: '-40.00' },
      { credit_id: 'prepaid-a', invoice_id: `inv:${customerId}:${OCTOBER}:r1`, amount: '-40.00' },
    ]);
  }, 240_000);
});
