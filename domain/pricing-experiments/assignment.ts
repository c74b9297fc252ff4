import { assignmentHashHex } from '../../contracts/pricing-experiment.ts';
import { Decimal } from '../money.ts';

export type ExperimentArm = 'variant' | 'control';

/**
 * Deterministic assignment of a live pricing experiment: a contract is in the variant when the first
 * 52 bits of sha256(`<seed>\0<customer id>`), read as a fraction of 1, are below the variant share.
 * The same seed, share and contracts always give the same cohorts, on any machine, in any order; a
 * contract's arm does not depend on which other contracts are eligible.
 *
 * Example: seed "2026-12", share 0.5: a customer whose hash starts 7fffffffffffe… is in the variant,
 * one whose hash starts 8000000000000… is in the control.
 */
export function hashFraction(seed: string, customerId: string): Decimal {
  return new Decimal(`0x${assignmentHashHex(seed, customerId)}`).dividedBy(new Decimal(16).pow(13));
}

export function armByHash(seed: string, variantShare: Decimal, customerId: string): ExperimentArm {
  return hashFraction(seed, customerId).lessThan(variantShare) ? 'variant' : 'control';
}

/**
 * Every eligible contract's arm: by the seeded hash, or (with `variantCustomers`) exactly the named
 * contracts in the variant and the other eligible ones in the control. Sorted by customer id.
 */
export function assignArms(
  eligibleCustomerIds: readonly string[],
  rule:
    | { readonly kind: 'hash'; readonly seed: string; readonly variantShare: Decimal }
    | { readonly kind: 'list'; readonly variantCustomers: readonly string[] },
): { customerId: string; arm: ExperimentArm }[] {
  const named = rule.kind === 'list' ? new Set(rule.variantCustomers) : undefined;
  return [...new Set(eligibleCustomerIds)].sort().map((customerId) => ({
    customerId,
    arm:
      named !== undefined
        ? named.has(customerId)
          ? 'variant'
          : 'control'
        : rule.kind === 'hash'
          ? armByHash(rule.seed, rule.variantShare, customerId)
          : 'control',
  }));
}
