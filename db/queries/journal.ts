import type pg from 'pg';
import { JournalEntrySchema, type JournalEntry, type JournalEntryType } from '../../contracts/journal-entry.ts';
import type { AccountType, PrepaidCreditTerms } from '../../domain/journal/index.ts';
import { Decimal, formatMoney } from '../../domain/money.ts';
import { TallyError } from '../../contracts/tally-error.ts';

/** Anything that runs a query: a pool, or a client inside the caller's transaction. */
export type Queryable = pg.Pool | pg.ClientBase;

/** A repost under an existing key whose content differs: the journal rules or their inputs changed. Not retryable. */
export class JournalEntryConflictError extends TallyError {
  constructor(
    readonly entryKey: string,
    detail: string,
  ) {
    super(
      'journal_entry_conflict',
      `journal entry ${entryKey} is already posted with different content (${detail}); post a correcting entry instead`,
      { permanent: true },
    );
  }
}

export interface PostJournalResult {
  /** Keys inserted by this call. */
  readonly posted: string[];
  /** Keys already in the ledger with the same content: the repost was a no-op. */
  readonly alreadyPosted: string[];
}

/**
 * Inserts entries in the caller's transaction: `INSERT … ON CONFLICT (entry_key) DO NOTHING`, then
 * the lines of the entries that were new. An entry already present is compared with the one offered:
 * identical is a no-op, different is a JournalEntryConflictError (the ledger is never rewritten).
 * The caller builds entries with the journal rules, which balance them; the database checks again,
 * at commit, that every entry balances.
 */
export async function insertJournalEntries(
  client: pg.ClientBase,
  entries: readonly JournalEntry[],
): Promise<PostJournalResult> {
  const posted: string[] = [];
  const alreadyPosted: string[] = [];
  for (const offered of entries) {
    const entry = JournalEntrySchema.parse(offered);
    const inserted = await client.query(
      `INSERT INTO journal_entries (entry_key, entry_type, customer_id, invoice_id, currency, service_period, posting_period, calculation_version, memo, line_count)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (entry_key) DO NOTHING
       RETURNING entry_key`,
      [
        entry.entry_key,
        entry.entry_type,
        entry.customer_id,
        entry.invoice_id,
        entry.currency,
        entry.service_period,
        entry.posting_period,
        entry.calculation_version,
        entry.memo,
        entry.lines.length,
      ],
    );
    if (inserted.rowCount === 0) {
      const [existing] = await loadJournalEntries(client, { entryKeys: [entry.entry_key] });
      if (!existing) throw new JournalEntryConflictError(entry.entry_key, 'it vanished while being compared');
      const difference = describeDifference(existing, entry);
      if (difference) throw new JournalEntryConflictError(entry.entry_key, difference);
      alreadyPosted.push(entry.entry_key);
      continue;
    }
    await client.query(
      `INSERT INTO journal_lines (entry_key, line_no, account, debit, credit, source_line_key)
       SELECT $1, line_no, account, debit, credit, source_line_key
         FROM unnest($2::int[], $3::text[], $4::numeric[], $5::numeric[], $6::text[]) AS l(line_no, account, debit, credit, source_line_key)`,
      [
        entry.entry_key,
        entry.lines.map((line) => line.line_no),
        entry.lines.map((line) => line.account),
        entry.lines.map((line) => line.debit),
        entry.lines.map((line) => line.credit),
        entry.lines.map((line) => line.source_line_key),
      ],
    );
    posted.push(entry.entry_key);
  }
  return { posted, alreadyPosted };
}

/** Which of `entryKeys` are already in the ledger. */
export async function postedEntryKeys(db: Queryable, entryKeys: readonly string[]): Promise<Set<string>> {
  if (entryKeys.length === 0) return new Set();
  const { rows } = await db.query<{ entry_key: string }>(
    `SELECT entry_key FROM journal_entries WHERE entry_key = ANY($1)`,
    [entryKeys],
  );
  return new Set(rows.map((row) => row.entry_key));
}

