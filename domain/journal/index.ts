// The revenue journal (ASC 606): balanced, deterministically keyed entries from issued invoices and
// prepaid credit grants, the chart of accounts, and the usage-revenue tie-out. Pure; the ledger that
// stores the entries is db/queries/journal.ts. Decisions: docs/decisions/journal.md.
export {
  ACCOUNT_CODES,
  CHART_OF_ACCOUNTS,
  isAccountCode,
  isIncomeStatementAccount,
  type AccountCode,
  type AccountType,
} from './chart-of-accounts.ts';
export { prepaidCreditExpiredEntry, prepaidCreditPurchasedEntry } from './credit-journal.ts';
export { journalEntriesForInvoice, type InvoiceJournalInput } from './invoice-journal.ts';
export {
  assertBalanced,
  buildEntry,
  credit,
  debit,
  JournalError,
  journalEntryKey,
  netDebitByAccount,
  type Posting,
} from './journal-entry.ts';
export {
  commitDueForPeriod,
  type AdjustmentObligation,
  type CommitPolicy,
  type JournalPolicy,
  type PrepaidCreditTerms,
} from './journal-policy.ts';
export { tieOutUsageRevenue, type UsageTieOut } from './usage-tie-out.ts';
