import type { Contract, CreditKind } from '../../../contracts/contract.ts';
import type { CreditLine } from '../../../contracts/invoice.ts';
import { Decimal, formatMoney, minorUnits } from '../../money.ts';
import type { BillingPeriod } from '../../period.ts';
import { instantKey } from '../time/instant-key.ts';
import { RatingInputError } from '../rating-input-error.ts';

/** A credit's balance left for this period (the workflow reads it from the credit ledger). */
export interface CreditBalance {
  readonly id: string;
  readonly kind: CreditKind;
  /** Decimal string, a whole number of the currency's minor units. */
  readonly remaining: string;
  readonly granted_at: string;
  readonly expires_at?: string;
}

export interface CreditUse {
  readonly credit: CreditBalance;
  /** Positive: how much of the credit this invoice uses (the line shows it negated). */
  readonly amount: Decimal;
}

/**
 * A credit is usable in a period if granted before the period ends and not expired before it ends
 * (rule 10): granted_at < period_end and (no expires_at, or expires_at >= period_end).
 *
 * @example period 2026-10: granted 2026-10-20 → usable; granted 2026-11-01T00:00:00Z → not yet;
 *   expires 2026-10-31T23:59:59Z → not usable (expired before the period ends); expires 2026-11-01T00:00:00Z → usable.
 */
export function isCreditUsable(credit: CreditBalance, period: BillingPeriod): boolean {
  const end = instantKey(period.end);
  return (
    instantKey(credit.granted_at) < end && (credit.expires_at === undefined || instantKey(credit.expires_at) >= end)
  );
}

/**
 * Rule 10's order: promotional before prepaid; within a kind, earliest expires_at first (never-
 * expiring last), then earliest granted_at, then id.
 */
export function compareCreditsForDrawdown(a: CreditBalance, b: CreditBalance): number {
  if (a.kind !== b.kind) return a.kind === 'promotional' ? -1 : 1;
  const aExpiry = a.expires_at === undefined ? undefined : instantKey(a.expires_at);
  const bExpiry = b.expires_at === undefined ? undefined : instantKey(b.expires_at);
  if (aExpiry !== bExpiry) {
    if (aExpiry === undefined) return 1;
    if (bExpiry === undefined) return -1;
    return aExpiry < bExpiry ? -1 : 1;
  }
  const aGranted = instantKey(a.granted_at);
  const bGranted = instantKey(b.granted_at);
  if (aGranted !== bGranted) return aGranted < bGranted ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Draws the usable credits down against `due` in rule 10's order: each takes at most its remaining
 * balance and never takes the amount due below zero. Credits with nothing to give produce no use.
 *
 * @example due 990.00; promo-q4 (promotional, 50.00), prepaid-1 (prepaid, 2000.00) → promo-q4 50.00, prepaid-1 940.00, total 0.00.
 */
export function drawDownCredits(
  credits: readonly CreditBalance[],
  due: Decimal,
  period: BillingPeriod,
  currency: string,
): CreditUse[] {
  const digits = minorUnits(currency);
  const ids = new Set<string>();
  for (const credit of credits) {
    if (ids.has(credit.id)) throw new RatingInputError('invalid_credit_balance', `credit ${credit.id} is listed twice`);
    ids.add(credit.id);
    const remaining = new Decimal(credit.remaining);
    if (remaining.isNegative() || remaining.decimalPlaces() > digits) {
      throw new RatingInputError(
        'invalid_credit_balance',
        `credit ${credit.id} has remaining ${credit.remaining}: expected a non-negative whole number of ${currency} minor units`,
      );
    }
  }
  const uses: CreditUse[] = [];
  let left = due.gt(0) ? due : new Decimal(0);
  for (const credit of credits
    .filter((candidate) => isCreditUsable(candidate, period))
    .sort(compareCreditsForDrawdown)) {
    if (left.isZero()) break;
    const amount = Decimal.min(new Decimal(credit.remaining), left);
    if (amount.isZero()) continue;
    uses.push({ credit, amount });
    left = left.minus(amount);
  }
  return uses;
}

/** The offline path: each credit of the contract at its full amount (no earlier period has used any). */
export function creditBalancesFromContract(contract: Contract): CreditBalance[] {
  return contract.credits.map((credit) => ({
    id: credit.id,
    kind: credit.kind,
    remaining: credit.amount,
    granted_at: credit.granted_at,
    ...(credit.expires_at !== undefined ? { expires_at: credit.expires_at } : {}),
  }));
}

/** Stage 7 of `ratePeriod`: the credit lines (rule 10), `credit:<credit_id>` in drawdown order, never past zero due. */
export function creditLines(
  credits: readonly CreditBalance[],
  subtotal: Decimal,
  period: BillingPeriod,
  currency: string,
): CreditLine[] {
  return drawDownCredits(credits, subtotal, period, currency).map((use) => ({
    kind: 'credit',
    line_key: `credit:${use.credit.id}`,
    credit_id: use.credit.id,
    credit_kind: use.credit.kind,
    amount: formatMoney(use.amount.negated(), currency),
  }));
}
