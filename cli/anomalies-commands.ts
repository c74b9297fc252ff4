import { InvalidArgumentError, type Command } from 'commander';
import { CurrencyCode } from '../contracts/config-fields.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { anomalyKind } from '../domain/anomalies/detector.ts';
import { dayNumber } from '../domain/anomalies/utc-days.ts';
import { scanAnomalies } from './anomaly-scan.ts';
import { printTable } from './services.ts';

function day(value: string): string {
  if (dayNumber(value) === undefined) throw new InvalidArgumentError('expected a UTC day, YYYY-MM-DD');
  return value;
}

function currency(value: string): string {
  if (!CurrencyCode.safeParse(value).success) throw new InvalidArgumentError('expected an ISO 4217 code like USD');
  return value;
}

interface ScanOptions {
  events: string;
  costs?: string;
  currency: string;
  from?: string;
  to?: string;
  json?: boolean;
}

/** `tally anomalies`: the daily anomaly detector of SPEC §10 (offline scan). */
export function registerAnomaliesCommands(program: Command): void {
  const anomalies = program.command('anomalies');

  anomalies
    .command('scan')
    .description(
      'run the daily detector offline over an event file: usage per customer × SKU and COGS per SKU against a 28-day weekday baseline',
    )
    .requiredOption('--events <file>', 'usage events, JSON Lines')
    .option('--costs <dir>', 'unit costs (costs/<effective_from>.yaml): also score COGS per SKU')
    .option('--currency <code>', 'the currency COGS is summed in', currency, 'USD')
    .option('--from <day>', 'first day scored (UTC, YYYY-MM-DD; default: the file’s first day)', day)
    .option('--to <day>', 'last day scored (default: the file’s last day)', day)
    .option('--json', 'print the anomalies as a JSON array (SPEC §10 shape)')
    .action(async (options: ScanOptions) => {
      if (options.from !== undefined && options.to !== undefined && options.from > options.to)
        throw new TallyError('invalid_arguments', `--from ${options.from} is after --to ${options.to}`, {
          permanent: true,
        });
      const progress = !options.json && process.stderr.isTTY === true;
      const result = await scanAnomalies({
        eventsFile: options.events,
        currency: options.currency,
        ...(options.costs === undefined ? {} : { costsDir: options.costs }),
        ...(options.from === undefined ? {} : { from: options.from }),
        ...(options.to === undefined ? {} : { to: options.to }),
        ...(progress ? { onProgress: (read: number) => process.stderr.write(`\r  ${read} events read…`) } : {}),
      });
      if (progress) process.stderr.write('\r\u001b[K');
      if (options.json) return void process.stdout.write(`${JSON.stringify(result.anomalies, null, 2)}\n`);
      if (result.anomalies.length > 0)
        printTable(
          result.anomalies.map((anomaly) => ({
            day: anomaly.day,
            metric: anomaly.metric,
            customer: anomaly.customer_id ?? '(all)',
            sku: anomaly.sku,
            kind: anomalyKind(anomaly),
            value: anomaly.value,
            expected: anomaly.expected,
            range: `${anomaly.lower} – ${anomaly.upper}`,
            score: anomaly.score.toFixed(2),
            severity: anomaly.severity,
          })),
          ['day', 'metric', 'customer', 'sku', 'kind', 'value', 'expected', 'range', 'score', 'severity'],
        );
      process.stdout.write(
        `${result.anomalies.length} anomal${result.anomalies.length === 1 ? 'y' : 'ies'} from ${result.from} to ${result.to} in ${result.series} series (${result.events} events${result.duplicates > 0 ? `, ${result.duplicates} exact repeats counted once` : ''}${options.costs !== undefined ? `; ${result.uncostedEvents} events without a unit cost in ${options.currency}` : ''})\n`,
      );
    });
}
