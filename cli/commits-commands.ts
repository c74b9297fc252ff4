import type { Command } from 'commander';
import type { CommitBurndown } from '../domain/commits/burndown.ts';
import { commitReport } from '../finops/commit-report.ts';
import { AS_OF_HELP, asOfOption } from './as-of-option.ts';
import { printTable, withDatabase } from './services.ts';

/** The columns `tally commits` prints (the demo prints the same). */
export const COMMIT_COLUMNS = [
  'customer',
  'currency',
  'commit',
  'commit reached',
  'prepaid',
  'burndown date',
  'ramp',
  'alerts',
] as const;

/** One table row per contract, as `tally commits` prints it. */
export function commitRows(report: readonly CommitBurndown[]): Record<(typeof COMMIT_COLUMNS)[number], string>[] {
  return report.map((entry) => ({
    customer: entry.customer_id,
    currency: entry.currency,
    commit:
      entry.commit === undefined
        ? '—'
        : `${entry.commit.consumed} / ${entry.commit.amount} (${entry.commit.utilization_pct}%)`,
    'commit reached':
      entry.commit === undefined
        ? '—'
        : (entry.commit.reached_on ?? `not this period (→ ${entry.commit.projected_at_period_end})`),
    prepaid: entry.prepaid === undefined ? '—' : `${entry.prepaid.remaining} left of ${entry.prepaid.granted}`,
    'burndown date': entry.prepaid === undefined ? '—' : (entry.prepaid.burndown_on ?? 'not burning'),
    ramp:
      entry.ramp.length === 0
        ? '—'
        : entry.ramp
            .slice(-2)
            .map((step) => `${step.period}${step.projected ? '*' : ''} ${step.variance_pct}%`)
            .join(', '),
    alerts: entry.alerts.join(', ') || 'none',
  }));
}

/** `tally commits`: commit utilization, prepaid burndown, ramp variance and burn alerts per contract (SPEC §10). */
export function registerCommitsCommands(program: Command): void {
  program
    .command('commits')
    .option('--customer <id>', 'one customer only')
    .option('--as-of <time>', AS_OF_HELP, asOfOption)
    .option('--json', 'machine-readable output')
    .action(async (options: { customer?: string; asOf?: string; json?: boolean }) => {
      const asOf = options.asOf ?? new Date().toISOString();
      const report = await withDatabase((pool) =>
        commitReport(pool, { asOf, ...(options.customer === undefined ? {} : { customerId: options.customer }) }),
      );
      if (options.json)
        return void process.stdout.write(`${JSON.stringify({ as_of: asOf, contracts: report }, null, 2)}\n`);
      if (report.length === 0) return void process.stdout.write('no contracts with a commit, prepaid credit or ramp\n');
      printTable(commitRows(report), COMMIT_COLUMNS);
      process.stdout.write(
        `as of ${asOf}: this period from the latest month-to-date valuation of the usage-alert loop; prepaid burn from the last 3 closed periods; ramp * = this period projected\n`,
      );
    });
}
