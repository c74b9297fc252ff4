import type { Command } from 'commander';
import { loadProductSignals, signalsFileFromEnv } from '../config/signals.ts';
import { signalReport } from '../finops/signal-report.ts';
import { AS_OF_HELP, asOfOption } from './as-of-option.ts';
import { printTable, withDatabase } from './services.ts';

/** `tally signals`: each account's early-warning signals and outlook (SPEC §10; docs/decisions/finops.md). */
export function registerSignalsCommands(program: Command): void {
  program
    .command('signals')
    .option('--customer <id>', 'one customer only')
    .option('--as-of <time>', AS_OF_HELP, asOfOption)
    .option('--json', 'machine-readable output')
    .action(async (options: { customer?: string; asOf?: string; json?: boolean }) => {
      const asOf = options.asOf ?? new Date().toISOString();
      const signals = await loadProductSignals(signalsFileFromEnv());
      const accounts = await withDatabase((pool) =>
        signalReport(pool, {
          asOf,
          signals,
          ...(options.customer === undefined ? {} : { customerId: options.customer }),
        }),
      );
      if (options.json) return void process.stdout.write(`${JSON.stringify({ as_of: asOf, accounts }, null, 2)}\n`);
      if (accounts.length === 0)
        return void process.stdout.write(`no early-warning signals as of ${asOf.slice(0, 10)}\n`);
      printTable(
        accounts.flatMap((account) =>
          account.signals.map((signal) => ({
            customer: account.customer_id,
            outlook: account.outlook,
            signal: signal.kind,
            source: signal.source,
            detail: signal.detail,
          })),
        ),
        ['customer', 'outlook', 'signal', 'source', 'detail'],
      );
      process.stdout.write(
        `as of ${asOf}: ${accounts.length} account${accounts.length === 1 ? '' : 's'} with signals; product signals from ${signals.signals.map((signal) => signal.sku).join(', ') || 'none designated'} (the last 7 days against the 21 before); a contraction risk lowers the forecast's p10, an expansion raises its p90 (tally forecast)\n`,
      );
    });
}
