import { describe, expect, it } from 'vitest';
import { consecutivePeriods, cutoverReadiness, type RunFacts } from './readiness.ts';

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
const run = (
  runId: string,
  period: string,
  customers: RunFacts['customers'],
  legacyImportId = `src:${period}:v1`,
): RunFacts => ({
  runId,
  period,
  legacyImportId,
  customers,
});
const latestV1 = (period: string) => `src:${period}:v1`;

describe('consecutivePeriods', () => {
  it('counts back across a year', () => {
    expect(consecutivePeriods('2027-02', 3)).toEqual(['2026-12', '2027-01', '2027-02']);
  });
});

describe('cutoverReadiness', () => {
  it('is ready when every period has a run with matches, tolerated diffs or accepted exceptions', () => {
    const verdict = cutoverReadiness({
      periods: ['2026-09', '2026-10'],
      runs: [
        run('r2', '2026-10', [customer('acme', { status: 'diff', exception: true, exceptionState: 'accepted' })]),
        run('r1', '2026-09', [customer('acme', { status: 'diff', variance: '0.50' }), customer('beta')]),
      ],
      latestImportOf: latestV1,
    });
    expect(verdict.ready).toBe(true);
    expect(verdict.periods.map((period) => period.runId)).toEqual(['r1', 'r2']);
  });

  it('says per customer and period why not', () => {
    const verdict = cutoverReadiness({
      periods: ['2026-09', '2026-10'],
      runs: [
        run('r2', '2026-10', [
          customer('acme', {
            status: 'diff',
            exception: true,
            exceptionState: 'open',
            variance: '10.00',
            variancePct: '1.01',
          }),
          customer('beta', {
            status: 'only_legacy',
            exception: true,
            exceptionState: 'rejected',
            currency: 'EUR',
            variance: '-5.00',
            variancePct: '100.00',
          }),
        ]),
      ],
      latestImportOf: latestV1,
    });
    expect(verdict.ready).toBe(false);
    expect(verdict.periods).toEqual([
      {
        period: '2026-09',
        ready: false,
        runId: undefined,
        reasons: [{ customerId: undefined, reason: 'no completed shadow run' }],
      },
      {
        period: '2026-10',
        ready: false,
        runId: 'r2',
        reasons: [
          { customerId: 'acme', reason: 'diff, variance 10.00 USD (1.01 %), exception not accepted' },
          {
            customerId: 'beta',
            reason: 'only_legacy, variance -5.00 EUR (100.00 %), exception rejected: Tally is wrong',
          },
        ],
      },
    ]);
  });

  it('a run against a superseded legacy import does not count', () => {
    const verdict = cutoverReadiness({
      periods: ['2026-10'],
      runs: [run('r1', '2026-10', [customer('acme')], 'src:2026-10:v1')],
      latestImportOf: () => 'src:2026-10:v2',
    });
    expect(verdict.ready).toBe(false);
    expect(verdict.periods[0]?.reasons[0]?.reason).toMatch(/superseded/);
  });

  it('an older ready run of the period still counts when a newer one is not', () => {
    const verdict = cutoverReadiness({
      periods: ['2026-10'],
      runs: [
        run('r2', '2026-10', [customer('acme', { exception: true, exceptionState: 'open', status: 'diff' })]),
        run('r1', '2026-10', [customer('acme')]),
      ],
      latestImportOf: latestV1,
    });
    expect(verdict).toMatchObject({ ready: true, periods: [{ runId: 'r1' }] });
  });

  it('no periods asked is never ready', () => {
    expect(cutoverReadiness({ periods: [], runs: [], latestImportOf: latestV1 }).ready).toBe(false);
  });
});
