import type { InvoiceLine } from '../../contracts/invoice.ts';

/**
 * What the journal needs to know about a customer's terms, beside the invoice. The workflow maps
 * the contract (SPEC §3) onto these shapes; nothing here reads the contract file itself.
 */

/**
 * How a minimum commit (SPEC §3 `commit.amount`, per billing period) is recognized:
 * - `ratable`: the commit is a stand-ready obligation recognized straight-line over its commitment
 *   period (the billing period) as Commitment revenue; usage inside the commit is part of it, usage
 *   above it is Usage revenue as it occurs; billing a shortfall only moves the receivable.
 * - `drawdown`: usage is recognized as consumed (Usage revenue); a shortfall is Revenue – breakage
 *   at the end of the commitment period.
 */
export type CommitPolicy = 'ratable' | 'drawdown';

/** Which obligation an adjustment line corrects, to pick its revenue account. */
export type AdjustmentObligation = 'usage' | 'subscription' | 'discount' | 'commit';

export interface JournalPolicy {
  /** The contract's commit policy; ignored when there is no commit. The workflow's default is `drawdown`. */
  readonly commitPolicy: CommitPolicy;
  /**
   * The minimum commit for the invoice's period (the contract's `commit.amount`), a decimal string
   * in the invoice currency; absent or null when the contract has none. Checked against the
   * invoice: the `commit_true_up` line must equal max(0, commit − (usage + discounts)).
   */
  readonly commitAmount?: string | null;
  /**
   * Adjustment lines by `price_id` → the obligation they correct. An adjustment without a
   * `price_id`, or whose id is not listed, corrects usage (late usage is what adjustments mostly are).
   */
  readonly adjustmentObligations?: Readonly<Record<string, AdjustmentObligation>>;
}

/**
 * The terms of one prepaid credit an invoice draws on, read from the credit ledger. Recognition of a
 * draw is cumulative so that rounding never strands a cent in the liability:
 * `released(c) = round_half_up(consideration_paid × c ÷ amount)`, and a draw of q after
 * `consumed_before` releases `released(consumed_before + q) − released(consumed_before)`.
 */
export interface PrepaidCreditTerms {
  readonly credit_id: string;
  /** Face value granted. */
  readonly amount: string;
  /** What the customer paid for the grant (the face value when no bonus was given). */
  readonly consideration_paid: string;
  /** Σ drawn from the credit by invoices of earlier periods, as a positive decimal string. */
  readonly consumed_before: string;
}

/**
 * The commit due for an invoice's period, for `JournalPolicy.commitAmount`: the amount its
 * `commit_true_up` line was computed against (prorated when the contract covers part of the
 * period), else the contract's monthly `commit.amount`; null without a commit.
 *
 * Example: commit 200.00 a month, contract ends 2026-10-20T12:00Z (19.5 of 31 days) → the line's
 * commit is 125.81, and that, not 200.00, is what the true-up and the commit entry use.
 */
export function commitDueForPeriod(
  lines: readonly InvoiceLine[],
  contractCommitAmount: string | null | undefined,
): string | null {
  const line = lines.find((candidate) => candidate.kind === 'commit_true_up');
  if (line !== undefined && line.kind === 'commit_true_up' && line.commit !== undefined) return line.commit;
  return contractCommitAmount ?? null;
}
