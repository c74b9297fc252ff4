import type { ContractCredit } from '../../contracts/contract.ts';
import { Decimal, formatMoney } from '../money.ts';
import type { BillingPeriod } from '../period.ts';
import { isCreditUsable } from '../rating/index.ts';

/** A credit as the ledger sees it for a period (db/queries/credit-ledger.ts `usableCredits`). */
export interface LedgerCreditBalance {
  readonly creditId: string;
  readonly kind: 'promotional' | 'prepaid';
  /** What the period may draw: the balance before this period's own invoice drew on it. */
  readonly openingBalance: string;
}

/**
 * The prepaid balance available at the start of a period: the opening balances of the usable
 * prepaid credits in the ledger, plus the contract's usable prepaid grants the ledger has not
 * recorded yet (grants are recorded when a period is first rated, so before that a grant is whole).
 * A grant the ledger knows (`ledgerCreditIds`) is never taken from the contract, even when the
 * ledger has nothing left of it. Undefined when the customer has no usable prepaid credit at all.
 *
 * @example contract prepaid-1 2000.00 (not in the ledger yet) → "2000.00".
 * @example ledger prepaid-1 opening 1250.00, contract prepaid-2 500.00 granted after the period → "1250.00".
 * @example ledger knows prepaid-1 but it is used up (not among the usable) → undefined.
 */
export function prepaidBalanceAtPeriodStart(input: {
  readonly period: BillingPeriod;
  readonly currency: string;
  readonly contractCredits: readonly ContractCredit[];
  /** Every credit id the ledger has a grant for, usable or not. */
  readonly ledgerCreditIds: readonly string[];
  /** The ledger's credits usable in the period, with their opening balances. */
  readonly ledgerUsable: readonly LedgerCreditBalance[];
}): string | undefined {
  const known = new Set(input.ledgerCreditIds);
  let total = new Decimal(0);
  let any = false;
  for (const credit of input.ledgerUsable) {
    if (credit.kind !== 'prepaid') continue;
    total = total.plus(credit.openingBalance);
    any = true;
  }
  for (const credit of input.contractCredits) {
    if (credit.kind !== 'prepaid' || known.has(credit.id)) continue;
    const balance = {
      id: credit.id,
      kind: credit.kind,
      remaining: credit.amount,
      granted_at: credit.granted_at,
      ...(credit.expires_at === undefined ? {} : { expires_at: credit.expires_at }),
    };
    if (!isCreditUsable(balance, input.period)) continue;
    total = total.plus(credit.amount);
    any = true;
  }
  return any ? formatMoney(total, input.currency) : undefined;
}
