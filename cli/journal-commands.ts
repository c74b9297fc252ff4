import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { textTable } from '../views/text-table.ts';
import { recordCreditExpiries } from '../activities/credit-ledger.ts';
import { creditBalances, usableCredits } from '../db/queries/credit-ledger.ts';
import { loadJournalEntries, trialBalance } from '../db/queries/journal.ts';
import { listAccountingPeriodLocks, postingsOfPeriod } from '../db/queries/revenue-recognition.ts';
import type { AccountCode } from '../domain/journal/index.ts';
import {
  assertAccountsMapped,
  chartNumberMapping,
  glExportCsv,
  glExportRows,
  parseAccountMapping,
  type AccountMapping,
} from '../domain/revenue/index.ts';
import { displayMoney } from '../domain/money.ts';
import { periodNameProblem } from '../domain/period.ts';
import { lockPeriod } from '../revenue/index.ts';
import { authenticateCliUser } from './console-credentials.ts';
import { withDatabase } from './services.ts';

const write = (text: string): void => {
  process.stdout.write(text);
};

function period(value: string): string {
  const problem = periodNameProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

function instant(value: string): string {
  if (Number.isNaN(Date.parse(value)) || !/[zZ]|[+-]\d{2}:\d{2}$/.test(value))
    throw new InvalidArgumentError('expected an RFC 3339 instant with an offset');
  return value;
}

export function registerJournalCommands(program: Command): void {
  const journal = program.command('journal');
  registerPeriodLockCommands(journal);
  registerExportCommand(journal);

  journal
    .command('trial-balance')
    .description('per-account totals; debits must equal credits in each currency')
    .option('--through <period>', 'only entries posted in this period or before', period)
    .option('--customer <id>', "only this customer's entries")
    .option('--json', 'machine-readable output')
    .action(async (options: { through?: string; customer?: string; json?: boolean }) => {
      const balance = await withDatabase((pool) =>
        trialBalance(pool, { throughPostingPeriod: options.through, customerId: options.customer }),
      );
      if (options.json) {
        write(`${JSON.stringify(balance, null, 2)}\n`);
      } else {
        write(
          textTable(
            ['currency', 'number', 'account', 'debit', 'credit', 'balance'],
            balance.accounts.map((row) => [row.currency, row.number, row.name, row.debit, row.credit, row.balance]),
            { rightAligned: [3, 4, 5] },
          ),
        );
        for (const total of balance.totals)
          write(
            `\n${total.currency}: debits ${total.debit}, credits ${total.credit}, difference ${total.difference}\n`,
          );
        if (balance.totals.length === 0) write('the journal is empty\n');
      }
      if (!balance.balanced) process.exitCode = 3;
    });

  journal
    .command('entries')
    .description('posted entries and their lines')
    .option('--invoice <id>', 'entries of this invoice')
    .option('--customer <id>', 'entries of this customer')
    .option('--service-period <period>', 'entries serving this period', period)
    .option('--posting-period <period>', 'entries booked in this period', period)
    .option('--json', 'machine-readable output')
    .action(
      async (options: {
        invoice?: string;
        customer?: string;
        servicePeriod?: string;
        postingPeriod?: string;
        json?: boolean;
      }) => {
        const entries = await withDatabase((pool) =>
          loadJournalEntries(pool, {
            invoiceIds: options.invoice === undefined ? undefined : [options.invoice],
            customerId: options.customer,
            servicePeriod: options.servicePeriod,
            postingPeriod: options.postingPeriod,
          }),
        );
        if (options.json) {
          write(`${JSON.stringify(entries, null, 2)}\n`);
          return;
        }
        for (const entry of entries) {
          const periods =
            entry.service_period === entry.posting_period
              ? entry.posting_period
              : `${entry.posting_period} (serves ${entry.service_period})`;
          write(`${entry.entry_key}\n  ${entry.entry_type}, ${periods}, ${entry.currency}: ${entry.memo}\n`);
          write(
            textTable(
              ['', 'account', 'debit', 'credit', 'invoice line'],
              entry.lines.map((line) => ['', line.account, line.debit, line.credit, line.source_line_key ?? '']),
              { rightAligned: [2, 3] },
            ),
          );
        }
        if (entries.length === 0) write('no entries\n');
      },
    );
}

async function readMapping(file: string | undefined): Promise<{ mapping: AccountMapping; file: string | null }> {
  if (file === undefined) return { mapping: chartNumberMapping(), file: null };
  const bytes = await readFile(file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidArgumentError(`${file}: not UTF-8 text`);
  }
  return { mapping: parseAccountMapping(text, file), file };
}

function registerExportCommand(journal: Command): void {
  journal
    .command('export')
    .description(
      'the GL export of a posting period (SPEC §11): one row per posting, mapped to an external chart of accounts; --trial-balance: the balances through the period',
    )
    .requiredOption('--period <period>', 'the posting period YYYY-MM', period)
    .option(
      '--format <format>',
      'csv or json',
      (value: string) => {
        if (value !== 'csv' && value !== 'json') throw new InvalidArgumentError('expected csv or json');
        return value;
      },
      'csv',
    )
    .option(
      '--mapping <file>',
      'CSV "account,external_account": Tally account → your chart (default: Tally\'s account numbers)',
    )
    .option('--trial-balance', 'the trial balance through the period instead of the postings')
    .action(async (options: { period: string; format: 'csv' | 'json'; mapping?: string; trialBalance?: boolean }) => {
      const { mapping, file } = await readMapping(options.mapping);
      await withDatabase(async (pool) => {
        if (options.trialBalance) {
          const balance = await trialBalance(pool, { throughPostingPeriod: options.period });
          // Every account with a balance must be mapped, as in the export.
          assertAccountsMapped(
            balance.accounts.map((row) => row.account),
            mapping,
            file,
          );
          const accounts = balance.accounts.map((row) => ({
            account: row.account,
            external_account: mapping.get(row.account as AccountCode) ?? '',
            name: row.name,
            currency: row.currency,
            debit: row.debit,
            credit: row.credit,
            balance: row.balance,
          }));
          if (options.format === 'json') {
            write(
              `${JSON.stringify({ through: options.period, accounts, totals: balance.totals, balanced: balance.balanced }, null, 2)}\n`,
            );
          } else {
            write('account,external_account,currency,debit,credit,balance\n');
            for (const row of accounts)
              write(
                `${row.account},${row.external_account},${row.currency},${row.debit},${row.credit},${row.balance}\n`,
              );
          }
          if (!balance.balanced) process.exitCode = 3;
          return;
        }
        const rows = glExportRows(await postingsOfPeriod(pool, { postingPeriod: options.period }), mapping, file);
        write(options.format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : glExportCsv(rows));
      });
    });
}

function registerPeriodLockCommands(journal: Command): void {
  journal
    .command('lock')
    .description(
      'lock an accounting period (admin): it takes no more postings; entries dated into it post to the next open period, naming it',
    )
    .requiredOption('--period <period>', 'the accounting period YYYY-MM', period)
    .option('--reason <text>', 'why (recorded in the audit log)', 'month-end close')
    .option('--as <name>', 'act as this console user (password from stdin); default: TALLY_USER_TOKEN')
    .option('--json', 'machine-readable output')
    .action(async (options: { period: string; reason: string; as?: string; json?: boolean }) => {
      await withDatabase(async (pool) => {
        const user = await authenticateCliUser(pool, options.as === undefined ? {} : { as: options.as });
        const { lock, created } = await lockPeriod(pool, user, { period: options.period, reason: options.reason });
        if (options.json) return void write(`${JSON.stringify({ ...lock, created }, null, 2)}\n`);
        write(
          created
            ? `locked ${lock.period} (by ${lock.locked_by}: ${lock.reason})\n`
            : `${lock.period} was already locked at ${lock.locked_at} by ${lock.locked_by}\n`,
        );
      });
    });

  journal
    .command('locks')
    .description('the locked accounting periods')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const locks = await withDatabase((pool) => listAccountingPeriodLocks(pool));
      if (options.json) return void write(`${JSON.stringify(locks, null, 2)}\n`);
      write(
        locks.length === 0
          ? 'no period is locked\n'
          : textTable(
              ['period', 'locked at', 'by', 'reason'],
              locks.map((lock) => [lock.period, lock.locked_at, lock.locked_by, lock.reason]),
            ),
      );
    });
}

