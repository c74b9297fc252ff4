import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import {
  buildAggregate,
  buildContract,
  buildFee,
  buildPrice,
  buildRateCardVersion,
} from '../../test/builders/rating.ts';
import { billingPeriod } from '../period.ts';
import { ratePeriod } from '../rating/index.ts';
import { dayBefore, recognitionDay, recognitionSettlementEntry, recognizeDay } from './index.ts';

const version = buildRateCardVersion({
  effective_from: '2026-01-01T00:00:00.000Z',
  prices: [
    buildPrice({
      model: 'graduated',
      tiers: [
        { up_to: '1000', unit_price: '0.10', flat_fee: '0' },
        { up_to: null, unit_price: '0.05', flat_fee: '0' },
      ],
    }),
  ],
  fees: [buildFee({ amount: '310.00' })],
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

const lines = (entry: JournalEntry | null) =>
  entry?.lines.map((line) => [line.account, line.debit, line.credit, line.source_line_key]);

describe('recognizeDay: the worked example', () => {
  const commit = { policy: 'drawdown' as const, amount: null };
  const day1 = recognizeDay({
    customerId: 'acme',
    day: '2026-10-01',
    ratedToDate: ratedTo(600),
    commit,
    credits: [],
    recognized: [],
  });

  it('recognizes day 1 from the usage to date and a 31st of the fee', () => {
    expect(day1.entry?.entry_key).toBe('recognition:acme/2026-10-01:revenue_recognized:revenue-recognition-v1');
    expect(lines(day1.entry)).toEqual([
      ['subscription_revenue', '0.00', '10.00', 'fee:platform'],
      ['unbilled_receivables', '10.00', '0.00', 'fee:platform'],
      ['unbilled_receivables', '60.00', '0.00', 'usage:tokens'],
      ['usage_revenue', '0.00', '60.00', 'usage:tokens'],
    ]);
  });

  it('recognizes day 2 as the cumulative amount minus day 1: the tier crossing priced on the period quantity', () => {
    const day2 = recognizeDay({
      customerId: 'acme',
      day: '2026-10-02',
      ratedToDate: ratedTo(1200),
      commit,
      credits: [],
      recognized: day1.entry === null ? [] : [day1.entry],
    });
    expect(lines(day2.entry)).toEqual([
      ['subscription_revenue', '0.00', '10.00', 'fee:platform'],
      ['unbilled_receivables', '10.00', '0.00', 'fee:platform'],
      ['unbilled_receivables', '50.00', '0.00', 'usage:tokens'],
      ['usage_revenue', '0.00', '50.00', 'usage:tokens'],
    ]);
    const settlement = recognitionSettlementEntry({
      customerId: 'acme',
      currency: 'USD',
      period: '2026-10',
      invoiceId: 'inv:acme:2026-10',
      recognized: [day1.entry, day2.entry].flatMap((entry) => (entry === null ? [] : [entry])),
    });
    expect(lines(settlement)).toEqual([
      ['subscription_revenue', '20.00', '0.00', 'fee:platform'],
      ['unbilled_receivables', '0.00', '20.00', 'fee:platform'],
      ['unbilled_receivables', '0.00', '110.00', 'usage:tokens'],
      ['usage_revenue', '110.00', '0.00', 'usage:tokens'],
    ]);
  });

  it('refuses usage rated for another period than the day', () => {
    expect(() =>
      recognizeDay({
        customerId: 'acme',
        day: '2026-11-01',
        ratedToDate: ratedTo(1),
        commit,
        credits: [],
        recognized: [],
      }),
    ).toThrow(/2026-11-01 is in 2026-11, but the usage was rated for 2026-10/);
  });
});

describe('recognitionDay', () => {
  it.each([
    [
      '2026-10-31',
      {
        period: '2026-10',
        dayOfPeriod: 31,
        daysInPeriod: 31,
        isLastDayOfPeriod: true,
        end: '2026-11-01T00:00:00.000Z',
      },
    ],
    [
      '2028-02-29',
      {
        period: '2028-02',
        dayOfPeriod: 29,
        daysInPeriod: 29,
        isLastDayOfPeriod: true,
        end: '2028-03-01T00:00:00.000Z',
      },
    ],
    [
      '2026-11-01',
      {
        period: '2026-11',
        dayOfPeriod: 1,
        daysInPeriod: 30,
        isLastDayOfPeriod: false,
        end: '2026-11-02T00:00:00.000Z',
      },
    ],
  ])('%s', (text, expected) => {
    expect(recognitionDay(text)).toMatchObject(expected);
  });

  it.each(['2026-02-29', '2026-10-1', '2026-13-01', 'yesterday'])('refuses %s', (text) => {
    expect(() => recognitionDay(text)).toThrow(/is not a day/);
  });

  it('names the day before an instant', () => {
    expect(dayBefore('2026-11-01T00:30:00Z')).toBe('2026-10-31');
  });
});
