import { z } from 'zod';
import { NON_NEGATIVE_DECIMAL_PATTERN } from './patterns.ts';

/**
 * A revenue journal entry as the general ledger stores it and as activities pass it around.
 * Amounts are non-negative decimal strings with exactly the currency's minor digits; each line
 * has exactly one non-zero side; every entry balances (Σ debit = Σ credit), which the domain
 * asserts when it builds the entry and the database checks again when it stores it.
 */
const Amount = z.string().regex(NON_NEGATIVE_DECIMAL_PATTERN, 'a non-negative decimal string');
const Period = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a period YYYY-MM');

const JOURNAL_ENTRY_TYPES = [
  'usage_rated',
  'discount_applied',
  'commit_recognized',
  'commit_shortfall_breakage',
  'promotional_credit_applied',
  'prepaid_credit_consumed',
  'adjustment_posted',
  'invoice_issued',
  'subscription_recognized',
  'prepaid_credit_purchased',
  'prepaid_credit_expired',
  'revenue_recognized',
  'recognition_settled',
  'revenue_accrued',
  'accrual_trued_up',
  'accrual_reversed',
] as const;

const JournalEntryTypeSchema = z.enum(JOURNAL_ENTRY_TYPES);

const JournalLineSchema = z.object({
  line_no: z.number().int().positive(),
  /** A code of the chart of accounts (domain/journal/chart-of-accounts.ts). */
  account: z.string(),
  debit: Amount,
  credit: Amount,
  /** The invoice line (its `line_key`) this posting comes from; null for aggregate postings (AR on issue). */
  source_line_key: z.string().nullable(),
});

export const JournalEntrySchema = z.object({
  /** `<source kind>:<source id>:<entry type>:<calculation version>`: the idempotency key of the posting. */
  entry_key: z.string().min(1),
  entry_type: JournalEntryTypeSchema,
  customer_id: z.string(),
  /** The issued invoice the entry comes from; null for credit-grant entries. */
  invoice_id: z.string().nullable(),
  currency: z.string().length(3),
  /** The period the revenue belongs to (the original period for late usage). */
  service_period: Period,
  /** The accounting period the entry is booked in (the current open period for late usage). */
  posting_period: Period,
  calculation_version: z.string(),
  memo: z.string(),
  lines: z.array(JournalLineSchema).min(2),
});

export type JournalEntryType = z.infer<typeof JournalEntryTypeSchema>;
export type JournalLine = z.infer<typeof JournalLineSchema>;
export type JournalEntry = z.infer<typeof JournalEntrySchema>;
