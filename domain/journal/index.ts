// The revenue journal (ASC 606): balanced, deterministically keyed entries from issued invoices and
// prepaid credit grants, the chart of accounts, and the usage-revenue tie-out. Pure; the ledger that
// stores the entries is db/queries/journal.ts. Decisions: docs/decisions/journal.md.
export {
  ACCOUNT_CODES,
  CHART_OF_ACCOUNTS,
  isAccountCode,
  isIncomeStatementAccount,
  type AccountCode,
  type AccountDefinition,
  type AccountType,
  type NormalBalance,
} from './chart-of-accounts.ts';
export {
  CREDIT_JOURNAL_CALCULATION_VERSION,
  prepaidCreditExpiredEntry,
  prepaidCreditPurchasedEntry,
  type CreditGrantJournalInput,
} from './credit-journal.ts';
export { journalEntriesForInvoice, type InvoiceJournalInput } from './invoice-journal.ts';
export {
  assertBalanced,
  buildEntry,
  credit,
  debit,
  entryTotals,
  JournalError,
  journalEntryKey,
  netDebitByAccount,
  type EntrySourceKind,
  type JournalErrorCode,
  type Posting,
} from './journal-entry.ts';
export {
  commitDueForPeriod,
  type AdjustmentObligation,
  type CommitPolicy,
  type JournalPolicy,
  type PrepaidCreditTerms,
} from './journal-policy.ts';
export {
  tieOutUsageRevenue,
  type TieOutDifference,
  type TieOutDifferenceReason,
  type UsageTieOut,
  type UsageTieOutInput,
} from './usage-tie-out.ts';