/** A prepaid credit's terms as the credit ledger holds them, with the grant's kind and currency to check. */
export interface PrepaidCreditTermsRow extends PrepaidCreditTerms {
  readonly kind: string;
  readonly currency: string;
}

/**
 * The terms of the credits an invoice draws on, from the credit ledger: face value, consideration
 * paid (face value when none was recorded) and what invoices of earlier periods drew (for the same
 * period, invoices with a smaller id; there is one per customer and period). The figure never
 * includes the invoice's own draw, so it is the same before and after the invoice's consumption is
 * recorded. Credits not in the ledger have no row; the caller checks kind and currency.
 */
export async function prepaidCreditTermsRows(
  db: Queryable,
  input: { customerId: string; period: string; invoiceId: string; creditIds: readonly string[] },
): Promise<PrepaidCreditTermsRow[]> {
  if (input.creditIds.length === 0) return [];
  const { rows } = await db.query<PrepaidCreditTermsRow>(
    `SELECT g.credit_id, g.kind, g.currency::text AS currency, g.amount::text AS amount,
            coalesce(g.consideration_paid, g.amount)::text AS consideration_paid,
            coalesce(-(SELECT sum(m.amount) FROM credit_movements m
                        WHERE m.customer_id = g.customer_id AND m.credit_id = g.credit_id AND m.kind = 'consumption'
                          AND (m.period < $3 OR (m.period = $3 AND m.invoice_id COLLATE "C" < $4 COLLATE "C"))), 0)::text AS consumed_before
       FROM credit_grants g
      WHERE g.customer_id = $1 AND g.credit_id = ANY($2)`,
    [input.customerId, input.creditIds, input.period, input.invoiceId],
  );
  return rows;
}

export interface JournalEntryFilter {
  readonly entryKeys?: readonly string[];
  readonly entryTypes?: readonly JournalEntryType[];
  readonly invoiceIds?: readonly string[];
  readonly customerId?: string;
  readonly servicePeriod?: string;
  readonly postingPeriod?: string;
}

/** Posted entries with their lines, ordered by posting time then key. Every filter given must hold. */
export async function loadJournalEntries(db: Queryable, filter: JournalEntryFilter): Promise<JournalEntry[]> {
  const { rows } = await db.query<{
    entry_key: string;
    entry_type: string;
    customer_id: string;
    invoice_id: string | null;
    currency: string;
    service_period: string;
    posting_period: string;
    calculation_version: string;
    memo: string;
    lines: { line_no: number; account: string; debit: string; credit: string; source_line_key: string | null }[];
  }>(
    `SELECT e.entry_key, e.entry_type, e.customer_id, e.invoice_id, e.currency, e.service_period, e.posting_period, e.calculation_version, e.memo,
            (SELECT json_agg(json_build_object('line_no', l.line_no, 'account', l.account, 'debit', l.debit::text, 'credit', l.credit::text,
                                               'source_line_key', l.source_line_key) ORDER BY l.line_no)
               FROM journal_lines l WHERE l.entry_key = e.entry_key) AS lines
       FROM journal_entries e
      WHERE ($1::text[] IS NULL OR e.entry_key = ANY($1))
        AND ($2::text[] IS NULL OR e.invoice_id = ANY($2))
        AND ($3::text IS NULL OR e.customer_id = $3)
        AND ($4::text IS NULL OR e.service_period = $4)
        AND ($5::text IS NULL OR e.posting_period = $5)
        AND ($6::text[] IS NULL OR e.entry_type = ANY($6))
      ORDER BY e.posted_at, e.entry_key`,
    [
      filter.entryKeys ?? null,
      filter.invoiceIds ?? null,
      filter.customerId ?? null,
      filter.servicePeriod ?? null,
      filter.postingPeriod ?? null,
      filter.entryTypes ?? null,
    ],
  );
  return rows.map((row) => JournalEntrySchema.parse({ ...row, lines: row.lines ?? [] }));
}

