import { InvalidArgumentError, type Command } from 'commander';
import { periodNameProblem } from '../domain/period.ts';
import { loadJournalEntries } from '../db/queries/journal.ts';
import { disaggregateRevenue, recognitionDay } from '../domain/revenue/index.ts';
import { parseRevenueEnv } from '../config/revenue.ts';
import {
  accrueDuePeriods,
  recognitionCustomers,
  reconcileAndRecord,
  recognizeCustomerDay,
  revenueScheduleOfPeriod,
  type AccrualOutcome,
  type DayRecognitionOutcome,
} from '../revenue/index.ts';
import { publishedTerms } from '../terms/index.ts';
import { printTable, withDatabase } from './services.ts';

function day(value: string): string {
  try {
    return recognitionDay(value).day;
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

function describeOutcome(outcome: DayRecognitionOutcome): { status: string; entry: string; detail: string } {
  switch (outcome.status) {
    case 'recognized':
      return outcome.entryKey === null
        ? { status: 'unchanged', entry: '', detail: 'nothing new since the day before' }
        : {
            status: 'posted',
            entry: outcome.entryKey,
            detail: `usage revenue ${outcome.usageRevenue} ${outcome.currency}, booked in ${outcome.postingPeriod}`,
          };
    case 'already_recognized':
      return { status: 'already done', entry: '', detail: `recognized through ${outcome.lastDay}` };
    case 'settled':
      return { status: 'settled', entry: '', detail: `invoice ${outcome.invoiceId} recognizes the period` };
    case 'accrued':
      return {
        status: 'accrued',
        entry: '',
        detail: `the period was accrued at month end (${outcome.accruedAt}); later usage trues the accrual up`,
      };
    case 'not_active':
      return { status: 'not active', entry: '', detail: 'the contract does not cover the period' };
  }
}

function describeAccrual(outcome: AccrualOutcome): { status: string; entry: string; detail: string } {
  switch (outcome.status) {
    case 'accrued':
    case 'trued_up':
    case 'unchanged':
      return {
        status:
          outcome.status === 'accrued'
            ? 'accrued'
            : outcome.status === 'trued_up'
              ? 'accrual trued up'
              : 'accrual unchanged',
        entry: outcome.entryKey ?? outcome.reversalKey ?? '',
        detail: `${outcome.period} accrued through period end: ${outcome.accrualPosition} ${outcome.currency} unbilled, reversed in the next period`,
      };
    case 'settled':
      return {
        status: 'settled',
        entry: '',
        detail: `${outcome.period}: invoice ${outcome.invoiceId} recognizes the period`,
      };
    case 'period_locked':
      return { status: 'not accrued', entry: '', detail: `${outcome.period} is locked` };
    case 'not_due':
      return { status: 'not due', entry: '', detail: `${outcome.period} accrues at ${outcome.dueAt}` };
    case 'not_active':
      return { status: 'not active', entry: '', detail: `the contract does not cover ${outcome.period}` };
    case 'not_recognized':
      return { status: 'not accrued', entry: '', detail: `no day of ${outcome.period} was recognized` };
  }
}

export function registerRevenueCommands(program: Command): void {
  const revenue = program.command('revenue');

  revenue
    .command('run')
    .description(
      "recognize one day by hand, as the daily schedule does: each customer's usage to date rated, minus what is already recognized; a rerun posts nothing new",
    )
    .requiredOption('--day <YYYY-MM-DD>', 'the UTC day to recognize (it must be over)', day)
    .option('--customer <id>', 'only this customer')
    .option('--json', 'machine-readable output')
    .action(async (options: { day: string; customer?: string; json?: boolean }) => {
      await withDatabase(async (pool) => {
        const terms = publishedTerms(pool);
        const { customerIds, problems } =
          options.customer === undefined
            ? await recognitionCustomers(pool, { day: options.day })
            : { customerIds: [options.customer], problems: [] };
        const results: { customer: string; status: string; entry: string; detail: string }[] = [];
        const now = new Date().toISOString();
        const { accrualLatencyMs } = parseRevenueEnv();
        for (const [index, customerId] of customerIds.entries()) {
          if (process.stderr.isTTY)
            process.stderr.write(`\rrecognizing ${options.day}: ${index + 1}/${customerIds.length}`);
          try {
            results.push({
              customer: customerId,
              ...describeOutcome(await recognizeCustomerDay({ pool, terms }, { customerId, day: options.day, now })),
            });
            for (const accrual of await accrueDuePeriods(
              { pool, terms },
              { customerId, day: options.day, latencyWindowMs: accrualLatencyMs },
            )) {
              results.push({ customer: customerId, ...describeAccrual(accrual) });
            }
          } catch (error) {
            results.push({
              customer: customerId,
              status: 'failed',
              entry: '',
              detail: error instanceof Error ? error.message : String(error),
            });
          }
        }
        if (process.stderr.isTTY && customerIds.length > 0) process.stderr.write('\n');
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ day: options.day, results, problems }, null, 2)}\n`);
        } else {
          if (results.length === 0) process.stdout.write(`no customer's contract covers ${options.day}\n`);
          else printTable(results, ['customer', 'status', 'entry', 'detail']);
          for (const problem of problems) process.stdout.write(`skipped: ${problem}\n`);
        }
        if (results.some((result) => result.status === 'failed') || problems.length > 0) process.exitCode = 1;
      });
    });

  revenue
    .command('schedule')
    .description(
      'the revenue schedule of a period: per customer and day, usage and subscription revenue recognized, credits relieved, the accrual (Unbilled AR) carried; then the settlement by the invoice',
    )
    .requiredOption('--period <period>', 'the billing period YYYY-MM', (value: string) => {
      const problem = periodNameProblem(value);
      if (problem !== undefined) throw new InvalidArgumentError(problem);
      return value;
    })
    .option('--customer <id>', 'only this customer')
    .option('--json', 'machine-readable output')
    .action(async (options: { period: string; customer?: string; json?: boolean }) => {
      const rows = await withDatabase((pool) =>
        revenueScheduleOfPeriod(pool, {
          period: options.period,
          ...(options.customer === undefined ? {} : { customerId: options.customer }),
        }),
      );
      if (options.json)
        return void process.stdout.write(`${JSON.stringify({ period: options.period, days: rows }, null, 2)}\n`);
      if (rows.length === 0) return void process.stdout.write(`no day of ${options.period} is recognized yet\n`);
      printTable(
        rows.map((row) => ({
          customer: row.customer_id,
          day: row.day,
          row: row.kind,
          currency: row.currency,
          usage: row.usage_revenue,
          subscription: row.subscription_revenue,
          commitment: row.commitment_revenue,
          contra: row.contra_revenue,
          'credits relieved': row.credits_relieved,
          accrual: row.accrual_position,
        })),
        [
          'customer',
          'day',
          'row',
          'currency',
          'usage',
          'subscription',
          'commitment',
          'contra',
          'credits relieved',
          'accrual',
        ],
      );
    });
  revenue
    .command('disaggregate')
    .description(
      'revenue of a period by obligation (usage, subscription, commitment, breakage, contra-revenue), product and customer (ASC 606 disaggregation)',
    )
    .requiredOption('--period <period>', 'the service period YYYY-MM', (value: string) => {
      const problem = periodNameProblem(value);
      if (problem !== undefined) throw new InvalidArgumentError(problem);
      return value;
    })
    .option(
      '--format <format>',
      'table, csv or json',
      (value: string) => {
        if (value !== 'table' && value !== 'csv' && value !== 'json')
          throw new InvalidArgumentError('expected table, csv or json');
        return value;
      },
      'table',
    )
    .action(async (options: { period: string; format: 'table' | 'csv' | 'json' }) => {
      const rows = disaggregateRevenue(
        await withDatabase((pool) => loadJournalEntries(pool, { servicePeriod: options.period })),
      );
      if (options.format === 'json') return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      const columns = [
        'service_period',
        'customer_id',
        'currency',
        'category',
        'account',
        'product',
        'amount',
      ] as const;
      if (options.format === 'csv') {
        const quote = (value: string): string => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
        process.stdout.write(`${columns.join(',')}\n`);
        for (const row of rows) process.stdout.write(`${columns.map((column) => quote(row[column])).join(',')}\n`);
        return;
      }
      if (rows.length === 0) return void process.stdout.write(`no revenue serves ${options.period}\n`);
      printTable(
        rows.map((row) => ({ ...row })),
        columns,
      );
    });
}

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .requiredOption('--period <period>', 'the billing period YYYY-MM', (value: string) => {
      const problem = periodNameProblem(value);
      if (problem !== undefined) throw new InvalidArgumentError(problem);
      return value;
    })
    .option('--json', 'machine-readable output')
    .action(async (options: { period: string; json?: boolean }) => {
      const result = await withDatabase((pool) =>
        reconcileAndRecord({ pool, terms: publishedTerms(pool) }, { period: options.period }),
      );
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        if (result.rows.length === 0) process.stdout.write(`no issued invoice for ${options.period}\n`);
        else
          printTable(
            result.rows.map((row) => ({
              customer: row.customer_id,
              sku: row.sku,
              price: row.price_id,
              currency: row.currency,
              quantity: row.metered_quantity,
              'metered × rate': row.metered,
              invoiced: row.invoiced,
              recognized: row.recognized,
            })),
            ['customer', 'sku', 'price', 'currency', 'quantity', 'metered × rate', 'invoiced', 'recognized'],
          );
        process.stdout.write(
          `\n${options.period}: ${result.differences.length} difference${result.differences.length === 1 ? '' : 's'}` +
            (result.exceptionsOpened > 0 ? ` (${result.exceptionsOpened} new reconciliation exceptions)` : '') +
            '\n',
        );
        for (const difference of result.differences)
          process.stdout.write(`  ${difference.stage} ${difference.reason}: ${difference.detail}\n`);
      }
      if (result.differences.length > 0) process.exitCode = 3;
    });
}
