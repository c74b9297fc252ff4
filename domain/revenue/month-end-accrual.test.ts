import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { buildAggregate, buildContract, buildPrice, buildRateCardVersion } from '../../test/builders/rating.ts';
import { netDebitByAccount } from '../journal/index.ts';
import { formatMoney } from '../money.ts';
import { billingPeriod } from '../period.ts';
import { ratePeriod } from '../rating/index.ts';
import { monthEndAccrual, recognizeDay } from './index.ts';

// The worked example of monthEndAccrual: 0.01 per unit, October; 500 units recognized by day, 30
// more stored within the latency window, 20 more a week later.
const version = buildRateCardVersion({
  effective_from: '2026-01-01T00:00:00.000Z',
  prices: [buildPrice({ model: 'graduated', tiers: [{ up_to: null, unit_price: '0.01', flat_fee: '0' }] })],
  fees: [],
});

function ratedTo(quantity: number) {
  return ratePeriod({
    customerId: 'acme',
    period: billingPeriod('2026-10'),
    contract: buildContract(),
    versions: [version],
    aggregates: [buildAggregate({ versionEffectiveFrom: version.effective_from, quantitySum: String(quantity) })],
    counters: { read: 0, duplicates: 0, outside_period: 0 },
    credits: [],
    calculationVersion: 'calc-v1',
  });
}

const commit = { policy: 'drawdown' as const, amount: null };
const lines = (entry: JournalEntry | null) =>
  entry?.lines.map((line) => [line.account, line.debit, line.credit, line.source_line_key]);
const net = (entries: readonly JournalEntry[]) =>
  Object.fromEntries([...netDebitByAccount(entries)].map(([account, amount]) => [account, formatMoney(amount, 'USD')]));

describe('monthEndAccrual: the worked example', () => {
  const lastDay = recognizeDay({
    customerId: 'acme',
    day: '2026-10-31',
    ratedToDate: ratedTo(500),
    commit,
    credits: [],
    recognized: [],
  });
  const days = lastDay.entry === null ? [] : [lastDay.entry];
  const accrual = monthEndAccrual({
    customerId: 'acme',
    period: '2026-10',
    ratedToDate: ratedTo(530),
    commit,
    credits: [],
    recognized: days,
  });

  it('accrues what the days have not recognized, dated the last day, and reverses the whole position on the first', () => {
    expect(accrual.kind).toBe('accrual');
    expect(accrual.entry).toMatchObject({
      entry_key: 'accrual:acme/2026-10:revenue_accrued:revenue-accrual-v1',
      entry_type: 'revenue_accrued',
      service_period: '2026-10',
      posting_period: '2026-10',
    });
    expect(accrual.entry?.memo).toContain('dated 2026-10-31');
    expect(lines(accrual.entry)).toEqual([
      ['unbilled_receivables', '0.30', '0.00', 'usage:tokens'],
      ['usage_revenue', '0.00', '0.30', 'usage:tokens'],
    ]);
    expect(accrual.reversal).toMatchObject({
      entry_key: 'accrual:acme/2026-10:accrual_reversed:revenue-accrual-v1',
      service_period: '2026-10',
      posting_period: '2026-11',
    });
    expect(accrual.reversal?.memo).toContain('dated 2026-11-01');
    expect(lines(accrual.reversal)).toEqual([
      ['unbilled_receivables', '0.00', '5.30', 'usage:tokens'],
      ['usage_revenue', '5.30', '0.00', 'usage:tokens'],
    ]);
    // October holds the accrual; with the reversal, the period's recognition nets to zero.
    expect(net([...days, accrual.entry as JournalEntry])).toEqual({
      unbilled_receivables: '5.30',
      usage_revenue: '-5.30',
    });
    expect(net([...days, accrual.entry as JournalEntry, accrual.reversal as JournalEntry])).toEqual({
      unbilled_receivables: '0.00',
      usage_revenue: '0.00',
    });
  });

  it('trues up usage stored after the accrual with a numbered pair, and a rerun with nothing new posts nothing', () => {
    const posted = [...days, accrual.entry as JournalEntry, accrual.reversal as JournalEntry];
    const trueUp = monthEndAccrual({
      customerId: 'acme',
      period: '2026-10',
      ratedToDate: ratedTo(550),
      commit,
      credits: [],
      recognized: posted,
    });
    expect(trueUp.kind).toBe('true_up');
    expect(trueUp.entry?.entry_key).toBe('accrual:acme/2026-10/true-up-1:accrual_trued_up:revenue-accrual-v1');
    expect(trueUp.reversal?.entry_key).toBe('accrual:acme/2026-10/true-up-1:accrual_reversed:revenue-accrual-v1');
    expect(lines(trueUp.entry)).toEqual([
      ['unbilled_receivables', '0.20', '0.00', 'usage:tokens'],
      ['usage_revenue', '0.00', '0.20', 'usage:tokens'],
    ]);
    const all = [...posted, trueUp.entry as JournalEntry, trueUp.reversal as JournalEntry];
    expect(net(all)).toEqual({ unbilled_receivables: '0.00', usage_revenue: '0.00' });
    const again = monthEndAccrual({
      customerId: 'acme',
      period: '2026-10',
      ratedToDate: ratedTo(550),
      commit,
      credits: [],
      recognized: all,
    });
    expect(again).toMatchObject({ kind: 'true_up', entry: null, reversal: null });
  });

  it('refuses usage rated for another period', () => {
    expect(() =>
      monthEndAccrual({
        customerId: 'acme',
        period: '2026-11',
        ratedToDate: ratedTo(1),
        commit,
        credits: [],
        recognized: [],
      }),
    ).toThrow(/the accrual of 2026-11 needs the usage of 2026-11/);
  });
});
