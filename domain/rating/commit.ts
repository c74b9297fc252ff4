import { Decimal, roundMoneyHalfUp } from '../money.ts';
import { formatShare, msDecimal } from './proration.ts';

export interface CommitTrueUp {
  /** The commit due for this period, prorated and rounded half-up. */
  readonly commit: Decimal;
  /** The shortfall billed: commit − (usage lines + discounts), never below zero. */
  readonly amount: Decimal;
  readonly proration?: string;
}

/**
 * Minimum commit (rule 9): when usage lines plus discounts come to less than the commit, the
 * shortfall is billed. Like fees, the commit is prorated by the milliseconds the contract is
 * active in the period (a contract that starts on the 17th owes 15/31 of its monthly minimum),
 * rounded half-up to the minor unit.
 *
 * @example commit 1000.00, usage 600.00, discount -60.00 → true-up 460.00.
 * @example commit 1000.00, usage 1200.00 → true-up 0.00.
 * @example commit 1000.00, contract from 2026-10-17 (15 of 31 days), usage 100.00 → commit 483.87, true-up 383.87.
 */
export function commitTrueUp(
  commitAmount: string,
  activeMs: number,
  periodMs: number,
  usageAndDiscounts: Decimal,
  currency: string,
): CommitTrueUp {
  const commit = roundMoneyHalfUp(
    new Decimal(commitAmount).times(msDecimal(activeMs)).div(msDecimal(periodMs)),
    currency,
  );
  const shortfall = commit.minus(usageAndDiscounts);
  return {
    commit,
    amount: shortfall.gt(0) ? shortfall : new Decimal(0),
    ...(activeMs === periodMs ? {} : { proration: formatShare(activeMs, periodMs) }),
  };
}
