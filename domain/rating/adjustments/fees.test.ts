import { describe, expect, it } from 'vitest';
import { buildFee, buildRateCardVersion } from '../../../test/builders/rating.ts';
import { formatMoney } from '../../money.ts';
import { billingPeriod } from '../../period.ts';
import { rateFees } from './fees.ts';
import { contractRange, timeRange } from '../time/time-range.ts';
import { versionSegments } from '../segments/version-segments.ts';
import type { SegmentWithVersion } from '../segments/segments-in-force.ts';

const OCTOBER = billingPeriod('2026-10'); // 31 days
const v1 = buildRateCardVersion({ fees: [buildFee({ amount: '500.00' })] });
const v2 = buildRateCardVersion({
  effective_from: '2026-10-16T00:00:00.000Z',
  fees: [buildFee({ amount: '450.00' }), buildFee({ id: 'support', description: 'Support', amount: '31.00' })],
});

function segmentsOf(versions = [v1]): SegmentWithVersion[] {
  return versionSegments(versions, OCTOBER).map((segment) => ({
    segment,
    version: versions.find((version) => version.effective_from === segment.effectiveFrom) ?? null,
    range: timeRange(segment.start, segment.end),
  }));
}

const fees = (contract: { starts?: string; ends?: string }, versions = [v1]): string[] =>
  rateFees(
    segmentsOf(versions),
    contractRange(contract.starts, contract.ends),
    timeRange(OCTOBER.start, OCTOBER.end),
    'USD',
  ).map(
    (fee) => `${fee.id} ${formatMoney(fee.amount, 'USD')}${fee.proration !== undefined ? ` × ${fee.proration}` : ''}`,
  );

describe('fees (rule 8) and their proration by time', () => {
  it.each([
    ['active all period', {}, ['platform 500.00']],
    ['active since before the period', { starts: '2026-01-01T00:00:00Z' }, ['platform 500.00']],
    // 500 × 15/31 = 241.935… → 241.94
    ['starting 2026-10-17', { starts: '2026-10-17T00:00:00Z' }, ['platform 241.94 × 0.483870967742']],
    // 500 × 19.5/31 = 314.516… → 314.52
    ['ending 2026-10-20T12:00', { ends: '2026-10-20T12:00:00Z' }, ['platform 314.52 × 0.629032258065']],
    [
      'starting and ending inside',
      { starts: '2026-10-10T00:00:00Z', ends: '2026-10-20T00:00:00Z' },
      ['platform 161.29 × 0.322580645161'],
    ],
    ['ended before the period', { ends: '2026-09-01T00:00:00Z' }, ['platform 0.00 × 0']],
    ['starting after the period', { starts: '2026-11-01T00:00:00Z' }, ['platform 0.00 × 0']],
  ] as const)('%s', (_name, contract, expected) => {
    expect(fees(contract)).toEqual(expected);
  });

  it('prorates by the seconds each version was in force (rule 11): 500 × 15/31 + 450 × 16/31 = 474.19', () => {
    // support exists only from the 16th: 31.00 × 16/31 = 16.00
    expect(fees({}, [v1, v2])).toEqual(['platform 474.19', 'support 16.00 × 0.516129032258']);
  });

  it('combines both: contract from the 10th, price change on the 16th: 500 × 6/31 + 450 × 16/31 = 329.03', () => {
    expect(fees({ starts: '2026-10-10T00:00:00Z' }, [v1, v2])).toEqual([
      'platform 329.03 × 0.709677419355',
      'support 16.00 × 0.516129032258',
    ]);
  });
});
