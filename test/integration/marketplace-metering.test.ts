import { afterEach, describe, expect, it } from 'vitest';
import { listPeriodBuckets, listSendLog } from '../../db/queries/marketplace.ts';
import { listReviewExceptions } from '../../db/queries/review-exceptions.ts';
import { signCorrection } from '../../contracts/event-correction.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { amendEvents } from '../../ingest/event-corrections.ts';
import { TEST_SOURCE_KEYS } from '../builders/usage-event.ts';
import { MarketplaceTestbed, SERVICE_NAME } from '../harness/marketplaces/marketplace-testbed.ts';

// Sealing and sending on the real Postgres, through the real adapters (the AWS SDK client
// included) against the marketplace emulators: the canonical hourly table, each marketplace's
// shape and empty-hour rule, late usage as deltas, and exactly-once under the emulators' faults.

const at = (time: string): string => `2026-10-14T${time}:00.000Z`;
let testbed: MarketplaceTestbed | undefined;
afterEach(async () => {
  await testbed?.close();
  testbed = undefined;
});

async function setUp(
  name: string,
  options: Parameters<typeof MarketplaceTestbed.create>[1] = {},
): Promise<MarketplaceTestbed> {
  testbed = await MarketplaceTestbed.create(name, options);
  await testbed.addCustomer('mk-aws', 'aws');
  await testbed.addCustomer('mk-azure', 'azure');
  await testbed.addCustomer('mk-gcp', 'gcp');
  for (const customer of ['mk-aws', 'mk-azure', 'mk-gcp'])
    await testbed.billing.storeEvents(
      testbed.events(customer, [
        [at('09:10'), 'llm.tokens', '1500'],
        [at('09:40'), 'llm.tokens', '700'],
        [at('09:20'), 'batch.jobs', '1'],
        [at('09:21'), 'batch.jobs', '1'],
        [at('09:22'), 'batch.jobs', '1'],
        [at('09:30'), 'storage.gb', '5'],
        [at('11:05'), 'llm.tokens', '900'],
      ]),
    );
  return testbed;
}

type Activities = ReturnType<MarketplaceTestbed['activities']>;

/** One hourly run, as the schedule makes it: seal, then send each marketplace. */
async function pass(bed: MarketplaceTestbed, activities: Activities, asOf: string) {
  bed.setNow(asOf);
  const seal = await activities.sealMarketplaceHours({ asOf });
  const sent = [];
  for (const marketplace of ['aws', 'azure', 'gcp'] as const)
    sent.push(await activities.sendMarketplaceRecords({ asOf, marketplace }));
  return { seal, sent };
}

