import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { UnsignedUsageEvent } from '../../contracts/usage-event.ts';
import { loadRateCard } from '../../config/config-files.ts';
import { loadUsageAggregates } from '../../db/queries/usage-aggregates.ts';
import { billingPeriod } from '../../domain/period.ts';
import { aggregateEvents, ratePeriod, usageAggregationPlan } from '../../domain/rating/index.ts';
import { buildContract, buildUnsignedEvent } from '../builders/rating.ts';
import { demoCustomers, generateUsageEvents } from '../builders/usage-events.ts';
import { testPool } from '../harness/services.ts';

// The workflow aggregates in Postgres, `tally rate` in memory: both must give the engine the same
// UsageAggregates for the same events. A temporary table with the columns of usage_events stands in.
const OCTOBER = billingPeriod('2026-10');
const pool = testPool(1);
let client: pg.PoolClient;

beforeAll(async () => {
  client = await pool.connect();
  await client.query(`CREATE TEMP TABLE rating_events (
    source text NOT NULL, event_id text NOT NULL, customer_id text NOT NULL, event_time timestamptz NOT NULL, received_at timestamptz NOT NULL,
    sku text NOT NULL, unit text NOT NULL, quantity numeric NOT NULL, metadata jsonb NOT NULL, PRIMARY KEY (source, event_id))`);
});
afterAll(async () => {
  client.release();
  await pool.end();
});

async function store(events: readonly UnsignedUsageEvent[]): Promise<void> {
  for (let start = 0; start < events.length; start += 1000) {
    const batch = events.slice(start, start + 1000);
    await client.query(
      `INSERT INTO rating_events (source, event_id, customer_id, event_time, received_at, sku, unit, quantity, metadata)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[], $8::numeric[], $9::jsonb[])
       ON CONFLICT (source, event_id) DO NOTHING`,
      [
        batch.map((event) => event.source),
        batch.map((event) => event.event_id),
        batch.map((event) => event.customer_id),
        batch.map((event) => event.timestamp),
        batch.map(() => '2026-11-01T00:30:00Z'),
        batch.map((event) => event.metadata.sku),
        batch.map((event) => event.unit),
        batch.map((event) => event.quantity),
        batch.map((event) => JSON.stringify(event.metadata)),
      ],
    );
  }
}

describe('aggregating in Postgres', () => {
  it('gives exactly the aggregates of aggregateEvents, and so the same invoice', async () => {
    const versions = await loadRateCard('ratecards', 'standard');
    const generated = generateUsageEvents({
      customers: demoCustomers(3),
      period: '2026-10',
      seed: 11,
      scale: 0.3,
      duplicateEvery: 25,
      unpricedPerCustomer: 3,
    });
    const tie = { customer_id: 'acme', unit: 'GB-month', metadata: { sku: 'storage.gb', region: 'us-east-1' } };
    const edges: UnsignedUsageEvent[] = [
      // A timestamp tie in one group: the latest is the greatest `${source}:${event_id}` (as text: 'z-meter:1' > 'a-meter:9').
      buildUnsignedEvent({
        ...tie,
        source: 'a-meter',
        event_id: '9',
        timestamp: '2026-10-31T20:00:00.123456Z',
        quantity: '5.000',
      }),
      buildUnsignedEvent({
        ...tie,
        source: 'z-meter',
        event_id: '1',
        timestamp: '2026-10-31T22:00:00.123456+02:00',
        quantity: '7.25',
      }),
      // On the version boundary, written with an offset; just before it, with microseconds.
      buildUnsignedEvent({
        customer_id: 'acme',
        event_id: 'boundary',
        timestamp: '2026-10-16T02:00:00+02:00',
        quantity: '1.500000000000',
      }),
      buildUnsignedEvent({
        customer_id: 'acme',
        event_id: 'before-boundary',
        timestamp: '2026-10-15T23:59:59.999999Z',
        quantity: '0.000000000001',
      }),
      // Outside the period, another customer, a unit no price uses, metadata without the grouping key.
      buildUnsignedEvent({ customer_id: 'acme', event_id: 'september', timestamp: '2026-09-30T23:59:59.999999Z' }),
      buildUnsignedEvent({ customer_id: 'acme', event_id: 'november', timestamp: '2026-11-01T00:00:00Z' }),
      buildUnsignedEvent({ customer_id: 'globex', event_id: 'other-customer' }),
      buildUnsignedEvent({ customer_id: 'acme', event_id: 'characters', unit: 'characters' }),
      buildUnsignedEvent({ customer_id: 'acme', event_id: 'no-region', metadata: { sku: 'llm.tokens', plan: 'pro' } }),
      buildUnsignedEvent({
        customer_id: 'acme',
        event_id: 'user-without-id',
        unit: 'users',
        metadata: { sku: 'app.active_users' },
      }),
    ];
    const events = [...generated, ...edges];
    await store(events);

    const acme = events.filter((event) => event.customer_id === 'acme');
    const offline = aggregateEvents(acme, versions, OCTOBER);
    const sql = await loadUsageAggregates(client, usageAggregationPlan(versions, OCTOBER), {
      customerId: 'acme',
      table: 'rating_events',
    });
    expect(offline.aggregates.length).toBeGreaterThan(30);
    expect(sql).toEqual(offline.aggregates);
    // No price of this card aggregates by latest: no group carries a latest event.
    expect(sql.filter((aggregate) => aggregate.latestEventKey !== undefined)).toEqual([]);

    // The europe card prices storage.gb by its latest value: those groups carry it, found alike.
    const europe = await loadRateCard('ratecards', 'europe');
    const offlineEurope = aggregateEvents(acme, europe, OCTOBER);
    const sqlEurope = await loadUsageAggregates(client, usageAggregationPlan(europe, OCTOBER), {
      customerId: 'acme',
      table: 'rating_events',
    });
    expect(sqlEurope).toEqual(offlineEurope.aggregates);
    expect(
      new Set(
        sqlEurope.filter((aggregate) => aggregate.latestEventKey !== undefined).map((aggregate) => aggregate.sku),
      ),
    ).toEqual(new Set(['storage.gb']));
    expect(
      sqlEurope.find((aggregate) => aggregate.sku === 'storage.gb' && aggregate.latestEventKey === 'z-meter:1'),
    ).toMatchObject({ latestQuantity: '7.25', latestTimestamp: '2026-10-31T20:00:00.123456Z' });

    const contract = buildContract({ commit: { amount: '100.00' } });
    const rate = (aggregates: typeof sql): string =>
      JSON.stringify(
        ratePeriod({
          customerId: 'acme',
          period: OCTOBER,
          contract,
          versions,
          aggregates,
          counters: offline.counters,
          credits: [],
          calculationVersion: 'test',
        }),
      );
    expect(rate(sql)).toBe(rate(offline.aggregates));
  });

  it('leaves out events received after the cut-off', async () => {
    const versions = await loadRateCard('ratecards', 'standard');
    const plan = usageAggregationPlan(versions, OCTOBER);
    const all = await loadUsageAggregates(client, plan, { customerId: 'globex', table: 'rating_events' });
    const none = await loadUsageAggregates(client, plan, {
      customerId: 'globex',
      table: 'rating_events',
      receivedAtOrBefore: '2026-11-01T00:00:00Z',
    });
    expect(all.length).toBeGreaterThan(0);
    expect(none).toEqual([]);
  });
});
