import { describe, expect, it } from 'vitest';
import { openPostingPeriod } from './index.ts';

describe('openPostingPeriod', () => {
  it.each([
    ['2026-08', [], '2026-08'],
    ['2026-08', ['2026-09', '2026-10'], '2026-08'],
    ['2026-09', ['2026-09', '2026-10'], '2026-11'],
    ['2026-10', ['2026-09', '2026-10'], '2026-11'],
    ['2026-12', ['2026-12'], '2027-01'],
  ])('%s with %j locked posts in %s', (period, locked, expected) => {
    expect(openPostingPeriod(period, locked)).toBe(expected);
  });
});
