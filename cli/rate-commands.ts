import type { Command } from 'commander';
import { formatInvoiceTable } from './invoice-table.ts';
import { rateOffline } from './offline-rating.ts';

interface RateOptions {
  ratecards: string;
  contract: string;
  events: string;
  period: string;
  json?: boolean;
  keys?: string;
}

/**
 * `tally rate`: offline rating of one customer's period from files, no services. Exit status:
 * 0 with the invoice printed (unpriced usage is listed on the invoice and warned about on stderr);
 * non-zero, with every problem listed and nothing rated, when a rate card, the contract or any
 * event line is bad.
 */
export function registerRateCommands(program: Command): void {
  program
    .command('rate')
    .requiredOption('--ratecards <dir>', 'the rate-card root folder (ratecards/<ratecard>/<effective_from>.yaml)')
    .requiredOption('--contract <file>', "the customer's contract (YAML)")
    .requiredOption('--events <file>', 'usage events, JSON Lines; events of other customers are skipped')
    .requiredOption('--period <YYYY-MM>', 'the billing period (a calendar month in UTC)')
    .option('--keys <file>', "JSON file of source signing keys: verify every event's signature")
    .option('--json', 'print the invoice as JSON (SPEC §4)')
    .action(async (options: RateOptions) => {
      const { invoice, otherCustomers } = await rateOffline({
        ratecardsDir: options.ratecards,
        contractFile: options.contract,
        eventsFile: options.events,
        period: options.period,
        ...(options.keys !== undefined ? { keysFile: options.keys } : {}),
      });
      process.stdout.write(
        options.json ? `${JSON.stringify(invoice, null, 2)}\n` : formatInvoiceTable(invoice, { otherCustomers }),
      );
      if (invoice.unpriced.length > 0) {
        const events = invoice.unpriced.reduce((total, entry) => total + entry.event_count, 0);
        process.stderr.write(
          `tally: warning: ${events} event${events === 1 ? '' : 's'} of ${invoice.unpriced.length} sku/unit pair${invoice.unpriced.length === 1 ? '' : 's'} matched no price and ${events === 1 ? 'was' : 'were'} not billed (listed under unpriced)\n`,
        );
      }
    });
}
