import { InvalidArgumentError, type Command } from 'commander';
import { publishedTerms } from '../terms/index.ts';
import type pg from 'pg';
import {
  createMarketplaceActivities,
  publishedMarketplaceCustomers,
  marketplaceExport,
  marketplaceStatus,
  type ExportRow,
} from '../activities/index.ts';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import {
  marketplaceAdapterOptions,
  marketplaceSettings,
  parseMarketplaceEnv,
  type MarketplaceConfig,
} from '../config/marketplace.ts';
import type { ServiceEndpoints } from '../config/services.ts';
import { PERIOD_PATTERN } from '../domain/period.ts';
import { createMarketplaceAdapters } from '../providers/marketplaces/index.ts';
import { MARKETPLACE_KINDS, type MarketplacePassSummary } from '../workflows/marketplace-definitions.ts';
import { connectTemporal, printTable, withDatabase } from './services.ts';

function period(value: string): string {
  if (!PERIOD_PATTERN.test(value)) throw new InvalidArgumentError('expected a period YYYY-MM');
  return value;
}

function instant(value: string): string {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(ms))
    throw new InvalidArgumentError('expected an RFC 3339 instant, e.g. 2026-10-14T12:10:00Z');
  return new Date(ms).toISOString();
}

/** What the commands read: the published terms, the marketplace settings (config/marketplace.ts). */
function dependencies(pool: pg.Pool, config: MarketplaceConfig) {
  const worker = parseBillingWorkerEnv();
  const terms = publishedTerms(pool);
  return {
    pool,
    listMarketplaceCustomers: publishedMarketplaceCustomers(pool),
    loadTerms: (customerId: string) => terms.current(customerId),
    settings: marketplaceSettings(config),
    taskQueue: worker.taskQueue,
  };
}

const EXPORT_COLUMNS = [
  'customer_id',
  'marketplace',
  'dimension',
  'hour',
  'part',
  'record_key',
  'unit_size',
  'hour_quantity',
  'late_quantity',
  'carry_in',
  'carry_out',
  'sent_quantity',
  'status',
  'reason',
  'record',
] as const;

