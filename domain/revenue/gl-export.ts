import { ACCOUNT_CODES, CHART_OF_ACCOUNTS, isAccountCode, type AccountCode } from '../journal/index.ts';
import { RevenueError } from './revenue-error.ts';

/** The columns of the GL export, in order (SPEC §11). */
const GL_EXPORT_COLUMNS = [
  'entry_id',
  'posted_at',
  'period',
  'account',
  'external_account',
  'debit',
  'credit',
  'currency',
  'customer_id',
  'invoice_id',
  'memo',
] as const;

export type GlExportRow = Record<(typeof GL_EXPORT_COLUMNS)[number], string>;

/** One posting as the ledger stores it, with its entry's fields. */
export interface LedgerPosting {
  readonly entry_key: string;
  readonly posted_at: string;
  readonly posting_period: string;
  readonly account: string;
  readonly debit: string;
  readonly credit: string;
  readonly currency: string;
  readonly customer_id: string;
  readonly invoice_id: string | null;
  readonly memo: string;
}

/** Tally account code → the external chart's account, e.g. `usage_revenue` → `4010-00`. */
export type AccountMapping = ReadonlyMap<AccountCode, string>;

/** Without a mapping file, each account exports under its number in Tally's chart (`usage_revenue` → `4000`). */
export function chartNumberMapping(): AccountMapping {
  return new Map(ACCOUNT_CODES.map((code) => [code, CHART_OF_ACCOUNTS[code].number]));
}

/**
 * A mapping file: CSV with the header `account,external_account`, one Tally account per line
 * (blank lines and lines starting with `#` are skipped). Refused with file, line and field for an
 * unknown account, an empty external account, or an account mapped twice.
 *
 * @example
 * account,external_account
 * usage_revenue,4010-00
 */
export function parseAccountMapping(text: string, file: string): AccountMapping {
  const mapping = new Map<AccountCode, string>();
  const seenOn = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  let header = true;
  for (const [index, raw] of lines.entries()) {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(',').map((field) => field.trim());
    const refuse = (field: string, why: string): RevenueError =>
      new RevenueError('invalid_account_mapping', `${file} line ${lineNo}, field ${field}: ${why}`);
    if (header) {
      if (fields.join(',') !== 'account,external_account')
        throw refuse('header', `expected the header "account,external_account", found ${JSON.stringify(line)}`);
      header = false;
      continue;
    }
    if (fields.length !== 2)
      throw refuse('line', `expected 2 fields (account,external_account), found ${fields.length}`);
    const [account = '', external = ''] = fields;
    if (!isAccountCode(account))
      throw refuse(
        'account',
        `${JSON.stringify(account)} is not an account of Tally's chart (${ACCOUNT_CODES.join(', ')})`,
      );
    if (external === '') throw refuse('external_account', `account ${account} maps to nothing`);
    const earlier = seenOn.get(account);
    if (earlier !== undefined) throw refuse('account', `${account} is already mapped on line ${earlier}`);
    seenOn.set(account, lineNo);
    mapping.set(account, external);
  }
  if (header) throw new RevenueError('invalid_account_mapping', `${file} line 1, field header: the file is empty`);
  return mapping;
}

/**
 * The export rows of postings, one per posting, mapped to the external chart: debit and credit
 * decimal strings, the side without an amount empty. Every account posted must be mapped; an
 * unmapped one refuses the whole export, naming the mapping file and the account (and where it is used).
 */
export function glExportRows(
  postings: readonly LedgerPosting[],
  mapping: AccountMapping,
  mappingFile: string | null,
): GlExportRow[] {
  assertAccountsMapped(
    postings.map((posting) => posting.account),
    mapping,
    mappingFile,
  );
  return postings.map((posting) => ({
    entry_id: posting.entry_key,
    posted_at: posting.posted_at,
    period: posting.posting_period,
    account: posting.account,
    external_account: mapping.get(posting.account as AccountCode) ?? '',
    debit: isZero(posting.debit) ? '' : posting.debit,
    credit: isZero(posting.credit) ? '' : posting.credit,
    currency: posting.currency,
    customer_id: posting.customer_id,
    invoice_id: posting.invoice_id ?? '',
    memo: posting.memo,
  }));
}

/**
 * Refuses accounts the mapping does not map, naming the mapping file, each account (field
 * `account`) and how many postings use it.
 */
export function assertAccountsMapped(
  accounts: readonly string[],
  mapping: AccountMapping,
  mappingFile: string | null,
): void {
  const unmapped = new Map<string, number>();
  for (const account of accounts) {
    if (!isAccountCode(account) || !mapping.has(account)) unmapped.set(account, (unmapped.get(account) ?? 0) + 1);
  }
  if (unmapped.size === 0) return;
  const where = mappingFile ?? "Tally's chart of accounts";
  throw new RevenueError(
    'invalid_account_mapping',
    [...unmapped]
      .map(
        ([account, count]) =>
          `${where}: no line maps account ${account} (field account), which ${count} posting${count === 1 ? ' uses' : 's use'}`,
      )
      .join('; '),
  );
}

/** RFC 4180 CSV: a header, CRLF-free (`\n`) rows, fields quoted when they hold a comma, quote or newline. */
export function glExportCsv(rows: readonly GlExportRow[]): string {
  const quote = (value: string): string => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  return [
    GL_EXPORT_COLUMNS.join(','),
    ...rows.map((row) => GL_EXPORT_COLUMNS.map((column) => quote(row[column])).join(',')),
  ]
    .map((line) => `${line}\n`)
    .join('');
}

function isZero(amount: string): boolean {
  return /^0+(\.0+)?$/.test(amount);
}
