import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { decideUpdate, statusQuery } from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { recordHistory } from '../replay/workflow-histories.ts';
import { waitFor } from '../harness/wait-for.ts';

/**
 * Credits are drawn and expire in period order, whatever order the closes run in: a later period
 * waits for every earlier one of the customer to be final before it rates and draws.
 */

let testbed: BillingTestbed;
let files: RateCardFiles;
beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('credit_order', { ratecardsDir: files.root });
  await files.publish(
    testbed.pool,
    await files.write('credits', '2026-09-01T00:00:00Z', { tokenPrice: '0.001', fee: '300.00' }),
  );
});
afterAll(async () => {
  await testbed?.close();
  await rm(files.root, { recursive: true, force: true });
});

describe('credits across periods closing out of order', () => {
  it('draws and expires in period order when October is approved after November was asked to close', async () => {
    const customerId = `credit-order-${process.pid}`;
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        ratecard: 'credits',
        starts_at: '2026-09-01T00:00:00Z',
        credits: [
          {
            id: 'promo',
            kind: 'promotional',
            amount: '400.00',
            granted_at: '2026-09-01T00:00:00Z',
            expires_at: '2026-11-20T00:00:00Z',
          },
          { id: 'prepaid', kind: 'prepaid', amount: '1000.00', granted_at: '2026-09-01T00:00:00Z' },
        ],
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    const event = (id: string, timestamp: string, quantity: string) =>
      buildUsageEvent({
        customer_id: customerId,
        event_id: `${customerId}-${id}`,
        timestamp,
        quantity,
        metadata: { sku: 'llm.tokens' },
      });
    // October also has usage no price matches: it waits for a person (unpriced usage is never billed
    // silently); November does not.
    const unpriced = buildUsageEvent({
      customer_id: customerId,
      event_id: `${customerId}-oct-images`,
      timestamp: '2026-10-06T10:00:00.000Z',
      unit: 'images',
      quantity: '3',
      metadata: { sku: 'llm.images' },
    });
    await testbed.storeEvents([
      event('oct', '2026-10-05T10:00:00.000Z', '1500000'),
      unpriced,
      event('nov', '2026-11-05T10:00:00.000Z', '100000'),
    ]);

    await testbed.withWorker(async () => {
      const october = await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'));
      const exceptionId = await waitFor(
        'October in review',
        async () => (await october.query(statusQuery)).openExceptionId,
      );
      const november = await testbed.startPeriod(testbed.periodInput(customerId, '2026-11'));
      // November waits for October to be final instead of drawing the credits October is about to use.
      await waitFor('November waiting for October', async () =>
        (await november.query(statusQuery)).stage === 'waiting_for_earlier_period' ? true : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect((await november.query(statusQuery)).stage).toBe('waiting_for_earlier_period');

      await october.executeUpdate(decideUpdate, { args: [{ kind: 'approve', exceptionId, reviewer: 'ops-ana' }] });
      expect((await october.result()).stage).toBe('completed');
      expect((await november.result()).stage).toBe('completed');
      await recordHistory(november, 'waited-for-earlier-period');
    });

    const october = (await findInvoice(testbed.pool, `inv:${customerId}:2026-10`))?.document as IssuedInvoice;
    const november = (await findInvoice(testbed.pool, `inv:${customerId}:2026-11`))?.document as IssuedInvoice;
    // October: 1,500.00 usage + 300.00 fee, the promotional credit first, then prepaid.
    expect(october.lines.filter((line) => line.kind === 'credit').map((line) => [line.line_key, line.amount])).toEqual([
      ['credit:promo', '-400.00'],
      ['credit:prepaid', '-1000.00'],
    ]);
    expect(october.total).toBe('400.00');
    // November: the promotional credit expired on the 20th (not usable in November), the prepaid one is used up.
    expect(november.lines.filter((line) => line.kind === 'credit')).toEqual([]);
    expect(november.total).toBe('400.00');
    const { rows } = await testbed.pool.query<{ credit_id: string; remaining: string }>(
      'SELECT credit_id, remaining::text FROM credit_grants WHERE customer_id = $1 ORDER BY credit_id',
      [customerId],
    );
    expect(rows.map((row) => [row.credit_id, Number(row.remaining)])).toEqual([
      ['prepaid', 0],
      ['promo', 0],
    ]);
  }, 180_000);
});
