import { Decimal, roundMoneyHalfUp } from '../money.ts';
import type { BillingPeriod } from '../period.ts';
import { TallyError } from '../../contracts/tally-error.ts';
import { NON_NEGATIVE_DECIMAL_PATTERN } from '../../contracts/patterns.ts';

export type CreditKind = 'promotional' | 'prepaid';

/**
 * A credit grant as the contract states it (SPEC §3 `credits`), plus what the customer paid for a
 * prepaid grant. The workflow maps the contract's credits onto this shape; amounts are decimal
 * strings in the contract's currency, instants RFC 3339.
 *
 * - `consideration_paid` (prepaid only): the price the customer paid for the grant. Absent means
 *   the face value (no bonus). Paying 900.00 for a 1000.00 grant is a 100.00 bonus: each credit is
 *   worth 0.90 of revenue when consumed (see domain/journal).
 * - Promotional grants cost nothing and never carry `consideration_paid`.
 */
export interface CreditGrant {
  readonly id: string;
  readonly kind: CreditKind;
  readonly amount: string;
  readonly granted_at: string;
  readonly expires_at?: string | null;
  readonly consideration_paid?: string | null;
}

export type CreditLedgerErrorCode = 'invalid_credit_grant' | 'invalid_credit_line';

export class CreditLedgerError extends TallyError {
  declare readonly code: CreditLedgerErrorCode;
  constructor(code: CreditLedgerErrorCode, message: string) {
    super(code, message, { permanent: true });
  }
}

/** Checks a grant before it enters the ledger; the message names the credit and the field. */
export function validateCreditGrant(grant: CreditGrant, currency: string): void {
  const fail = (field: string, problem: string): never => {
    throw new CreditLedgerError('invalid_credit_grant', `credit ${JSON.stringify(grant.id)}: ${field} ${problem}`);
  };
  if (grant.id.length === 0) fail('id', 'is empty');
  if (grant.kind !== 'promotional' && grant.kind !== 'prepaid')
    fail('kind', `must be promotional or prepaid, got ${JSON.stringify(grant.kind)}`);
  if (!NON_NEGATIVE_DECIMAL_PATTERN.test(grant.amount))
    fail('amount', `must be a decimal string, got ${JSON.stringify(grant.amount)}`);
  const amount = new Decimal(grant.amount);
  if (!amount.isPositive() || amount.isZero()) fail('amount', 'must be positive');
  if (!roundMoneyHalfUp(amount, currency).eq(amount))
    fail('amount', `must be a whole number of ${currency} minor units`);
  const grantedAt = Date.parse(grant.granted_at);
  if (Number.isNaN(grantedAt)) fail('granted_at', `is not an instant: ${JSON.stringify(grant.granted_at)}`);
  if (grant.expires_at !== undefined && grant.expires_at !== null) {
    const expiresAt = Date.parse(grant.expires_at);
    if (Number.isNaN(expiresAt)) fail('expires_at', `is not an instant: ${JSON.stringify(grant.expires_at)}`);
    if (expiresAt <= grantedAt) fail('expires_at', 'must be after granted_at');
  }
  if (grant.consideration_paid !== undefined && grant.consideration_paid !== null) {
    if (grant.kind !== 'prepaid') fail('consideration_paid', 'is only for prepaid credits');
    if (!NON_NEGATIVE_DECIMAL_PATTERN.test(grant.consideration_paid))
      fail('consideration_paid', `must be a decimal string, got ${JSON.stringify(grant.consideration_paid)}`);
    const paid = new Decimal(grant.consideration_paid);
    if (!roundMoneyHalfUp(paid, currency).eq(paid))
      fail('consideration_paid', `must be a whole number of ${currency} minor units`);
    if (paid.gt(amount))
      fail('consideration_paid', 'exceeds the amount granted (credits are never sold above face value)');
  }
}

/** What the customer paid for a grant: `consideration_paid`, the face value when absent, zero for promotional credits. */
export function considerationPaid(grant: Pick<CreditGrant, 'kind' | 'amount' | 'consideration_paid'>): Decimal {
  if (grant.kind === 'promotional') return new Decimal(0);
  return new Decimal(grant.consideration_paid ?? grant.amount);
}

/**
 * Revenue per unit of credit consumed: consideration paid ÷ amount granted, at full precision.
 * Worked example: 900.00 paid for 1000.00 of credits → 0.9; promotional credits → 0.
 */
export function effectivePricePerCredit(grant: Pick<CreditGrant, 'kind' | 'amount' | 'consideration_paid'>): Decimal {
  return considerationPaid(grant).dividedBy(grant.amount);
}

/**
 * SPEC §2 rule 10: a credit is usable in a period if granted before the period ends and not
 * expired before it ends, i.e. `granted_at < period.end` and (`expires_at` absent or
 * `expires_at >= period.end`). The credit-ledger query applies the same predicate in SQL.
 */
export function isCreditUsableInPeriod(
  grant: Pick<CreditGrant, 'granted_at' | 'expires_at'>,
  period: BillingPeriod,
): boolean {
  const end = Date.parse(period.end);
  if (Date.parse(grant.granted_at) >= end) return false;
  return grant.expires_at === undefined || grant.expires_at === null || Date.parse(grant.expires_at) >= end;
}

/**
 * SPEC §2 rule 10 drawdown order: promotional before prepaid; within a kind, earliest `expires_at`
 * first (never-expiring last), then earliest `granted_at`, then `id` (code-unit order). A comparator for `Array#sort`.
 */
export function compareCreditsForDrawdown(
  a: Pick<CreditGrant, 'id' | 'kind' | 'granted_at' | 'expires_at'>,
  b: Pick<CreditGrant, 'id' | 'kind' | 'granted_at' | 'expires_at'>,
): number {
  if (a.kind !== b.kind) return a.kind === 'promotional' ? -1 : 1;
  const expiresA = a.expires_at ? Date.parse(a.expires_at) : Number.POSITIVE_INFINITY;
  const expiresB = b.expires_at ? Date.parse(b.expires_at) : Number.POSITIVE_INFINITY;
  if (expiresA !== expiresB) return expiresA < expiresB ? -1 : 1;
  const grantedA = Date.parse(a.granted_at);
  const grantedB = Date.parse(b.granted_at);
  if (grantedA !== grantedB) return grantedA < grantedB ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