function exportCells(row: ExportRow): Record<(typeof EXPORT_COLUMNS)[number], string> {
  return {
    customer_id: row.customerId,
    marketplace: row.marketplace,
    dimension: row.dimension,
    hour: row.hour,
    part: row.part,
    record_key: row.recordKey,
    unit_size: row.unitSize,
    hour_quantity: row.hourQuantity,
    late_quantity: row.lateQuantity,
    carry_in: row.carryIn,
    carry_out: row.carryOut,
    sent_quantity: row.sentQuantity,
    status: row.status,
    reason: row.reason ?? '',
    record: row.record === null ? '' : JSON.stringify(row.record),
  };
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Marketplace metering (SPEC §12): what was (or would be) reported, sending now, and where each record stands. */
export function registerMarketplaceCommands(program: Command): void {
  const marketplace = program.command('marketplace');

  marketplace
    .command('export')
    .description(
      "a period's hourly records per customer and dimension, as sent or (hours not sealed yet) as they would be sent, with status",
    )
    .requiredOption('--period <YYYY-MM>', 'the billing period', period)
    .option('--customer <id>', 'one customer only')
    .option('--as-of <instant>', 'preview unsealed hours as of this instant (default: now)', instant)
    .option('--json', 'JSON: one object per record, the record in the marketplace’s own shape')
    .option('--csv', 'CSV with a header line')
    .action(async (options: { period: string; customer?: string; asOf?: string; json?: boolean; csv?: boolean }) => {
      if (options.json && options.csv) throw new InvalidArgumentError('--json and --csv: pick one');
      const config = parseMarketplaceEnv();
      await withDatabase(async (pool) => {
        const rows = await marketplaceExport(dependencies(pool, config), {
          period: options.period,
          ...(options.customer === undefined ? {} : { customerId: options.customer }),
          asOf: options.asOf ?? new Date().toISOString(),
        });
        if (options.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        if (options.csv) {
          process.stdout.write(`${EXPORT_COLUMNS.join(',')}\n`);
          for (const row of rows) {
            const cells = exportCells(row);
            process.stdout.write(`${EXPORT_COLUMNS.map((column) => csvField(cells[column])).join(',')}\n`);
          }
          return;
        }
        if (rows.length === 0) return void process.stdout.write(`no marketplace records in ${options.period}\n`);
        printTable(
          rows.map((row) => {
            const cells = exportCells(row);
            return { ...cells, hour: row.hour.slice(0, 13).replace('T', ' ') };
          }),
          [
            'customer_id',
            'marketplace',
            'dimension',
            'hour',
            'part',
            'hour_quantity',
            'late_quantity',
            'carry_out',
            'sent_quantity',
            'status',
          ],
        );
      });
    });

  marketplace
    .command('submit')
    .description(
      'seal the hours that are due and send every due record now (what the hourly schedule does), then check windows',
    )
    .option('--as-of <instant>', 'work as of this instant (default: now)', instant)
    .option('--json', 'machine-readable output')
    .action(async (options: { asOf?: string; json?: boolean }) => {
      const config = parseMarketplaceEnv();
      const asOf = options.asOf ?? new Date().toISOString();
      const progress = (line: string): void => {
        if (!options.json && process.stderr.isTTY) process.stderr.write(`${line}\n`);
      };
      await withDatabase(
        async (pool, endpoints) => {
          const deps = dependencies(pool, config);
          const temporal = await connectOptionalTemporal(endpoints);
          try {
            const activities = createMarketplaceActivities({
              ...deps,
              adapters: createMarketplaceAdapters(marketplaceAdapterOptions(config)),
              ...(temporal === undefined ? {} : { temporal: { client: temporal.client, taskQueue: deps.taskQueue } }),
            });
            progress(`sealing hours due as of ${asOf}…`);
            const seal = await activities.sealMarketplaceHours({ asOf });
            progress(`sealed ${seal.sealed} buckets; sending…`);
            const sent: MarketplacePassSummary[] = [];
            const failures = [...seal.problems];
            for (const kind of MARKETPLACE_KINDS) {
              try {
                sent.push(await activities.sendMarketplaceRecords({ asOf, marketplace: kind }));
                progress(`  ${kind}: done`);
              } catch (error) {
                failures.push(`${kind}: ${error instanceof Error ? error.message : String(error)}`);
              }
            }
            const check = await activities.checkMarketplaceWindows({ asOf });
            const workflows = await activities.startMarketplaceExceptionWorkflows();
            if (temporal === undefined)
              failures.push('Temporal unreachable: exceptions wait for their workflow until the next scheduled run');
            const summary = {
              asOf,
              sealed: seal.sealed,
              overReports: seal.overReportExceptionIds.length,
              sent,
              atRisk: check.atRisk,
              exceptionWorkflows: workflows.started,
              failures,
            };
            if (options.json) return void process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
            process.stdout.write(
              `as of ${asOf}: sealed ${seal.sealed} buckets, ${summary.overReports} over-reports, ${check.atRisk} records past half of their window\n`,
            );
            printTable(
              sent.map(({ exceptionIds, ...pass }) => ({ ...pass, exceptions: exceptionIds.length })),
              [
                'marketplace',
                'status',
                'calls',
                'accepted',
                'duplicate',
                'rejected',
                'expired',
                'unknown',
                'pending',
                'exceptions',
              ],
            );
            for (const failure of failures) process.stdout.write(`! ${failure}\n`);
            if (failures.length > 0) process.exitCode = 1;
          } finally {
            await temporal?.close();
          }
        },
        ['postgres', 'temporal'],
      );
    });

  marketplace
    .command('status')
    .description(
      'per customer and hour: records sent, accepted, rejected, pending; per dimension: parity of what was sent against the rated usage',
    )
    .requiredOption('--period <YYYY-MM>', 'the billing period', period)
    .option('--customer <id>', 'one customer only')
    .option('--json', 'machine-readable output')
    .action(async (options: { period: string; customer?: string; json?: boolean }) => {
      const config = parseMarketplaceEnv();
      await withDatabase(async (pool) => {
        const status = await marketplaceStatus(dependencies(pool, config), {
          period: options.period,
          ...(options.customer === undefined ? {} : { customerId: options.customer }),
          asOf: new Date().toISOString(),
        });
        if (options.json) return void process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        if (status.hours.length === 0) process.stdout.write(`no marketplace records in ${options.period}\n`);
        else
          printTable(
            status.hours.map((row) => ({ ...row, hour: row.hour.slice(0, 13).replace('T', ' ') })),
            ['customerId', 'marketplace', 'hour', 'records', 'sent', 'accepted', 'rejected', 'pending', 'omitted'],
          );
        if (status.parity.length > 0) {
          process.stdout.write(
            `\nparity (listing units; rated = sent + carried + awaiting + over-reported + late out − late in):\n`,
          );
          printTable(
            status.parity.map((row) => ({ ...row, balanced: row.balanced ? 'yes' : 'NO' })),
            [
              'customerId',
              'dimension',
              'rated',
              'sent',
              'accepted',
              'pending',
              'failed',
              'carried',
              'awaiting',
              'overReported',
              'lateIn',
              'lateOut',
              'gap',
              'balanced',
            ],
          );
        }
        for (const problem of status.problems) process.stdout.write(`! ${problem}\n`);
        if (status.parity.some((row) => !row.balanced)) process.exitCode = 3;
      });
    });
}

/** A Temporal client, or undefined when the cluster cannot be reached (submit still reports). */
async function connectOptionalTemporal(endpoints: ServiceEndpoints) {
  try {
    return await connectTemporal(endpoints);
  } catch {
    return undefined;
  }
}
