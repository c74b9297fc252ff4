import os from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { durationMs, DurationText } from '../contracts/config-fields.ts';
import { CurrencyCode } from '../contracts/config-fields.ts';
import { listAnomalies, updateAnomaly, type AnomalyRecord } from '../db/queries/anomalies.ts';
import { recordAudit } from '../db/queries/audit-log.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { anomalyKind } from '../domain/anomalies/detector.ts';
import { dayNumber } from '../domain/anomalies/utc-days.ts';
import { describeMoney } from '../domain/money.ts';
import { scanAnomalies } from './anomaly-scan.ts';
import { printTable, withDatabase } from './services.ts';

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

/** `tally anomalies`: the daily anomaly detector of SPEC §10: the offline scan, and what the daily run recorded. */
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
      // A COGS series is money in --currency: each figure names it (never rounded); usage is a quantity.
      const figure = (anomaly: { metric: 'usage' | 'cogs' }, value: string): string =>
        anomaly.metric === 'cogs' ? describeMoney(value, options.currency) : value;
      if (result.anomalies.length > 0)
        printTable(
          result.anomalies.map((anomaly) => ({
            day: anomaly.day,
            metric: anomaly.metric,
            customer: anomaly.customer_id ?? '(all)',
            sku: anomaly.sku,
            kind: anomalyKind(anomaly),
            value: figure(anomaly, anomaly.value),
            expected: figure(anomaly, anomaly.expected),
            range: `${figure(anomaly, anomaly.lower)} – ${figure(anomaly, anomaly.upper)}`,
            score: anomaly.score.toFixed(2),
            severity: anomaly.severity,
          })),
          ['day', 'metric', 'customer', 'sku', 'kind', 'value', 'expected', 'range', 'score', 'severity'],
        );
      process.stdout.write(
        `${result.anomalies.length} anomal${result.anomalies.length === 1 ? 'y' : 'ies'} from ${result.from} to ${result.to} in ${result.series} series (${result.events} events${result.duplicates > 0 ? `, ${result.duplicates} exact repeats counted once` : ''}${options.costs !== undefined ? `; ${result.uncostedEvents} events without a unit cost in ${options.currency}` : ''})\n`,
      );
    });

  anomalies
    .command('list')
    .description('anomalies the daily run recorded, with their alerts (target, attempts, delivered) and what was done')
    .option('--from <day>', 'first day (UTC, YYYY-MM-DD)', day)
    .option('--to <day>', 'last day', day)
    .option('--customer <id>', 'one customer only')
    .option('--sku <sku>', 'one SKU only')
    .option('--status <status>', 'open or acknowledged', status)
    .option('--json', 'machine-readable output')
    .action(
      async (options: {
        from?: string;
        to?: string;
        customer?: string;
        sku?: string;
        status?: 'open' | 'acknowledged';
        json?: boolean;
      }) => {
        const records = await withDatabase((pool) =>
          listAnomalies(pool, {
            ...(options.from === undefined ? {} : { from: options.from }),
            ...(options.to === undefined ? {} : { to: options.to }),
            ...(options.customer === undefined ? {} : { customerId: options.customer }),
            ...(options.sku === undefined ? {} : { sku: options.sku }),
            ...(options.status === undefined ? {} : { status: options.status }),
          }),
        );
        if (options.json) return void process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
        if (records.length === 0) return void process.stdout.write('no anomalies\n');
        printTable(
          records.map((record) => ({
            id: record.anomalyId,
            day: record.day,
            kind: record.kind,
            // A COGS anomaly's figures are money in its recorded currency; usage figures are quantities.
            value: recordedFigure(record, record.value),
            expected: recordedFigure(record, record.expected),
            score: record.score.toFixed(2),
            severity: record.severity,
            status: describeStatus(record),
            alerts:
              record.deliveries.length === 0
                ? record.suppressed !== undefined
                  ? 'suppressed (snoozed)'
                  : '—'
                : record.deliveries
                    .map(
                      (delivery) =>
                        `${delivery.target} ${delivery.deliveredAt !== undefined ? 'sent' : delivery.lastError === 'refused' ? 'refused' : `pending (${delivery.attempts} attempts)`}`,
                    )
                    .join(', '),
            action: [record.action, record.note].filter((text) => text !== undefined).join(': '),
          })),
          ['id', 'day', 'kind', 'value', 'expected', 'score', 'severity', 'status', 'alerts', 'action'],
        );
      },
    );

  anomalies
    .command('ack')
    .description('acknowledge an anomaly (someone is on it)')
    .argument('<id>', 'the anomaly id, as `tally anomalies list` shows it')
    .option('--note <text>', 'a note kept with it')
    .option('--by <name>', 'who (default: the OS user)')
    .action(async (id: string, options: { note?: string; by?: string }) => {
      await changeAnomaly(id, 'anomaly_acknowledged', {
        acknowledge: true,
        ...(options.note === undefined ? {} : { note: options.note }),
        by: options.by ?? os.userInfo().username,
      });
    });

  anomalies
    .command('snooze')
    .description(
      "snooze an anomaly's series: anomalies of the same customer, SKU and metric found for days before then are recorded, not alerted",
    )
    .argument('<id>', 'the anomaly id')
    .requiredOption('--for <duration>', 'how long from now, e.g. 24h or 7d', duration)
    .option('--note <text>', 'why')
    .option('--by <name>', 'who (default: the OS user)')
    .action(async (id: string, options: { for: number; note?: string; by?: string }) => {
      await changeAnomaly(id, 'anomaly_snoozed', {
        snoozedUntil: new Date(Date.now() + options.for).toISOString(),
        ...(options.note === undefined ? {} : { note: options.note }),
        by: options.by ?? os.userInfo().username,
      });
    });

  anomalies
    .command('annotate')
    .description('write down the action taken (throttled, meter hotfixed, workload paused, …)')
    .argument('<id>', 'the anomaly id')
    .requiredOption('--action <text>', 'the action taken')
    .option('--note <text>', 'more words')
    .option('--by <name>', 'who (default: the OS user)')
    .action(async (id: string, options: { action: string; note?: string; by?: string }) => {
      await changeAnomaly(id, 'anomaly_annotated', {
        action: options.action,
        ...(options.note === undefined ? {} : { note: options.note }),
        by: options.by ?? os.userInfo().username,
      });
    });
}