describe('marketplace metering on Postgres with the emulators', () => {
  it('seals one bucket per customer, dimension and hour, and sends each marketplace its shape (AWS zeros, Azure and Google omit)', async () => {
    const bed = await setUp('mkt_shapes');
    const activities = bed.activities();
    const first = await pass(bed, activities, at('10:10'));
    expect(first.seal).toMatchObject({ sealed: 6, problems: [] });
    expect(first.sent.map((result) => [result.marketplace, result.accepted, result.pending])).toEqual([
      ['aws', 2, 0],
      ['azure', 2, 0],
      ['gcp', 2, 0],
    ]);
    const second = await pass(bed, activities, at('11:10'));
    expect(second.sent.map((result) => [result.marketplace, result.calls, result.accepted])).toEqual([
      ['aws', 1, 2], // AWS takes empty hours as 0
      ['azure', 0, 0], // Azure and Google take none
      ['gcp', 0, 0],
    ]);
    await pass(bed, activities, at('12:10'));
    const buckets = await listPeriodBuckets(bed.pool, { period: '2026-10' });
    const view = (customer: string) =>
      buckets
        .filter((bucket) => bucket.customerId === customer)
        .map((bucket) => [
          bucket.dimension,
          bucket.hour.slice(11, 16),
          bucket.hourQuantity,
          bucket.sentQuantity,
          bucket.carryOut,
          bucket.outcome,
        ]);
    expect(view('mk-aws')).toEqual([
      ['jobs', '09:00', '3', '3', '0', 'accepted'],
      ['tokens', '09:00', '2200', '2', '200', 'accepted'],
      ['jobs', '10:00', '0', '0', '0', 'accepted'],
      ['tokens', '10:00', '0', '0', '200', 'accepted'],
      ['jobs', '11:00', '0', '0', '0', 'accepted'],
      ['tokens', '11:00', '900', '1', '100', 'accepted'],
    ]);
    expect(view('mk-azure').map((row) => [row[3], row[5]])).toEqual([
      ['3', 'accepted'],
      ['2.2', 'accepted'],
      ['0', null],
      ['0', null],
      ['0', null],
      ['0.9', 'accepted'],
    ]);
    expect(bed.aws.totals()).toEqual(
      new Map([
        ['123456789012|jobs', 3],
        ['123456789012|tokens', 3],
      ]),
    );
    expect(bed.azure.totals()).toEqual(
      new Map([
        ['7c9e6679-7425-40de-944b-e07fc1f90ae7|jobs', 3],
        ['7c9e6679-7425-40de-944b-e07fc1f90ae7|tokens', 3.1],
      ]),
    );
    expect(bed.gcp.totals()).toEqual(
      new Map([
        [`project_number:4242|${SERVICE_NAME}/jobs`, 3n],
        [`project_number:4242|${SERVICE_NAME}/tokens`, 3n],
      ]),
    );
    // Google got one operation per hour's record, named by the UUIDv5 of its bucket.
    expect([...bed.gcp.operations.keys()].sort()).toEqual(
      buckets
        .filter((bucket) => bucket.customerId === 'mk-gcp' && bucket.sentQuantity !== '0')
        .map((bucket) => bucket.recordKey)
        .sort(),
    );
    // Another run in the same hour seals and sends nothing again.
    const again = await pass(bed, activities, at('12:20'));
    expect(again.seal.sealed).toBe(0);
    expect(again.sent.map((result) => result.calls)).toEqual([0, 0, 0]);
  });

  it('turns late usage into a positive delta in a later hour (AWS, Azure) or a new operation (Google); sums match the rated usage', async () => {
    const bed = await setUp('mkt_late');
    const activities = bed.activities();
    for (const time of ['10:10', '11:10', '12:10']) await pass(bed, activities, at(time));
    for (const customer of ['mk-aws', 'mk-azure', 'mk-gcp'])
      await bed.billing.storeEvents(
        bed.events(customer, [
          [at('09:50'), 'llm.tokens', '1600'],
          [at('10:30'), 'batch.jobs', '1'],
        ]),
      );
    await pass(bed, activities, at('13:10'));

    const hour12 = (await listPeriodBuckets(bed.pool, { period: '2026-10' })).filter(
      (bucket) => bucket.hour === at('12:00'),
    );
    const view = (customer: string) =>
      hour12
        .filter((bucket) => bucket.customerId === customer)
        .map((bucket) => [bucket.dimension, bucket.part, bucket.lateQuantity, bucket.sentQuantity, bucket.outcome]);
    expect(view('mk-aws')).toEqual([
      ['jobs', 'usage', '1', '1', 'accepted'],
      ['tokens', 'usage', '1600', '1', 'accepted'],
    ]);
    expect(view('mk-azure')).toEqual([
      ['jobs', 'usage', '1', '1', 'accepted'],
      ['tokens', 'usage', '1600', '1.6', 'accepted'],
    ]);
    expect(view('mk-gcp')).toEqual([
      ['jobs', 'usage', '0', '0', null],
      ['jobs', 'late', '1', '1', 'accepted'],
      ['tokens', 'usage', '0', '0', null],
      ['tokens', 'late', '1600', '1', 'accepted'],
    ]);
    // Rated: tokens 2,200 + 900 + 1,600 = 4,700 (4.7 listing units), jobs 4.
    expect(bed.aws.totals()).toEqual(
      new Map([
        ['123456789012|jobs', 4],
        ['123456789012|tokens', 4],
      ]),
    ); // + 700 tokens carried
    expect(bed.azure.totals().get('7c9e6679-7425-40de-944b-e07fc1f90ae7|tokens')).toBeCloseTo(4.7, 12);
    expect(bed.gcp.totals().get(`project_number:4242|${SERVICE_NAME}/tokens`)).toBe(4n); // + 700 tokens carried
  });

  it('after a lost answer finds out what was accepted before sending anything new: nothing twice, nothing lost', async () => {
    const bed = await setUp('mkt_lost');
    const activities = bed.activities();
    bed.setNow(at('10:10'));
    await activities.sealMarketplaceHours({ asOf: at('10:10') });
    for (const marketplace of ['aws', 'azure', 'gcp'] as const) {
      const emulator = bed[marketplace];
      emulator.server.inject({ fault: { kind: 'lost_response' } });
      await expect(activities.sendMarketplaceRecords({ asOf: at('10:10'), marketplace })).rejects.toMatchObject({
        code: 'marketplace_unavailable',
      });
      expect(emulator.server.requests.filter((request) => request.committed)).toHaveLength(1);
      // The activity's retry: the records in doubt go first, alone, and the marketplace answers from what it holds.
      expect(await activities.sendMarketplaceRecords({ asOf: at('10:12'), marketplace })).toMatchObject({
        pending: 0,
        rejected: 0,
      });
      expect(emulator.server.requests).toHaveLength(2);
    }
    await pass(bed, activities, at('11:10'));
    await pass(bed, activities, at('12:10'));
    expect(bed.aws.records.size).toBe(6);
    expect(bed.azure.events.size).toBe(3);
    expect(bed.gcp.operations.size).toBe(3);
    const hour09 = (await listPeriodBuckets(bed.pool, { period: '2026-10' })).filter(
      (bucket) => bucket.hour === at('09:00'),
    );
    expect(
      hour09.map((bucket) => [bucket.customerId, bucket.attempts, bucket.outcome, bucket.acceptedQuantity]),
    ).toEqual([
      ['mk-aws', 2, 'accepted', '3'],
      ['mk-aws', 2, 'accepted', '2'],
      // Azure says Duplicate and names the event it accepted from the lost call: settled, with its quantity.
      ['mk-azure', 2, 'duplicate', '3'],
      ['mk-azure', 2, 'duplicate', '2.2'],
      ['mk-gcp', 2, 'accepted', '3'],
      ['mk-gcp', 2, 'accepted', '2'],
    ]);
    const log = await listSendLog(
      bed.pool,
      hour09.map((bucket) => bucket.bucketId),
    );
    expect(log.filter((entry) => entry.attempt === 1).map((entry) => entry.answer)).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
    expect(await listReviewExceptions(bed.pool, {})).toEqual([]);
  });

  it('rides out throttling and unprocessed records within the pass, recording each answer', async () => {
    const bed = await setUp('mkt_throttle');
    const activities = bed.activities();
    bed.aws.server.inject({ fault: { kind: 'throttle' }, times: 2 });
    bed.aws.unprocessNext(2);
    bed.azure.server.inject({ fault: { kind: 'throttle' } });
    bed.gcp.server.inject({ fault: { kind: 'throttle' } });
    const { sent } = await pass(bed, activities, at('10:10'));
    expect(sent.map((result) => [result.accepted, result.pending, result.rejected])).toEqual([
      [2, 0, 0],
      [2, 0, 0],
      [2, 0, 0],
    ]);
    expect(bed.aws.records.size).toBe(2);
    const buckets = await listPeriodBuckets(bed.pool, { period: '2026-10', customerId: 'mk-aws' });
    const answers = (
      await listSendLog(
        bed.pool,
        buckets.map((bucket) => bucket.bucketId),
      )
    ).map((entry) => entry.answer);
    expect(answers).toEqual([
      'throttled',
      'throttled',
      'unprocessed',
      'accepted',
      'throttled',
      'throttled',
      'unprocessed',
      'accepted',
    ]);
  });

  it('finds the record that makes AWS reject a whole batch (its window shrank), and raises it for finance', async () => {
    // AWS shortened its window to 2.5 hours; Tally still thinks 24: the 09:00 records are out of bounds.
    const bed = await setUp('mkt_bounds', { aws: { windowMs: 2.5 * 3_600_000 } });
    const activities = bed.activities();
    bed.setNow(at('12:10'));
    await activities.sealMarketplaceHours({ asOf: at('12:10') });
    const sent = await activities.sendMarketplaceRecords({ asOf: at('12:10'), marketplace: 'aws' });
    expect(sent).toMatchObject({ accepted: 4, rejected: 2, pending: 0 });
    const buckets = await listPeriodBuckets(bed.pool, { period: '2026-10', customerId: 'mk-aws' });
    expect(
      buckets.filter((bucket) => bucket.outcome === 'rejected').map((bucket) => [bucket.hour, bucket.outcomeReason]),
    ).toEqual([
      [at('09:00'), 'TimestampOutOfBoundsException'],
      [at('09:00'), 'TimestampOutOfBoundsException'],
    ]);
    const exceptions = await listReviewExceptions(bed.pool, { status: 'waiting' });
    expect(exceptions).toHaveLength(1);
    expect(exceptions[0]).toMatchObject({
      kind: 'marketplace_report_failed',
      customerId: 'mk-aws',
      invoiceId: null,
      context: { amountAtRisk: '5.50', currency: 'USD' }, // 3 jobs × 0.50 + 2,000 tokens × 0.002
    });
  });

  it('raises an exception at half of a window, and settles an unsent record as expired when its window closes', async () => {
    const bed = await setUp('mkt_windows');
    bed.setNow(at('10:10'));
    // No Google credentials in this process: its records wait.
    const withoutGoogle = bed.activities({ adapters: bed.adapters(['aws', 'azure']) });
    await withoutGoogle.sealMarketplaceHours({ asOf: at('10:10') });
    expect(await withoutGoogle.sendMarketplaceRecords({ asOf: at('10:10'), marketplace: 'gcp' })).toMatchObject({
      status: 'not_configured',
      pending: 2,
    });
    // Google's window is 1 h after the hour: the 09:00 records are past half of it at 10:30.
    expect((await withoutGoogle.checkMarketplaceWindows({ asOf: at('10:29') })).exceptionIds).toEqual([]);
    const check = await withoutGoogle.checkMarketplaceWindows({ asOf: at('10:31') });
    expect(check).toEqual({ atRisk: 2, exceptionIds: ['exc:mkt:at-risk:mk-gcp/jobs/2026-10-14T09:00:00.000Z/usage'] });
    expect((await withoutGoogle.checkMarketplaceWindows({ asOf: at('10:40') })).exceptionIds).toEqual([]);
    const expired = await withoutGoogle.sendMarketplaceRecords({ asOf: at('11:01'), marketplace: 'gcp' });
    expect(expired).toMatchObject({ expired: 2, pending: 0 });
    const exceptions = await listReviewExceptions(bed.pool, { status: 'waiting' });
    expect(exceptions.map((exception) => exception.kind).sort()).toEqual([
      'marketplace_report_failed',
      'marketplace_window_at_risk',
    ]);
    expect(exceptions.find((exception) => exception.kind === 'marketplace_report_failed')?.context).toMatchObject({
      amountAtRisk: '5.50',
    });
    expect(bed.gcp.server.requests).toHaveLength(0);
  });

  it('records a correction below what was sent as an over-report with the refund amount', async () => {
    const bed = await setUp('mkt_over');
    const activities = bed.activities();
    await pass(bed, activities, at('10:10'));
    // Finance restates the listing from 09:00: batch jobs are no longer reported to the marketplace,
    // so the 3 jobs AWS already billed for 09:00 were over-reported.
    await bed.writeRateCardVersion(
      '2026-10-14T09:00:00Z',
      `ratecard: listing\neffective_from: 2026-10-14T09:00:00Z\ncurrency: USD\nprices:\n` +
        `  - { id: tokens, sku: llm.tokens, unit: tokens, aggregation: sum, model: per_unit, unit_price: "0.002", marketplace_dimension: tokens, marketplace_unit_size: "1000" }\n` +
        `  - { id: jobs, sku: batch.jobs, unit: jobs, aggregation: count, model: per_unit, unit_price: "0.50" }\n`,
    );
    await pass(bed, activities, at('11:10'));
    const exceptions = (await listReviewExceptions(bed.pool, { status: 'waiting' })).filter(
      (exception) => exception.customerId === 'mk-aws',
    );
    expect(
      exceptions.map((exception) => [
        exception.kind,
        exception.kind === 'marketplace_over_report' ? exception.context.overReport : undefined,
      ]),
    ).toEqual([
      [
        'marketplace_over_report',
        expect.objectContaining({
          dimension: 'jobs',
          quantity: '3',
          listingQuantity: '3',
          refundAmount: '1.50',
          currency: 'USD',
        }),
      ],
    ]);
    // Nothing is taken back at the marketplace: the 09:00 record stands, the next hour sends 0.
    expect(bed.aws.totals().get('123456789012|jobs')).toBe(3);
  });

  it('reports the corrected event set: a void of a sent hour is an over-report, a replace before sealing is sent as replaced', async () => {
    const bed = await setUp('mkt_amend');
    const activities = bed.activities();
    await pass(bed, activities, at('10:10'));
    expect(bed.aws.totals().get('123456789012|jobs')).toBe(3);
    const eventAt = async (time: string, sku: string): Promise<string> => {
      const { rows } = await bed.pool.query<{ event_id: string }>(
        `SELECT event_id FROM usage_events WHERE customer_id = 'mk-aws' AND sku = $1 AND event_time = $2`,
        [sku, at(time)],
      );
      expect(rows).toHaveLength(1);
      return rows[0]?.event_id as string;
    };
    const secret = TEST_SOURCE_KEYS['api-gateway'];
    const base = { schema_version: 1, source: 'api-gateway' };
    const [tokens] = bed.events('mk-aws', [[at('11:05'), 'llm.tokens', '300']]);
    const { signature: _signature, ...unsigned } = {
      ...(tokens as UsageEvent),
      event_id: await eventAt('11:05', 'llm.tokens'),
    };
    const outcomes = await amendEvents(bed.pool, {
      file: 'fix.jsonl',
      text: [
        signCorrection(
          {
            ...base,
            action: 'void',
            event_id: await eventAt('09:21', 'batch.jobs'),
            reason: 'retried job counted twice',
          },
          secret,
        ),
        signCorrection(
          {
            ...base,
            action: 'replace',
            event_id: unsigned.event_id,
            reason: 'gateway counted prompt tokens twice',
            event: signEvent(unsigned, secret),
          },
          secret,
        ),
      ]
        .map((line) => JSON.stringify(line))
        .join('\n'),
      keys: TEST_SOURCE_KEYS,
      amendedBy: 'ops-ana',
    });
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['accepted', 'accepted']);

    await pass(bed, activities, at('12:10'));
    const exceptions = (await listReviewExceptions(bed.pool, { status: 'waiting' })).filter(
      (exception) => exception.customerId === 'mk-aws',
    );
    // The 09:00 record stands at 3 jobs (no marketplace takes one back): 1 job over-reported, $0.50.
    expect(
      exceptions.map((exception) => [
        exception.kind,
        exception.kind === 'marketplace_over_report' ? exception.context.overReport : undefined,
      ]),
    ).toEqual([
      [
        'marketplace_over_report',
        expect.objectContaining({ dimension: 'jobs', quantity: '1', refundAmount: '0.50', currency: 'USD' }),
      ],
    ]);
    expect(bed.aws.totals().get('123456789012|jobs')).toBe(3);
    // Tokens: 2,200 at 09:00 (2 sent, 200 carried) + 300 at 11:00 (the replacement, not 900) = 2,500.
    expect(bed.aws.totals().get('123456789012|tokens')).toBe(2);
    const hour11 = (await listPeriodBuckets(bed.pool, { period: '2026-10' })).filter(
      (bucket) => bucket.customerId === 'mk-aws' && bucket.hour === at('11:00') && bucket.dimension === 'tokens',
    );
    expect(hour11.map((bucket) => [bucket.hourQuantity, bucket.carryOut])).toEqual([['300', '500']]);
  });

  it('seals once when two passes race, and lets one sender per marketplace run at a time', async () => {
    const bed = await setUp('mkt_race');
    bed.setNow(at('12:10'));
    const first = bed.activities();
    const second = bed.activities();
    const seals = await Promise.all([
      first.sealMarketplaceHours({ asOf: at('12:10') }),
      second.sealMarketplaceHours({ asOf: at('12:10') }),
    ]);
    expect(seals[0].sealed + seals[1].sealed).toBe(18);
    bed.aws.server.inject({ fault: { kind: 'hold' } });
    const holding = first.sendMarketplaceRecords({ asOf: at('12:10'), marketplace: 'aws' });
    while (bed.aws.server.heldCount === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await second.sendMarketplaceRecords({ asOf: at('12:10'), marketplace: 'aws' })).toMatchObject({
      status: 'busy',
      calls: 0,
    });
    bed.aws.server.release();
    expect(await holding).toMatchObject({ accepted: 6 });
    expect(bed.aws.records.size).toBe(6);
  });
});