interface TrialBalanceAccount {
  readonly currency: string;
  readonly account: string;
  readonly number: string;
  readonly name: string;
  readonly type: AccountType;
  readonly debit: string;
  readonly credit: string;
  /** debit − credit: positive is a debit balance. */
  readonly balance: string;
}

interface TrialBalanceTotal {
  readonly currency: string;
  readonly debit: string;
  readonly credit: string;
  /** Σ debit − Σ credit: zero in a sound ledger. */
  readonly difference: string;
}

export interface TrialBalance {
  readonly accounts: TrialBalanceAccount[];
  readonly totals: TrialBalanceTotal[];
  readonly balanced: boolean;
}

/**
 * Per-account totals over the journal (optionally through a posting period, or for one customer),
 * per currency, and whether Σ debits = Σ credits in each currency. Sums run in NUMERIC and come back
 * as decimal strings.
 */
export async function trialBalance(
  db: Queryable,
  options: { throughPostingPeriod?: string; customerId?: string } = {},
): Promise<TrialBalance> {
  const { rows } = await db.query<Omit<TrialBalanceAccount, 'balance'>>(
    `SELECT e.currency::text AS currency, l.account, a.number, a.name, a.type, sum(l.debit)::text AS debit, sum(l.credit)::text AS credit
       FROM journal_lines l
       JOIN journal_entries e ON e.entry_key = l.entry_key
       JOIN ledger_accounts a ON a.code = l.account
      WHERE ($1::text IS NULL OR e.posting_period <= $1)
        AND ($2::text IS NULL OR e.customer_id = $2)
      GROUP BY e.currency, l.account, a.number, a.name, a.type
      ORDER BY e.currency, a.number`,
    [options.throughPostingPeriod ?? null, options.customerId ?? null],
  );
  const accounts = rows.map((row) => ({
    ...row,
    balance: formatMoney(new Decimal(row.debit).minus(row.credit), row.currency),
  }));
  const byCurrency = new Map<string, { debit: Decimal; credit: Decimal }>();
  for (const row of accounts) {
    const total = byCurrency.get(row.currency) ?? { debit: new Decimal(0), credit: new Decimal(0) };
    byCurrency.set(row.currency, { debit: total.debit.plus(row.debit), credit: total.credit.plus(row.credit) });
  }
  const totals = [...byCurrency].map(([currency, total]) => ({
    currency,
    debit: formatMoney(total.debit, currency),
    credit: formatMoney(total.credit, currency),
    difference: formatMoney(total.debit.minus(total.credit), currency),
  }));
  return { accounts, totals, balanced: totals.every((total) => new Decimal(total.difference).isZero()) };
}

function describeDifference(existing: JournalEntry, offered: JournalEntry): string | null {
  for (const field of [
    'entry_type',
    'customer_id',
    'invoice_id',
    'currency',
    'service_period',
    'posting_period',
    'calculation_version',
  ] as const) {
    if (existing[field] !== offered[field])
      return `${field}: posted ${JSON.stringify(existing[field])}, offered ${JSON.stringify(offered[field])}`;
  }
  if (existing.lines.length !== offered.lines.length)
    return `posted with ${existing.lines.length} lines, offered ${offered.lines.length}`;
  for (const [index, line] of existing.lines.entries()) {
    const other = offered.lines[index];
    if (
      !other ||
      line.account !== other.account ||
      line.source_line_key !== other.source_line_key ||
      !new Decimal(line.debit).eq(other.debit) ||
      !new Decimal(line.credit).eq(other.credit)
    ) {
      return `line ${line.line_no}: posted ${line.account} ${line.debit}/${line.credit}, offered ${other ? `${other.account} ${other.debit}/${other.credit}` : 'nothing'}`;
    }
  }
  return null;
}
