import { describe, expect, it } from 'vitest';
import { evaluateReview, type ReviewFacts } from './review.ts';

const facts = (overrides: Partial<ReviewFacts> = {}): ReviewFacts => ({
  total: '1000.00',
  currency: 'USD',
  previousTotal: undefined,
  unpricedEventCount: 0,
  adjustmentLines: [],
  ...overrides,
});

describe('evaluateReview', () => {
  it.each([
    ['under every threshold', facts(), { totalAbove: '50000.00', changePctAbove: '50' }, []],
    ['exactly at total_above does not fire', facts({ total: '50000.00' }), { totalAbove: '50000.00' }, []],
    ['one cent above total_above fires', facts({ total: '50000.01' }), { totalAbove: '50000.00' }, ['total_above']],
    [
      '+100% vs previous',
      facts({ total: '60000.00', previousTotal: '30000.00' }),
      { totalAbove: '50000.00', changePctAbove: '50' },
      ['total_above', 'change_pct_above'],
    ],
    [
      '-60% vs previous fires too',
      facts({ total: '400.00', previousTotal: '1000.00' }),
      { changePctAbove: '50' },
      ['change_pct_above'],
    ],
    ['exactly +50% does not fire', facts({ total: '1500.00', previousTotal: '1000.00' }), { changePctAbove: '50' }, []],
    ['no previous invoice: no change check', facts({ total: '9999.00' }), { changePctAbove: '1' }, []],
    [
      'previous total zero: no percentage',
      facts({ total: '10.00', previousTotal: '0.00' }),
      { changePctAbove: '1' },
      [],
    ],
    ['unpriced usage always needs a person', facts({ unpricedEventCount: 3 }), {}, ['unpriced_usage']],
    [
      'adjustments counted by absolute size',
      facts({ adjustmentLines: ['-80.00', '30.00'] }),
      { adjustmentAbove: '100.00' },
      ['adjustment_above'],
    ],
    ['small adjustments pass', facts({ adjustmentLines: ['-60.00', '30.00'] }), { adjustmentAbove: '100.00' }, []],
  ])('%s', (_name, given, policy, rules) => {
    expect(evaluateReview(given, policy).map((breach) => breach.rule)).toEqual(rules);
  });

  it('states the numbers compared', () => {
    const [breach] = evaluateReview(facts({ total: '60000.00', previousTotal: '30000.00' }), { changePctAbove: '50' });
    expect(breach?.detail).toBe('total changed 100% vs the previous invoice (30000.00 → 60000.00); limit 50%');
  });
});
