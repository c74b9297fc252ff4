import { describe, expect, it } from 'vitest';
import {
  newThresholdCrossings,
  usedPercent,
  UsageAlertInputError,
  type NotifiedThreshold,
  type UsageAlertReferences,
} from './threshold-crossings.ts';

type Case = {
  readonly name: string;
  readonly usage: string;
  readonly references: UsageAlertReferences;
  readonly notified?: readonly NotifiedThreshold[];
  /** `basis:pct` of each crossing, in order. */
  readonly expected: readonly string[];
};

const cases: readonly Case[] = [
  { name: 'below every threshold', usage: '499.99', references: { commit: '1000.00' }, expected: [] },
  { name: 'exactly 50% counts', usage: '500.00', references: { commit: '1000.00' }, expected: ['commit:50'] },
  {
    name: 'several at once yield each',
    usage: '800.00',
    references: { commit: '1000.00' },
    expected: ['commit:50', 'commit:75'],
  },
  {
    name: 'all four at once',
    usage: '2500.00',
    references: { commit: '1000.00' },
    expected: ['commit:50', 'commit:75', 'commit:90', 'commit:100'],
  },
  {
    name: 'never one twice',
    usage: '1000.00',
    references: { commit: '1000.00' },
    notified: [
      { basis: 'commit', thresholdPct: 50 },
      { basis: 'commit', thresholdPct: 75 },
    ],
    expected: ['commit:90', 'commit:100'],
  },
  {
    name: 'everything notified: nothing new',
    usage: '5000.00',
    references: { commit: '1000.00' },
    notified: [50, 75, 90, 100].map((pct) => ({ basis: 'commit' as const, thresholdPct: pct as 50 | 75 | 90 | 100 })),
    expected: [],
  },
  {
    name: 'a notified threshold stays notified when usage falls back below it',
    usage: '100.00',
    references: { commit: '1000.00' },
    notified: [{ basis: 'commit', thresholdPct: 50 }],
    expected: [],
  },
  {
    name: 'a gap in what was notified is filled',
    usage: '950.00',
    references: { commit: '1000.00' },
    notified: [{ basis: 'commit', thresholdPct: 75 }],
    expected: ['commit:50', 'commit:90'],
  },
  {
    name: 'both bases, each on its own reference',
    usage: '1000.00',
    references: { commit: '1000.00', prepaid: '2000.00' },
    notified: [
      { basis: 'commit', thresholdPct: 50 },
      { basis: 'commit', thresholdPct: 75 },
    ],
    expected: ['commit:90', 'commit:100', 'prepaid:50'],
  },
  {
    name: 'notified commit thresholds do not hide prepaid ones',
    usage: '1800.00',
    references: { commit: '1000.00', prepaid: '2000.00' },
    notified: [50, 75, 90, 100].map((pct) => ({ basis: 'commit' as const, thresholdPct: pct as 50 | 75 | 90 | 100 })),
    expected: ['prepaid:50', 'prepaid:75', 'prepaid:90'],
  },
  { name: 'no commit and no prepaid: no basis', usage: '1000000.00', references: {}, expected: [] },
  { name: 'zero commit: no basis', usage: '10.00', references: { commit: '0.00' }, expected: [] },
  {
    name: 'no prepaid balance left: no basis',
    usage: '60.00',
    references: { commit: '100.00', prepaid: '0' },
    expected: ['commit:50'],
  },
  {
    name: 'zero usage crosses nothing',
    usage: '0.00',
    references: { commit: '1000.00', prepaid: '1.00' },
    expected: [],
  },
  {
    name: 'sub-cent precision is compared exactly',
    usage: '0.005',
    references: { commit: '0.01' },
    expected: ['commit:50'],
  },
  {
    name: 'a zero-decimal currency',
    usage: '75000',
    references: { prepaid: '100000' },
    expected: ['prepaid:50', 'prepaid:75'],
  },
  {
    name: 'negative usage (credits exceed charges) crosses nothing',
    usage: '-5.00',
    references: { commit: '10.00' },
    expected: [],
  },
];

describe('newThresholdCrossings', () => {
  it.each(cases)('$name', ({ usage, references, notified, expected }) => {
    const crossings = newThresholdCrossings({ usage, references, notified: notified ?? [] });
    expect(crossings.map((crossing) => `${crossing.basis}:${crossing.thresholdPct}`)).toEqual(expected);
    for (const crossing of crossings) {
      expect(crossing.usage).toBe(usage);
      expect(crossing.reference).toBe(references[crossing.basis]);
    }
  });

  it('feeding its answers back as notified yields nothing more for the same usage', () => {
    const references = { commit: '1000.00', prepaid: '1200.00' };
    const first = newThresholdCrossings({ usage: '1100.00', references, notified: [] });
    expect(first).toHaveLength(7);
    expect(newThresholdCrossings({ usage: '1100.00', references, notified: first })).toEqual([]);
  });

  it.each([
    ['usage', { usage: '1e3', references: { commit: '1000.00' } }],
    ['usage', { usage: '', references: { commit: '1000.00' } }],
    ['commit reference', { usage: '1.00', references: { commit: '1,000.00' } }],
  ] as const)('refuses a %s that is not a decimal string', (what, input) => {
    expect(() => newThresholdCrossings({ ...input, notified: [] })).toThrow(UsageAlertInputError);
    expect(() => newThresholdCrossings({ ...input, notified: [] })).toThrow(what);
  });
});

describe('usedPercent', () => {
  it.each([
    ['800.00', '1000.00', '80.00'],
    ['999.99', '1000.00', '99.99'],
    ['1000.00', '1000.00', '100.00'],
    ['1.00', '3.00', '33.33'],
    ['2.00', '3.00', '66.66'],
    ['2500.00', '1000.00', '250.00'],
  ])('%s of %s is %s percent', (usage, reference, expected) => {
    expect(usedPercent(usage, reference)).toBe(expected);
  });

  it('refuses a zero reference', () => {
    expect(() => usedPercent('1.00', '0.00')).toThrow(UsageAlertInputError);
  });
});
