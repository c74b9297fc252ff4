import type { Contract } from '../../../contracts/contract.ts';
import type { FeeLine } from '../../../contracts/invoice.ts';
import type { Fee } from '../../../contracts/ratecard.ts';
import type { BillingPeriod } from '../../period.ts';
import { Decimal, formatMoney, roundMoneyHalfUp } from '../../money.ts';
import { contractRange, overlapMs, timeRange, type TimeRange } from '../time/time-range.ts';
import { formatShare, msDecimal } from './proration.ts';
import type { SegmentWithVersion } from '../segments/segments-in-force.ts';

export interface FeeCharge {
  readonly id: string;
  readonly description: string;
  /** Rounded half-up to the currency's minor unit (rule 8). */
  readonly amount: Decimal;
  /** Share of the period billed, when less than all of it. */
  readonly proration?: string;
}

/**
 * Fees (rule 8), one charge per fee id: each version's amount for the milliseconds it was in force
 * while the contract was active, over the period's length, rounded half-up once.
 *
 * @example fee 500.00, contract starting 2026-10-17T00:00:00Z, period 2026-10 (31 days):
 *   500 × 15 days / 31 days = 241.935… → 241.94, proration 0.483870967742.
 * @example fee 500.00 until 2026-10-16, 450.00 from then (rule 11), contract active all month:
 *   500 × 15/31 + 450 × 16/31 = 241.935… + 232.258… = 474.193… → 474.19.
 */
export function rateFees(
  segments: readonly SegmentWithVersion[],
  contract: TimeRange,
  period: TimeRange,
  currency: string,
): FeeCharge[] {
  const periodMs = period.endMs - period.startMs;
  const order: string[] = [];
  const totals = new Map<string, { weighted: Decimal; billedMs: number; description: string }>();
  for (const { version, range } of segments) {
    if (version === null) continue;
    const activeMs = overlapMs(range, contract);
    for (const fee of version.fees as readonly Fee[]) {
      let total = totals.get(fee.id);
      if (total === undefined) {
        total = { weighted: new Decimal(0), billedMs: 0, description: fee.description };
        totals.set(fee.id, total);
        order.push(fee.id);
      }
      total.weighted = total.weighted.plus(new Decimal(fee.amount).times(msDecimal(activeMs)));
      total.billedMs += activeMs;
      total.description = fee.description;
    }
  }
  return order.map((id) => {
    const total = totals.get(id) as { weighted: Decimal; billedMs: number; description: string };
    const amount = roundMoneyHalfUp(total.weighted.div(msDecimal(periodMs)), currency);
    return {
      id,
      description: total.description,
      amount,
      ...(total.billedMs === periodMs ? {} : { proration: formatShare(total.billedMs, periodMs) }),
    };
  });
}

/**
 * Stage 4 of `ratePeriod`: the fee lines (rules 8, 11), `fee:<fee_id>` in rate-card order, prorated
 * by the contract's active window and by each version's time in force.
 */
export function feeLines(
  segments: readonly SegmentWithVersion[],
  contract: Contract,
  period: BillingPeriod,
): FeeLine[] {
  const contractWindow = contractRange(contract.starts_at, contract.ends_at);
  return rateFees(segments, contractWindow, timeRange(period.start, period.end), contract.currency).map((fee) => ({
    kind: 'fee',
    line_key: `fee:${fee.id}`,
    price_id: fee.id,
    description: fee.description,
    amount: formatMoney(fee.amount, contract.currency),
    ...(fee.proration !== undefined ? { proration: fee.proration } : {}),
  }));
}
