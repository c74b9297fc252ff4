import { describe, expect, it } from 'vitest';
import { authorityInForce, cohortReadiness } from './cutover.ts';
import type { RunFacts } from './readiness.ts';

const customer = (
  customerId: string,
  overrides: Partial<RunFacts['customers'][number]> = {},
): RunFacts['customers'][number] => ({
  customerId,
  status: 'match',
  exception: false,
  exceptionState: 'none',
  currency: 'USD',
  variance: '0.00',
  variancePct: '0.00',
  ...overrides,
});
const run = (runId: string, period: string, customers: RunFacts['customers'], legacyImportId = `src:${period}:v1`) => ({
  runId,
  period,
  legacyImportId,
  customers,
});
const latestV1 = (period: string) => `src:${period}:v1`;
const openDiff = customer('beta', {
  status: 'diff',
  exception: true,
  exceptionState: 'open',
  variance: '10.00',
  variancePct: '1.01',
});

describe('authorityInForce', () => {
  it.each([
    {
      name: 'no flip, no contract field: Tally',
      flip: undefined,
      contract: undefined,
      expected: { authority: 'tally', decidedFrom: 'default', flipId: undefined },
    },
    {
      name: 'the contract starts the customer as legacy',
      flip: undefined,
      contract: 'legacy' as const,
      expected: { authority: 'legacy', decidedFrom: 'contract', flipId: undefined },
    },
    {
      name: 'a cutover outranks a contract that still says legacy',
      flip: { flipId: '7', authority: 'tally' as const },
      contract: 'legacy' as const,
      expected: { authority: 'tally', decidedFrom: 'flip', flipId: '7' },
    },
    {
      name: 'a rollback outranks the default',
      flip: { flipId: '8', authority: 'legacy' as const },
      contract: undefined,
      expected: { authority: 'legacy', decidedFrom: 'flip', flipId: '8' },
    },
  ])('$name', ({ flip, contract, expected }) => {
    expect(authorityInForce(flip, contract)).toEqual(expected);
  });
});

describe('cohortReadiness', () => {
  it('judges each customer on its own: another customer’s open exception does not hold the cohort back', () => {
    const verdict = cohortReadiness({
      customerIds: ['acme', 'beta'],
      periods: ['2026-09', '2026-10'],
      runs: [
        run('r2', '2026-10', [
          customer('acme', { status: 'diff', exception: true, exceptionState: 'accepted' }),
          openDiff,
        ]),
        run('r1', '2026-09', [customer('acme'), customer('beta')]),
      ],
      latestImportOf: latestV1,
    });
    expect(verdict[0]).toEqual({
      customerId: 'acme',
      ready: true,
      runs: [
        { period: '2026-09', runId: 'r1' },
        { period: '2026-10', runId: 'r2' },
      ],
      reasons: [],
    });
    expect(verdict[1]).toMatchObject({ customerId: 'beta', ready: false, runs: [] });
    expect(verdict[1]?.reasons).toEqual([
      { period: '2026-10', reason: 'diff, variance 10.00 USD (1.01 %), exception not accepted (run r2)' },
    ]);
  });

  it('is ready through any current run of the period in which the customer is fine, not only the newest', () => {
    const verdict = cohortReadiness({
      customerIds: ['beta'],
      periods: ['2026-10'],
      runs: [run('r3', '2026-10', [openDiff]), run('r2', '2026-10', [customer('beta')])],
      latestImportOf: latestV1,
    });
    expect(verdict[0]).toMatchObject({ ready: true, runs: [{ period: '2026-10', runId: 'r2' }] });
  });

  it('names the periods without a run, runs against a superseded import, and customers no run compared', () => {
    const verdict = cohortReadiness({
      customerIds: ['acme', 'ghost'],
      periods: ['2026-08', '2026-09', '2026-10'],
      runs: [run('r2', '2026-10', [customer('acme')]), run('r1', '2026-09', [customer('acme')], 'src:2026-09:v1')],
      latestImportOf: (period) => (period === '2026-09' ? 'src:2026-09:v2' : latestV1(period)),
    });
    expect(verdict[0]?.reasons).toEqual([
      { period: '2026-08', reason: 'no completed shadow run' },
      {
        period: '2026-09',
        reason: 'every run compared against a superseded legacy import (latest src:2026-09:v2): run again',
      },
    ]);
    expect(verdict[1]?.reasons).toContainEqual({
      period: '2026-10',
      reason: 'no shadow run against the latest legacy import compared this customer',
    });
    expect(verdict.every((entry) => !entry.ready)).toBe(true);
  });

  it('is never ready over no periods (a source without a completed run)', () => {
    expect(cohortReadiness({ customerIds: ['acme'], periods: [], runs: [], latestImportOf: () => undefined })).toEqual([
      { customerId: 'acme', ready: false, runs: [], reasons: [{ period: '', reason: 'no completed shadow run' }] },
    ]);
  });

  it('counts a rejected exception as Tally being wrong', () => {
    const verdict = cohortReadiness({
      customerIds: ['beta'],
      periods: ['2026-10'],
      runs: [run('r1', '2026-10', [{ ...openDiff, exceptionState: 'rejected' }])],
      latestImportOf: latestV1,
    });
    expect(verdict[0]?.reasons[0]?.reason).toContain('exception rejected: Tally is wrong');
  });
});
