import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBillingActivities, type BillingActivities } from '../../activities/index.ts';
import { publishedTerms } from '../../terms/index.ts';
import { repositoryRoot } from '../../config/services.ts';
import { createBillingProviders } from '../../providers/index.ts';
import { createWebhookNotifier } from '../../providers/webhook-notifier.ts';
import { CALCULATION_VERSION } from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// A worker can die after an activity's writes commit and before Temporal hears it finished: the
// activity then runs again. Every step, run twice with the same input, must leave one set of effects.

let testbed: BillingTestbed;
let activities: BillingActivities;
beforeAll(async () => {
  testbed = await BillingTestbed.create('activity_retry');
  activities = createBillingActivities({
    pool: testbed.pool,
    terms: publishedTerms(testbed.pool, { ratecardsDir: path.join(repositoryRoot, 'ratecards') }),
    providers: createBillingProviders({ pool: testbed.pool }),
    notifier: createWebhookNotifier(testbed.webhookUrl),
  });
});
afterAll(async () => {
  await testbed.close();
});

const environment = new MockActivityEnvironment();
const twice = async <T>(run: () => Promise<T>): Promise<[T, T]> => [
  await environment.run(run),
  await environment.run(run),
];
const once = <T>(run: () => Promise<T>): Promise<T> => environment.run(run);

describe('billing activities run twice', () => {
  it('leave one snapshot, one invoice number, one provider invoice, one set of credit draws and journal entries', async () => {
    const customerId = 'retry-twice';
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        starts_at: '2026-01-01T00:00:00Z',
        commit: { amount: '40.00' },
        credits: [{ id: 'promo', kind: 'promotional', amount: '7.50', granted_at: '2026-09-01T00:00:00Z' }],
        review: { total_above: '1.00', timeout: '1h' },
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    await testbed.storeEvents(
      [1, 2].map((index) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-${index}`,
          timestamp: `2026-10-0${index}T00:00:00.000Z`,
          quantity: '250000',
        }),
      ),
    );
    const target = { customerId, period: '2026-10', mode: 'live' as const, calculationVersion: CALCULATION_VERSION };

    const [firstSnapshot, secondSnapshot] = await twice(() =>
      activities.snapshotPeriod({ ...target, closeRequestedAt: '2026-11-01T01:00:00.000Z', checks: true }),
    );
    expect(secondSnapshot).toEqual(firstSnapshot);
    if (firstSnapshot.status !== 'snapshotted') throw new Error(`no snapshot: ${JSON.stringify(firstSnapshot)}`);
    const [draft, redraft] = await twice(() =>
      activities.rateDraftInvoice({ ...target, snapshotId: firstSnapshot.snapshotId }),
    );
    expect(redraft).toEqual(draft);
    const breaches = await once(() => activities.evaluateReview({ invoiceId: draft.invoiceId }));
    const [exception, sameException] = await twice(() =>
      activities.openException({
        customerId,
        period: '2026-10',
        invoiceId: draft.invoiceId,
        workflowId: 'wf-retry',
        kind: 'threshold',
        sequence: 1,
        breaches,
      }),
    );
    expect(sameException).toEqual(exception);
    await twice(() => activities.drawDownCredits({ invoiceId: draft.invoiceId }));
    const [issued, reissued] = await twice(() => activities.issueInvoice({ invoiceId: draft.invoiceId }));
    expect(reissued).toEqual(issued);
    const [synced, resynced] = await twice(() => activities.syncInvoice({ invoiceId: draft.invoiceId }));
    expect(resynced).toEqual(synced);
    const [posted, reposted] = await twice(() => activities.postJournal({ invoiceId: draft.invoiceId }));
    expect(posted.posted).toBeGreaterThan(0);
    expect(reposted).toEqual({ posted: 0, alreadyPosted: posted.posted });

    const count = async (sql: string) => (await testbed.pool.query<{ n: number }>(sql, [customerId])).rows[0]?.n;
    expect(await count('SELECT count(*)::int AS n FROM period_snapshots WHERE customer_id = $1')).toBe(1);
    expect(await count('SELECT count(*)::int AS n FROM review_exceptions WHERE customer_id = $1')).toBe(1);
    expect(await count('SELECT last_number AS n FROM invoice_number_counters WHERE customer_id = $1')).toBe(1);
    expect(
      await count("SELECT count(*)::int AS n FROM credit_movements WHERE customer_id = $1 AND kind = 'consumption'"),
    ).toBe(1);
    expect(
      await count(
        'SELECT count(*)::int AS n FROM provider_ledger_invoices i JOIN invoices v USING (invoice_id) WHERE v.customer_id = $1',
      ),
    ).toBe(1);
    expect(
      await count('SELECT count(*)::int AS n FROM journal_entries WHERE customer_id = $1 AND invoice_id IS NOT NULL'),
    ).toBe(posted.posted);
    expect(issued.invoiceNumber).toBe(`${customerId}-0001`);
  }, 60_000);
});