function status(value: string): 'open' | 'acknowledged' {
  if (value !== 'open' && value !== 'acknowledged') throw new InvalidArgumentError('open or acknowledged');
  return value;
}

function duration(value: string): number {
  if (!DurationText.safeParse(value).success) throw new InvalidArgumentError('a duration like 24h or 7d');
  return durationMs(value);
}

/**
 * A recorded anomaly's figure as `list` prints it: a COGS one is money in the currency it was found
 * in (never rounded); one recorded before anomalies kept their currency says so; usage is a quantity.
 */
function recordedFigure(record: AnomalyRecord, value: string): string {
  if (record.metric !== 'cogs') return value;
  return record.currency === null ? `${value} (currency not recorded)` : describeMoney(value, record.currency);
}

function describeStatus(record: AnomalyRecord): string {
  const snoozed =
    record.snoozedUntil !== undefined && Date.parse(record.snoozedUntil) > Date.now()
      ? `, series snoozed until ${record.snoozedUntil}`
      : '';
  return `${record.status}${record.updatedBy === undefined ? '' : ` (${record.updatedBy})`}${snoozed}`;
}

/**
 * Acknowledge, snooze or annotate: the change and an audit entry under the operator (`cli:<name>`, as
 * backfills are recorded); an unknown id is refused.
 */
async function changeAnomaly(
  id: string,
  action: 'anomaly_acknowledged' | 'anomaly_snoozed' | 'anomaly_annotated',
  change: { acknowledge?: boolean; snoozedUntil?: string; action?: string; note?: string; by: string },
): Promise<void> {
  const updated = await withDatabase(async (pool) => {
    const record = await updateAnomaly(pool, id, { ...change, by: `cli:${change.by}` });
    if (record === undefined) return undefined;
    const details: Record<string, string> = {};
    if (change.snoozedUntil !== undefined) details.snoozed_until = change.snoozedUntil;
    if (change.action !== undefined) details.action = change.action;
    if (change.note !== undefined) details.note = change.note;
    await recordAudit(pool, {
      actor: { kind: 'process', name: `cli:${change.by}` },
      action,
      subject: `anomaly:${id}`,
      details,
    });
    return record;
  });
  if (updated === undefined)
    throw new TallyError('unknown_anomaly', `no anomaly ${id} (see tally anomalies list)`, { permanent: true });
  process.stdout.write(
    `${updated.anomalyId}: ${describeStatus(updated)}${updated.action === undefined ? '' : `; action: ${updated.action}`}${updated.note === undefined ? '' : `; note: ${updated.note}`}\n`,
  );
}
