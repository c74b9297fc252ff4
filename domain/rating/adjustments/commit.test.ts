import { describe, expect, it } from 'vitest';
import { Decimal, formatMoney } from '../../money.ts';
import { commitTrueUp } from './commit.ts';

const DAY = 86_400_000;

describe('commit true-up (rule 9)', () => {
  it.each([
    ['usage and discounts below the commit', '1000.00', 31, '540.00', '1000.00', '460.00'],
    ['usage above the commit', '1000.00', 31, '1200.00', '1000.00', '0.00'],
    ['usage exactly the commit', '1000.00', 31, '1000.00', '1000.00', '0.00'],
    ['no usage', '1000.00', 31, '0', '1000.00', '1000.00'],
    // contract active 15 of 31 days: commit 1000 × 15/31 = 483.870… → 483.87
    ['a contract starting on the 17th', '1000.00', 15, '100.00', '483.87', '383.87'],
  ] as const)('%s', (_name, commit, activeDays, usage, prorated, trueUp) => {
    const result = commitTrueUp(commit, activeDays * DAY, 31 * DAY, new Decimal(usage), 'USD');
    expect(formatMoney(result.commit, 'USD')).toBe(prorated);
    expect(formatMoney(result.amount, 'USD')).toBe(trueUp);
  });
});
