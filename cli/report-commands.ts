import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { isoWeekDays, weeklyReview, weeklyReviewHtml } from '../finops/weekly-report.ts';
import { withDatabase } from './services.ts';

function week(value: string): string {
  if (isoWeekDays(value) === undefined) throw new InvalidArgumentError('an ISO week like 2026-W41');
  return value;
}

/** `tally report weekly`: the weekly review (SPEC §10) as an HTML file, and a summary on the terminal. */
export function registerReportCommands(program: Command): void {
  const report = program.command('report');
  report
    .command('weekly')
    .description(
      'the weekly review: cohort consumption, commit utilization, margin by SKU, the anomalies and their actions',
    )
    .requiredOption('--week <YYYY-Www>', 'the ISO week (Monday to Sunday, UTC)', week)
    .option('--out <file>', 'where the HTML goes (default: weekly-<week>.html here)')
    .option('--costs <dir>', 'unit costs', 'costs')
    .option('--ratecards <dir>', 'rate cards', 'ratecards')
    .action(async (options: { week: string; out?: string; costs: string; ratecards: string }) => {
      const days = isoWeekDays(options.week) ?? [];
      const review = await withDatabase((pool) =>
        weeklyReview(pool, { week: options.week, days, costsDir: options.costs, ratecardsDir: options.ratecards }),
      );
      const out = path.resolve(options.out ?? `weekly-${options.week}.html`);
      await mkdir(path.dirname(out), { recursive: true });
      await writeFile(out, weeklyReviewHtml(review, new Date().toISOString()));
      const lines = [
        `weekly review ${review.week} (${days[0]} to ${days[6]})`,
        `  cohort consumption: ${review.cohorts.map((cohort) => `${cohort.cohort} ${cohort.total} ${cohort.currency}`).join(', ') || 'no invoiced usage'}`,
        `  commits: ${review.commits.length} contract${review.commits.length === 1 ? '' : 's'}, ${review.commits.filter((entry) => entry.alerts.length > 0).length} with burn alerts`,
        `  margin by SKU (${review.marginPeriod}): ${review.margin.map((row) => `${row.key} ${row.margin_pct ?? '—'} %`).join(', ') || 'no issued invoices'}`,
        `  anomalies: ${review.anomalies.length} (${review.anomalies.filter((anomaly) => anomaly.status === 'acknowledged').length} acknowledged, ${review.anomalies.filter((anomaly) => anomaly.action !== undefined).length} with an action)`,
        `  written to ${out}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
