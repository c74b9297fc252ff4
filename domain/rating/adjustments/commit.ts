import type { Contract } from '../../../contracts/contract.ts';
import type { CommitTrueUpLine, DiscountLine, UsageLine } from '../../../contracts/invoice.ts';
import { Decimal, formatMoney, roundMoneyHalfUp } from '../../money.ts';
import type { BillingPeriod } from '../../period.ts';
import { contractRange, overlapMs, timeRange } from '../time/time-range.ts';
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

/**
 * Stage 6 of `ratePeriod`: the `commit_true_up` line (rule 9) when the contract has a commit, the
 * usage and discount lines (as rounded and printed) measured against the prorated commit; none
 * without a commit.
 */
export function commitTrueUpLines(
  contract: Contract,
  period: BillingPeriod,
  usageAndDiscountLines: readonly (UsageLine | DiscountLine)[],
): CommitTrueUpLine[] {
  if (contract.commit === undefined) return [];
  const periodRange = timeRange(period.start, period.end);
  let usageAndDiscounts = new Decimal(0);
  for (const line of usageAndDiscountLines) usageAndDiscounts = usageAndDiscounts.plus(new Decimal(line.amount));
  const trueUp = commitTrueUp(
    contract.commit.amount,
    overlapMs(periodRange, contractRange(contract.starts_at, contract.ends_at)),
    periodRange.endMs - periodRange.startMs,
    usageAndDiscounts,
    contract.currency,
  );
  return [
    {
      kind: 'commit_true_up',
      line_key: 'commit_true_up',
      amount: formatMoney(trueUp.amount, contract.currency),
      commit: formatMoney(trueUp.commit, contract.currency),
      ...(trueUp.proration !== undefined ? { proration: trueUp.proration } : {}),
    },
  ];
}
