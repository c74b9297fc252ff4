import { InvalidArgumentError, type Command } from 'commander';
import { listUsageAlerts, type UsageAlertRecord } from '../db/queries/usage-alerts.ts';
import { periodNameProblem } from '../domain/period.ts';
import { usedPercent } from '../domain/usage-alerts/index.ts';
import { printTable, withDatabase } from './services.ts';

/** Usage alerts: month-to-date usage against commit or prepaid balance (the billing worker records them). */
export function registerAlertsCommands(program: Command): void {
  const alerts = program.command('alerts');

  alerts
    .command('list')
    .description('recorded usage alerts, oldest period first, with their webhook delivery')
    .option('--customer <id>', 'one customer only')
    .option('--period <YYYY-MM>', 'one period only', period)
    .option('--json', 'machine-readable output')
    .action(async (options: { customer?: string; period?: string; json?: boolean }) => {
      const records = await withDatabase((pool) =>
        listUsageAlerts(pool, {
          ...(options.customer === undefined ? {} : { customerId: options.customer }),
          ...(options.period === undefined ? {} : { period: options.period }),
        }),
      );
      if (options.json) return void process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
      if (records.length === 0) return void process.stdout.write('no usage alerts\n');
      printTable(records.map(alertRow), [
        'customer',
        'period',
        'basis',
        'threshold',
        'used',
        'usage',
        'reference',
        'currency',
        'valuation',
        'crossed',
        'webhook',
      ]);
    });
}

function alertRow(record: UsageAlertRecord): Record<string, string> {
  return {
    customer: record.customerId,
    period: record.period,
    basis: record.basis,
    threshold: `${record.thresholdPct}%`,
    used: `${usedPercent(record.usageValue, record.referenceAmount)}%`,
    usage: record.usageValue,
    reference: record.referenceAmount,
    currency: record.currency,
    valuation: record.valuation,
    crossed: record.crossedAt,
    webhook:
      record.deliveredAt !== undefined
        ? `delivered ${record.deliveredAt}`
        : `pending (${record.deliveryAttempts} attempts${record.lastDeliveryError === undefined ? '' : `; ${record.lastDeliveryError}`})`,
  };
}

function period(value: string): string {
  const problem = periodNameProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}
