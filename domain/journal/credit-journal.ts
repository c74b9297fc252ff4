import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { considerationPaid, type CreditGrant } from '../credit-ledger/index.ts';
import { Decimal, roundMoneyHalfUp } from '../money.ts';
import { periodOf } from '../period.ts';
import { buildEntry, credit, debit, JournalError, journalEntryKey } from './journal-entry.ts';

/** The calculation version of entries that come from credit grants rather than from an invoice. */
const CREDIT_JOURNAL_CALCULATION_VERSION = 'credit-journal-v1';

export interface CreditGrantJournalInput {
  readonly customer_id: string;
  readonly currency: string;
  readonly grant: CreditGrant;
}

/**
 * A prepaid grant is a contract liability at the consideration paid: AR / Contract liability –
 * prepaid credits, booked in the period of `granted_at`. (The purchase is invoiced outside the usage
 * invoice; the receivable is what that invoice collects.) Promotional grants, and prepaid grants
 * given for nothing, book nothing: null.
 *
 * Worked example: 900.00 paid for a 1000.00 grant → AR 900.00 / Contract liability 900.00.
 */
export function prepaidCreditPurchasedEntry(input: CreditGrantJournalInput): JournalEntry | null {
  const { grant } = input;
  if (grant.kind !== 'prepaid') return null;
  const paid = considerationPaid(grant);
  return grantEntry(
    input,
    'prepaid_credit_purchased',
    grant.granted_at,
    `Prepaid credit ${grant.id} purchased: ${grant.amount} of credits for ${paid.toString()} (${input.customer_id})`,
    [debit('accounts_receivable', paid), credit('contract_liability_prepaid_credits', paid)],
  );
}

/**
 * Breakage of a prepaid grant at expiry (no history makes breakage estimable earlier, so it is
 * recognized when the credit expires): the liability not yet released, Contract liability /
 * Revenue – breakage, booked in the period of `expires_at`. What was released so far is
 * `round_half_up(paid × consumed ÷ amount)`, the same cumulative figure the consumption entries
 * release, so the liability of the grant ends at exactly zero.
 *
 * Worked example: 900.00 paid for 1000.00, 400.00 unused at expiry → consumed 600.00, released
 * 540.00, breakage 360.00.
 */
export function prepaidCreditExpiredEntry(
  input: CreditGrantJournalInput & { readonly remaining: string },
): JournalEntry | null {
  const { grant } = input;
  if (grant.kind !== 'prepaid') return null;
  if (grant.expires_at === undefined || grant.expires_at === null) {
    throw new JournalError(
      'invalid_prepaid_credit_terms',
      `credit ${grant.id}: a grant without expires_at never expires`,
    );
  }
  const amount = new Decimal(grant.amount);
  const remaining = new Decimal(input.remaining);
  if (remaining.lt(0) || remaining.gt(amount)) {
    throw new JournalError(
      'invalid_prepaid_credit_terms',
      `credit ${grant.id}: remaining ${input.remaining} is outside [0, ${grant.amount}]`,
    );
  }
  const paid = considerationPaid(grant);
  const released = roundMoneyHalfUp(paid.times(amount.minus(remaining)).dividedBy(amount), input.currency);
  const breakage = paid.minus(released);
  return grantEntry(
    input,
    'prepaid_credit_expired',
    grant.expires_at,
    `Prepaid credit ${grant.id} expired with ${input.remaining} unused: breakage (${input.customer_id})`,
    [debit('contract_liability_prepaid_credits', breakage), credit('breakage_revenue', breakage)],
  );
}

/** An entry about a grant itself (no invoice), keyed by customer and credit, booked in the period of `at`. */
function grantEntry(
  input: CreditGrantJournalInput,
  entryType: 'prepaid_credit_purchased' | 'prepaid_credit_expired',
  at: string,
  memo: string,
  lines: Parameters<typeof buildEntry>[1],
): JournalEntry | null {
  const period = periodOf(at).name;
  return buildEntry(
    {
      entry_key: journalEntryKey(
        { kind: 'credit_grant', parts: [input.customer_id, input.grant.id] },
        entryType,
        CREDIT_JOURNAL_CALCULATION_VERSION,
      ),
      entry_type: entryType,
      customer_id: input.customer_id,
      invoice_id: null,
      currency: input.currency,
      service_period: period,
      posting_period: period,
      calculation_version: CREDIT_JOURNAL_CALCULATION_VERSION,
      memo,
    },
    lines,
  );
}
