import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  checkActivityContracts,
  createAnomalyActivities,
  createBackfillActivities,
  createBillingActivities,
  createMarketplaceActivities,
  createShadowRunActivities,
  createRevenueActivities,
  type AnomalyActivities,
  type BackfillActivities,
  type BillingActivities,
  type MarketplaceActivities,
  type RevenueActivities,
  type ShadowRunActivities,
} from './index.ts';
import { ACTIVITY_CONTRACTS, activityContract, contractProblem, type ActivityName } from '../contracts/activity-io.ts';

/** Every object of activities a worker registers (workers/billing-worker.ts). */
type Registered = BillingActivities &
  BackfillActivities &
  ShadowRunActivities &
  MarketplaceActivities &
  AnomalyActivities &
  RevenueActivities;

/** Readonly is no wire concern: both sides compared without it. */
type Mutable<T> = T extends string | number | boolean | bigint | symbol | null | undefined
  ? T
  : T extends (...args: never) => unknown
    ? T
    : T extends object
      ? { -readonly [K in keyof T]: Mutable<T[K]> }
      : T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type VoidAsUndefined<T> = [T] extends [void] ? ([T] extends [undefined] ? T : undefined) : T;

type SchemaInput<K extends ActivityName> = Mutable<z.infer<(typeof ACTIVITY_CONTRACTS)[K]['input']>>;
type SchemaOutput<K extends ActivityName> = Mutable<z.infer<(typeof ACTIVITY_CONTRACTS)[K]['output']>>;
type ActivityInput<K extends ActivityName> = Mutable<Parameters<Registered[K]>>;
type ActivityOutput<K extends ActivityName> = Mutable<VoidAsUndefined<Awaited<ReturnType<Registered[K]>>>>;

/** The activities whose argument type and contract are not assignable both ways (never: none). */
type InputDrift = {
  [K in ActivityName]: Same<SchemaInput<K>, ActivityInput<K>> extends true ? never : K;
}[ActivityName];
/** The activities whose result type and contract are not assignable both ways (never: none). */
type OutputDrift = {
  [K in ActivityName]: Same<SchemaOutput<K>, ActivityOutput<K>> extends true ? never : K;
}[ActivityName];

// The factories' dependencies are only closed over; none is touched until an activity runs.
const unused = {} as never;
function registeredNames(): string[] {
  return Object.keys({
    ...createBillingActivities(unused),
    ...createBackfillActivities(unused),
    ...createShadowRunActivities(unused),
    ...createMarketplaceActivities(unused),
    ...createAnomalyActivities(unused),
    ...createRevenueActivities(unused),
  });
}

describe('activity contracts', () => {
  it('cover exactly the activities the workers register, by name', () => {
    expectTypeOf<keyof Registered>().toEqualTypeOf<ActivityName>();
    expect(registeredNames().sort()).toEqual(Object.keys(ACTIVITY_CONTRACTS).sort());
  });

  it('match each activity’s argument and result types (a schema cannot drift from its activity)', () => {
    expectTypeOf<InputDrift>().toEqualTypeOf<never>();
    expectTypeOf<OutputDrift>().toEqualTypeOf<never>();
  });

  it('refuse a worker with an activity that has no contract', () => {
    const activities = { ...createRevenueActivities(unused), recognizeEverything: async () => undefined };
    expect(() => checkActivityContracts(activities)).toThrow(/recognizeEverything/);
    expect(checkActivityContracts(createRevenueActivities(unused))).toBeDefined();
  });

  it('name the field and the rule a value breaks', () => {
    const rate = activityContract('rateDraftInvoice');
    expect(rate).toBeDefined();
    const target = {
      customerId: 'cus_1',
      period: '2026-10',
      mode: 'live',
      calculationVersion: 'calc-1',
      snapshotId: 's',
    };
    expect(contractProblem(rate!.input, [target], true)).toBeUndefined();
    expect(contractProblem(rate!.input, [{ ...target, period: '2026-13' }], true)).toEqual({
      field: 'period',
      rule: expect.stringContaining('YYYY-MM'),
    });
    expect(contractProblem(rate!.output, { invoiceId: 'inv', total: 12.5, currency: 'USD', skip: false })).toEqual({
      field: 'total',
      rule: expect.any(String),
    });
    expect(contractProblem(rate!.output, { invoiceId: 'inv', total: '1e3', currency: 'USD', skip: false })?.field).toBe(
      'total',
    );
    expect(contractProblem(rate!.output, { invoiceId: 'inv', total: '-12.40', currency: 'USD', skip: false })).toBe(
      undefined,
    );
    expect(activityContract('toString')).toBeUndefined();
  });

  it('take a key that may be undefined as missing: JSON drops undefined on the way through Temporal', () => {
    const compare = ACTIVITY_CONTRACTS.compareShadowCustomers;
    const input = { runId: 'run-1', period: '2026-10', calculationVersion: 'calc-1', customerIds: ['cus_1'] };
    expect(contractProblem(compare.input, [JSON.parse(JSON.stringify({ ...input, legacyImportId: undefined }))])).toBe(
      undefined,
    );
    expect(contractProblem(compare.input, [{ ...input, legacyImportId: 7 }], true)?.field).toBe('legacyImportId');
  });

  it('take no-argument activities with no arguments only', () => {
    const deliver = ACTIVITY_CONTRACTS.deliverAnomalyAlerts;
    expect(contractProblem(deliver.input, [])).toBeUndefined();
    expect(contractProblem(deliver.input, [{ day: '2026-10-01' }])).toBeDefined();
  });
});
