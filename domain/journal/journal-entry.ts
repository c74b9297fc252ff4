import type { JournalEntry, JournalEntryType, JournalLine } from '../../contracts/journal-entry.ts';
import { Decimal, formatMoney, roundMoneyHalfUp, sumDecimals } from '../money.ts';
import { isAccountCode, type AccountCode } from './chart-of-accounts.ts';
import { TallyError } from '../../contracts/tally-error.ts';

export type JournalErrorCode =
  | 'unbalanced_journal_entry'
  | 'invalid_journal_entry'
  | 'invalid_invoice_for_journal'
  | 'commit_policy_mismatch'
  | 'prepaid_credit_terms_missing'
  | 'invalid_prepaid_credit_terms';

/** A permanent error of the journal rules: retrying cannot fix it; a person must look. */
export class JournalError extends TallyError {
  declare readonly code: JournalErrorCode;
  constructor(code: JournalErrorCode, message: string) {
    super(code, message, { permanent: true });
  }
}

/**
 * `recognition`: daily recognition of a customer-period before its invoice; `accrual`: its month-end
 * accrual, true-ups and reversals (domain/revenue).
 */
export type EntrySourceKind = 'invoice' | 'credit_grant' | 'recognition' | 'accrual';

/**
 * The idempotency key of an entry: `<source kind>:<source id>:<entry type>:<calculation version>`.
 * Source-id parts are joined by `/`; `%`, `:` and `/` inside a part are percent-escaped, so two
 * different sources can never produce the same key (ids may contain `:`).
 */
export function journalEntryKey(
  source: { kind: EntrySourceKind; parts: readonly string[] },
  entryType: JournalEntryType,
  calculationVersion: string,
): string {
  return [source.kind, source.parts.map(escapeKeyPart).join('/'), entryType, escapeKeyPart(calculationVersion)].join(
    ':',
  );
}

function escapeKeyPart(part: string): string {
  return part.replace(/[%:/]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** One posting before it is laid out as a line: a signed amount, positive = debit, negative = credit. */
export interface Posting {
  readonly account: AccountCode;
  readonly amount: Decimal;
  readonly sourceLineKey: string | null;
}

export function debit(account: AccountCode, amount: Decimal, sourceLineKey: string | null = null): Posting {
  return { account, amount, sourceLineKey };
}

export function credit(account: AccountCode, amount: Decimal, sourceLineKey: string | null = null): Posting {
  return { account, amount: amount.negated(), sourceLineKey };
}

export interface EntryHeader {
  readonly entry_key: string;
  readonly entry_type: JournalEntryType;
  readonly customer_id: string;
  readonly invoice_id: string | null;
  readonly currency: string;
  readonly service_period: string;
  readonly posting_period: string;
  readonly calculation_version: string;
  readonly memo: string;
}

/**
 * Lays postings out as lines (a negative debit becomes a credit and vice versa; zero postings are
 * dropped) and asserts the entry balances. Returns null when nothing is left to post, so a
 * zero-amount invoice line never produces an empty entry.
 */
export function buildEntry(header: EntryHeader, postings: readonly Posting[]): JournalEntry | null {
  const lines: JournalLine[] = [];
  for (const posting of postings) {
    if (posting.amount.isZero()) continue;
    const amount = formatMoney(posting.amount.abs(), header.currency);
    if (!roundMoneyHalfUp(posting.amount, header.currency).eq(posting.amount)) {
      throw new JournalError(
        'invalid_journal_entry',
        `${header.entry_key}: ${posting.account} ${posting.amount.toString()} is not a whole number of ${header.currency} minor units`,
      );
    }
    lines.push({
      line_no: lines.length + 1,
      account: posting.account,
      debit: posting.amount.isPositive() ? amount : formatMoney(new Decimal(0), header.currency),
      credit: posting.amount.isNegative() ? amount : formatMoney(new Decimal(0), header.currency),
      source_line_key: posting.sourceLineKey,
    });
  }
  if (lines.length === 0) return null;
  const entry: JournalEntry = { ...header, lines };
  assertBalanced(entry);
  return entry;
}

function entryTotals(entry: Pick<JournalEntry, 'lines'>): { debit: Decimal; credit: Decimal } {
  return {
    debit: sumDecimals(entry.lines.map((line) => new Decimal(line.debit))),
    credit: sumDecimals(entry.lines.map((line) => new Decimal(line.credit))),
  };
}

/**
 * The double-entry invariant: at least two lines, known accounts, each line exactly one
 * non-negative side, and Σ debit = Σ credit. Throws `unbalanced_journal_entry` naming the entry.
 */
export function assertBalanced(entry: Pick<JournalEntry, 'entry_key' | 'lines'>): void {
  if (entry.lines.length < 2) {
    throw new JournalError(
      'unbalanced_journal_entry',
      `${entry.entry_key}: an entry needs at least two lines, has ${entry.lines.length}`,
    );
  }
  for (const line of entry.lines) {
    if (!isAccountCode(line.account))
      throw new JournalError(
        'invalid_journal_entry',
        `${entry.entry_key} line ${line.line_no}: unknown account ${JSON.stringify(line.account)}`,
      );
    const lineDebit = new Decimal(line.debit);
    const lineCredit = new Decimal(line.credit);
    if (lineDebit.isNegative() || lineCredit.isNegative() || lineDebit.isZero() === lineCredit.isZero()) {
      throw new JournalError(
        'invalid_journal_entry',
        `${entry.entry_key} line ${line.line_no}: exactly one of debit (${line.debit}) and credit (${line.credit}) must be positive`,
      );
    }
  }
  const totals = entryTotals(entry);
  if (!totals.debit.eq(totals.credit)) {
    throw new JournalError(
      'unbalanced_journal_entry',
      `${entry.entry_key}: debits ${totals.debit.toString()} ≠ credits ${totals.credit.toString()}`,
    );
  }
}

/** Net debit (debit − credit) per account over entries, e.g. to read an account's movement. */
export function netDebitByAccount(entries: Iterable<Pick<JournalEntry, 'lines'>>): Map<AccountCode, Decimal> {
  const net = new Map<AccountCode, Decimal>();
  for (const entry of entries) {
    for (const line of entry.lines) {
      if (!isAccountCode(line.account)) continue;
      net.set(line.account, (net.get(line.account) ?? new Decimal(0)).plus(line.debit).minus(line.credit));
    }
  }
  return net;
}
