import { describe, expect, it } from 'vitest';
import type { InvoiceLine } from '../../contracts/invoice.ts';
import { backfillCauses, describeCause } from './causes.ts';
import { backfillDifferences, backfillLineKey, billedSoFar, originalLineKey } from './adjustment.ts';

const usage = (key: string, amount: string): InvoiceLine => ({
  kind: 'usage',
  line_key: key,
  price_id: key.replace('usage:', ''),
  sku: 'llm.tokens',
  unit: 'tokens',
  quantity: '0',
  billable_quantity: '0',
  amount,
  event_count: 1,
  tiers: [],
});

describe('backfill line keys', () => {
  it.each([
    ['adjustment:2026-10:usage:tokens', 'usage:tokens'],
    [backfillLineKey('2026-10', 'usage:tokens', 'bf-1a2b'), 'usage:tokens'],
    ['adjustment:2026-09:usage:tokens', undefined],
    ['review_adjustment:exc-1', undefined],
  ])('%s corrects %s of 2026-10', (key, original) => {
    expect(originalLineKey(key, '2026-10')).toBe(original);
  });
});

describe('billed so far and the difference a backfill writes', () => {
  it("adds late-usage and backfill lines to the issued lines, leaves a reviewer's adjustment alone", () => {
    const billed = billedSoFar({
      correctedPeriod: '2026-10',
      correctedLines: [
        usage('usage:tokens', '600.00'),
        { kind: 'fee', line_key: 'fee:platform', price_id: 'platform', description: 'fee', amount: '300.00' },
      ],
      adjustments: [
        { line_key: 'adjustment:2026-10:usage:tokens', amount: '12.40' },
        { line_key: backfillLineKey('2026-10', 'usage:tokens', 'bf-1'), amount: '-30.00' },
        { line_key: 'review_adjustment:exc-9', amount: '-50.00' },
      ],
    });
    expect(billed).toEqual({ 'usage:tokens': '582.4' });
  });

  it('writes per line the re-rated amount minus what was billed, nothing for what is equal', () => {
    expect(
      backfillDifferences(
        { 'usage:tokens': '1300', 'usage:images': '5' },
        { 'usage:tokens': '1250', 'usage:images': '5', 'usage:storage': '4.005' },
        'USD',
      ),
    ).toEqual([
      { originalKey: 'usage:storage', amount: '4.01' },
      { originalKey: 'usage:tokens', amount: '-50.00' },
    ]);
  });
});

describe('causes', () => {
  const version = (from: string, hash: string) => ({ ratecard: 'api', effective_from: from, content_hash: hash });
  it('names rate-card versions in force inside the period, the contract, the calculation, late events and corrections', () => {
    const causes = backfillCauses({
      billed: {
        contractHash: 'c1',
        ratecardVersions: [version('2026-09-01T00:00:00Z', 'a'.repeat(64))],
        calculationVersion: 'calc-1',
      },
      now: {
        contractHash: 'c2',
        ratecardVersions: [
          version('2026-09-01T00:00:00Z', 'a'.repeat(64)),
          version('2026-10-16T00:00:00Z', 'b'.repeat(64)),
          // Next year's version changes nothing in October.
          version('2027-01-01T00:00:00Z', 'c'.repeat(64)),
        ],
        calculationVersion: 'calc-2',
      },
      periodEnd: '2026-11-01T00:00:00.000Z',
      unbilledLateEvents: 2,
      corrections: [{ correctionSeq: '7', action: 'void', source: 'api-gateway', eventId: 'e1' }],
    });
    expect(causes.map((cause) => cause.kind)).toEqual([
      'ratecard_versions',
      'contract',
      'calculation_version',
      'late_events',
      'corrections',
    ]);
    expect(causes.map(describeCause)).toContain('1 correction (#7 void e1)');
    expect(describeCause(causes[0] as (typeof causes)[number])).toBe(
      `rate cards api@2026-09-01T00:00:00Z#aaaaaaaaaaaa → api@2026-09-01T00:00:00Z#aaaaaaaaaaaa+api@2026-10-16T00:00:00Z#bbbbbbbbbbbb`,
    );
  });

  it('names nothing when nothing changed', () => {
    const same = { contractHash: 'c1', ratecardVersions: [], calculationVersion: 'calc-1' };
    expect(
      backfillCauses({
        billed: same,
        now: same,
        periodEnd: '2026-11-01T00:00:00.000Z',
        unbilledLateEvents: 0,
        corrections: [],
      }),
    ).toEqual([]);
  });
});
