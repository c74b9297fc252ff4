import { describe, expect, it } from 'vitest';
import { ReviewDecisionSchema, StoredDecisionSchema } from './review-decision.ts';

describe('the review decision contract', () => {
  const base = { exceptionId: 'exc:inv:acme:2026-10', reviewer: 'ana' };

  it('takes the three decisions a person makes', () => {
    for (const decision of [
      { kind: 'approve', ...base, note: 'expected: launch week' },
      { kind: 'reject', ...base, reason: 'meter double-counted' },
      { kind: 'adjust', ...base, reason: 'goodwill', amount: '-25.00' },
    ])
      expect(ReviewDecisionSchema.safeParse(decision).success).toBe(true);
  });

  it('refuses what no reviewer can have meant, saying which field and why', () => {
    const problems = (value: unknown) =>
      ReviewDecisionSchema.safeParse(value).error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    expect(problems({ kind: 'adjust', ...base, reason: 'goodwill', amount: 25 })).toEqual([
      'amount: Invalid input: expected string, received number',
    ]);
    expect(problems({ kind: 'adjust', ...base, reason: 'goodwill', amount: '1e3' })).toEqual([
      'amount: adjust amount is a decimal string such as "-25.00"',
    ]);
    expect(problems({ kind: 'reject', ...base, reason: '  ' })).toEqual(['reason: reject needs a reason']);
    expect(problems({ kind: 'approve', ...base, reviewer: '' })).toEqual(['reviewer: a decision names its reviewer']);
    expect(problems({ kind: 'resolved', detail: 'contract published' })?.[0]).toMatch(/^kind: /);
  });

  it('stores Tally’s own resolution beside the decisions, never as one', () => {
    expect(StoredDecisionSchema.safeParse({ kind: 'resolved', detail: 'contract published' }).success).toBe(true);
  });
});
