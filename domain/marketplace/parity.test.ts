import { describe, expect, it } from 'vitest';
import { periodParity } from './parity.ts';

describe('periodParity', () => {
  it('balances a period whose records carried late usage in and out and left a remainder', () => {
    // October: 4,700 tokens rated (1,600 of them arrived late and were sent in November's first hour);
    // 3 units sent in October, 200 tokens carried over, 500 tokens of September carried in.
    const line = periodParity({
      unitSize: '1000',
      rated: '4700',
      sentListingUnits: '3',
      acceptedListingUnits: '2',
      pendingListingUnits: '1',
      failedListingUnits: '0',
      carryIn: '0',
      carryOut: '600',
      awaiting: '0',
      overReported: '0',
      lateIn: '500',
      lateOut: '1600',
    });
    expect(line).toMatchObject({
      rated: '4.7',
      sent: '3',
      carried: '0.6',
      lateIn: '0.5',
      lateOut: '1.6',
      gap: '0',
      balanced: true,
    });
  });

  it('shows a gap when the table and the stored usage disagree', () => {
    const line = periodParity({
      unitSize: '1',
      rated: '10',
      sentListingUnits: '9',
      acceptedListingUnits: '9',
      pendingListingUnits: '0',
      failedListingUnits: '0',
      carryIn: '0',
      carryOut: '0',
      awaiting: '0',
      overReported: '0',
      lateIn: '0',
      lateOut: '0',
    });
    expect(line).toMatchObject({ gap: '1', balanced: false });
  });
});
