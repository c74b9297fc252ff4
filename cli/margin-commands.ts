import { InvalidArgumentError, type Command } from 'commander';
import type { MarginDimension } from '../domain/costs/margin.ts';
import { periodNameProblem } from '../domain/period.ts';
import { marginReport } from '../finops/margin-report.ts';
import { printTable, withDatabase } from './services.ts';

function period(value: string): string {
  const problem = periodNameProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

const SECTIONS: readonly { by: MarginDimension; title: string }[] = [
  { by: 'sku', title: 'By SKU' },
  { by: 'product', title: 'By product' },
  { by: 'customer', title: 'By customer (usage, fees, discounts, commit true-ups, adjustments)' },
  { by: 'total', title: 'Total' },
];

/** `tally margin`: gross margin of the issued invoices of a period (SPEC §10). */
export function registerMarginCommands(program: Command): void {
  program
    .command('margin')
    .requiredOption('--period <YYYY-MM>', 'the billing period', period)
    .option('--costs <dir>', 'unit costs, <effective_from>.yaml versions', 'costs')
    .option('--ratecards <dir>', "rate cards, for the dimensions of each line's price", 'ratecards')
    .option('--json', 'machine-readable output')
    .action(async (options: { period: string; costs: string; ratecards: string; json?: boolean }) => {
      const report = await withDatabase((pool) =>
        marginReport(pool, { period: options.period, costsDir: options.costs, ratecardsDir: options.ratecards }),
      );
      if (options.json) return void process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      if (report.invoices === 0) return void process.stdout.write(`no issued invoices in ${options.period}\n`);
      for (const section of SECTIONS) {
        const rows = report.rows.filter((row) => row.by === section.by);
        process.stdout.write(`\n${section.title}\n`);
        printTable(
          rows.map((row) => ({
            [section.by === 'total' ? 'all' : section.by]: row.key,
            currency: row.currency,
            revenue: row.revenue,
            cogs: row.cogs,
            margin: row.margin,
            'margin %': row.margin_pct ?? '—',
            uncosted: row.uncosted_revenue,
          })),
          [
            section.by === 'total' ? 'all' : section.by,
            'currency',
            'revenue',
            'cogs',
            'margin',
            'margin %',
            'uncosted',
          ],
        );
      }
      process.stdout.write(
        `\n${report.invoices} issued invoice${report.invoices === 1 ? '' : 's'} of ${report.period}; COGS = quantity × the unit cost in force at the period's start; "uncosted": revenue of SKUs with no unit cost in the invoice's currency (not in margin %)\n`,
      );
      if (report.missingRatecards.length > 0)
        process.stderr.write(
          `tally: warning: rate card${report.missingRatecards.length === 1 ? '' : 's'} ${report.missingRatecards.join(', ')} not found under ${options.ratecards}: their lines matched costs without dimensions\n`,
        );
    });
}