export function registerCreditsCommands(program: Command): void {
  const credits = program.command('credits');

  credits
    .command('balances')
    .description('every grant of a customer with what was consumed, expired and remains')
    .requiredOption('--customer <id>', 'the customer')
    .option('--json', 'machine-readable output')
    .action(async (options: { customer: string; json?: boolean }) => {
      const balances = await withDatabase((pool) => creditBalances(pool, options.customer));
      if (options.json) {
        write(`${JSON.stringify(balances, null, 2)}\n`);
        return;
      }
      write(
        balances.length === 0
          ? `no credits for ${options.customer}\n`
          : textTable(
              ['credit', 'kind', 'currency', 'granted', 'expires', 'amount', 'consumed', 'expired', 'remaining'],
              // Each row's amounts in its grant's currency, at least in its minor digits (a sum of 0 is 0.00).
              balances.map((credit) => [
                credit.credit_id,
                credit.kind,
                credit.currency,
                credit.granted_at,
                credit.expires_at ?? 'never',
                displayMoney(credit.amount, credit.currency),
                displayMoney(credit.consumed, credit.currency),
                displayMoney(credit.expired, credit.currency),
                displayMoney(credit.remaining, credit.currency),
              ]),
              { rightAligned: [5, 6, 7, 8] },
            ),
      );
    });

  credits
    .command('usable')
    .description('the credits a period may draw, in drawdown order (SPEC §2 rule 10)')
    .requiredOption('--customer <id>', 'the customer')
    .requiredOption('--period <period>', 'the billing period YYYY-MM', period)
    .option('--json', 'machine-readable output')
    .action(async (options: { customer: string; period: string; json?: boolean }) => {
      const usable = await withDatabase((pool) =>
        usableCredits(pool, { customerId: options.customer, period: options.period }),
      );
      if (options.json) {
        write(`${JSON.stringify(usable, null, 2)}\n`);
        return;
      }
      write(
        usable.length === 0
          ? `no usable credits for ${options.customer} in ${options.period}\n`
          : textTable(
              ['credit', 'kind', 'currency', 'expires', 'opening balance', 'remaining now'],
              usable.map((credit) => [
                credit.credit_id,
                credit.kind,
                credit.currency,
                credit.expires_at ?? 'never',
                displayMoney(credit.opening_balance, credit.currency),
                displayMoney(credit.remaining, credit.currency),
              ]),
              { rightAligned: [4, 5] },
            ),
      );
    });

  credits
    .command('expire')
    .description('record the expiry (and prepaid breakage) of credits expired by an instant; idempotent')
    .requiredOption(
      '--as-of <instant>',
      'expire credits whose expires_at is at or before this instant (no later than the end of the last invoiced period)',
      instant,
    )
    .option('--customer <id>', 'only this customer')
    .option('--json', 'machine-readable output')
    .action(async (options: { asOf: string; customer?: string; json?: boolean }) => {
      const { expiries, currencies } = await withDatabase(async (pool) => {
        const expired = await recordCreditExpiries(pool, { asOf: options.asOf, customerId: options.customer });
        // An expiry record has no currency (its JSON stays as it is): the table reads it from the grant.
        const grants = options.json
          ? []
          : await Promise.all(
              [...new Set(expired.map((expiry) => expiry.customer_id))].map((customerId) =>
                creditBalances(pool, customerId).then((balances) =>
                  balances.map((credit) => [`${customerId}\u0000${credit.credit_id}`, credit.currency] as const),
                ),
              ),
            );
        return { expiries: expired, currencies: new Map(grants.flat()) };
      });
      if (options.json) {
        write(`${JSON.stringify(expiries, null, 2)}\n`);
        return;
      }
      write(
        expiries.length === 0
          ? 'nothing to expire\n'
          : textTable(
              ['customer', 'credit', 'kind', 'currency', 'expired', 'breakage entry'],
              expiries.map((expiry) => {
                const currency = currencies.get(`${expiry.customer_id}\u0000${expiry.credit_id}`);
                return [
                  expiry.customer_id,
                  expiry.credit_id,
                  expiry.kind,
                  currency ?? '',
                  displayMoney(expiry.expired, currency),
                  expiry.journal_entry_key ?? '',
                ];
              }),
              { rightAligned: [4] },
            ),
      );
    });
}
