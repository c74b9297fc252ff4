import { InvalidArgumentError, type Command } from 'commander';
import { loadProductSignals, signalsFileFromEnv } from '../config/signals.ts';
import type { TwoStreamForecast } from '../domain/forecast/two-stream.ts';
import { forecastReport } from '../finops/forecast-report.ts';
import { describeMoney, displayMoney } from '../domain/money.ts';
import { recordTable } from '../views/text-table.ts';
import { AS_OF_HELP, asOfOption } from './as-of-option.ts';
import { withDatabase } from './services.ts';

function horizon(value: string): number {
  const match = /^(\d{1,3})d$/.exec(value);
  const days = match === null ? Number.NaN : Number.parseInt(match[1] as string, 10);
  if (!(days >= 1 && days <= 366)) throw new InvalidArgumentError('a number of days like 90d (1-366)');
  return days;
}

/** `tally forecast`: the two-stream revenue forecast with its own backtest (SPEC §10). */
export function registerForecastCommands(program: Command): void {
  program
    .command('forecast')
    .option('--horizon <days>', 'how far ahead, e.g. 90d', horizon, 90)
    .option(
      '--as-of <time>',
      `${AS_OF_HELP}; the forecast starts on its day, the history ends the day before`,
      asOfOption,
    )
    .option('--json', 'machine-readable output')
    .action(async (options: { horizon: number; asOf?: string; json?: boolean }) => {
      const today = (options.asOf ?? new Date().toISOString()).slice(0, 10);
      const signals = await loadProductSignals(signalsFileFromEnv());
      const forecasts = await withDatabase((pool) =>
        forecastReport(pool, { today, horizonDays: options.horizon, signals }),
      );
      if (options.json)
        return void process.stdout.write(
          `${JSON.stringify({ from: today, horizon_days: options.horizon, forecasts }, null, 2)}\n`,
        );
      if (forecasts.length === 0)
        return void process.stdout.write('no issued invoices yet: nothing to forecast from\n');
      process.stdout.write(forecastText(forecasts, { from: today, horizonDays: options.horizon }));
    });
}

/** The forecast as `tally forecast` prints it (the demo prints the same): per currency, its periods, signals, concentration, backtest. */
export function forecastText(
  forecasts: readonly TwoStreamForecast[],
  options: { from: string; horizonDays: number },
): string {
  const lines: string[] = [];
  for (const forecast of forecasts) {
    const { currency } = forecast;
    // One table per currency: the code in each amount column's heading, the figures never rounded.
    const money = (amount: string): string => displayMoney(amount, currency);
    const heading = (column: string): string => `${column} ${currency}`;
    const columns = ['fixed', 'variable p10', 'variable p50', 'variable p90', 'total p10', 'total p50', 'total p90'];
    lines.push('', `${currency}: ${options.horizonDays} days from ${options.from}`);
    lines.push(
      recordTable(
        forecast.periods.map((period) => ({
          period: `${period.period}${period.days < 28 ? ` (${period.days} d)` : ''}`,
          [heading('fixed')]: money(period.fixed),
          [heading('variable p10')]: money(period.variable.p10),
          [heading('variable p50')]: money(period.variable.p50),
          [heading('variable p90')]: money(period.variable.p90),
          [heading('total p10')]: money(period.total.p10),
          [heading('total p50')]: money(period.total.p50),
          [heading('total p90')]: money(period.total.p90),
        })),
        ['period', ...columns.map(heading)],
      ).trimEnd(),
    );
    const moved = forecast.periods.filter((period) => period.signal_effect.accounts > 0);
    if (moved.length > 0)
      lines.push(
        `early-warning signals (tally signals) moved the band: ${moved
          .map(
            (period) =>
              `${period.period} p10 ${describeMoney(period.signal_effect.p10, currency)}, p90 +${describeMoney(period.signal_effect.p90, currency)}`,
          )
          .join('; ')} (${Math.max(...moved.map((period) => period.signal_effect.accounts))} accounts)`,
      );
    const { concentration, backtest } = forecast;
    lines.push(
      `concentration: top 1 account ${concentration.top1} %, top 5 ${concentration.top5} %, top 10 ${concentration.top10} % of the trailing 28 days' revenue (${concentration.accounts} accounts)`,
      `backtest (last ${backtest.held_out_days} days held out): WAPE ${backtest.wape} % (a straight line: ${backtest.straight_line_wape} %), actuals inside p10–p90 on ${backtest.coverage} % of days`,
    );
  }
  return `${lines.join('\n')}\n`;
}
