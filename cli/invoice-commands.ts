import { InvalidArgumentError, type Command } from 'commander';
import {
  findInvoiceByIdOrNumber,
  listInvoices,
  type InvoiceRecord,
  type InvoiceStatus,
} from '../db/queries/invoices.ts';
import { invoiceLineage, type InvoiceLineage } from '../views/invoice-lineage.ts';
import { publishedRateCardVersions } from '../views/ratecard-versions.ts';
import { describeMoney } from '../domain/money.ts';
import { formatInvoiceTable } from './invoice-table.ts';
import { printTable, withDatabase } from './services.ts';
import { TallyError } from '../contracts/tally-error.ts';

export class InvoiceCommandError extends TallyError {
  constructor(message: string) {
    super('invoice_failed', message, { permanent: true });
  }
}

function positiveInteger(value: string): number {
  if (!/^[1-9]\d{0,6}$/.test(value)) throw new InvalidArgumentError('a whole number from 1 to 9999999');
  return Number.parseInt(value, 10);
}

export function registerInvoiceCommands(program: Command): void {
  const invoice = program.command('invoice');

  invoice
    .command('list')
    .description('invoices (live mode) by period and customer')
    .option('--customer <id>')
    .option('--period <YYYY-MM>')
    .option(
      '--status <status>',
      'draft | held | issued | skipped | voided (a held draft a re-run replaced) | legacy (rated while the legacy biller had the authority)',
    )
    .option('--limit <n>', 'at most this many (by period, then customer)', positiveInteger, 500)
    .option('--json', 'machine-readable output')
    .action(
      async (options: {
        customer?: string;
        period?: string;
        status?: InvoiceStatus;
        limit: number;
        json?: boolean;
      }) => {
        await withDatabase(async (pool) => {
          const found = await listInvoices(
            pool,
            {
              ...(options.customer ? { customerId: options.customer } : {}),
              ...(options.period ? { period: options.period } : {}),
              ...(options.status ? { status: options.status } : {}),
            },
            options.limit + 1,
          );
          const invoices = found.slice(0, options.limit);
          // Never a silently cut list: say that more match, on stderr so --json stays the SPEC shape.
          if (found.length > options.limit)
            process.stderr.write(
              `showing the first ${options.limit} invoices (by period, then customer); more match: narrow with --customer, --period or --status, or raise --limit\n`,
            );
          if (options.json)
            return void process.stdout.write(
              `${JSON.stringify(
                invoices.map((record) => record.document),
                null,
                2,
              )}\n`,
            );
          printTable(
            invoices.map((record) => ({
              invoice: record.invoiceId,
              number: record.invoiceNumber ?? '-',
              customer: record.customerId,
              period: record.period,
              status: record.status,
              currency: record.document.currency,
              total: record.document.total,
            })),
            ['invoice', 'number', 'customer', 'period', 'status', 'currency', 'total'],
          );
        });
      },
    );

  invoice
    .command('show <invoice>')
    .description('one invoice, by id or number (SPEC §4 shape with --json); --lineage traces each line to its events')
    .option('--json', 'machine-readable output')
    .option(
      '--lineage',
      'each usage line → its aggregate groups → its events; adjustments → the late events; re-checks the event fingerprint',
    )
    .option('--events <n>', 'events listed per group with --lineage', '5')
    .action(async (invoiceId: string, options: { json?: boolean; lineage?: boolean; events: string }) => {
      await withDatabase(async (pool) => {
        const record = await findInvoiceByIdOrNumber(pool, invoiceId);
        if (record === undefined) throw new InvoiceCommandError(`no invoice ${invoiceId} (see tally invoice list)`);
        if (options.json && !options.lineage)
          return void process.stdout.write(`${JSON.stringify(record.document, null, 2)}\n`);
        if (!options.lineage) return void printInvoice(record);
        const loadVersions = publishedRateCardVersions(pool);
        const lineage = await invoiceLineage(pool, record, Number.parseInt(options.events, 10), loadVersions);
        if (options.json) return void process.stdout.write(`${JSON.stringify(lineage, null, 2)}\n`);
        printInvoice(record);
        printLineage(lineage, record.document.currency);
      });
    });
}

/** The lineage under the invoice; each traced line's amount in the invoice's currency. */
function printLineage(lineage: InvoiceLineage, currency: string): void {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out();
  out(
    `event set: ${lineage.fingerprint.eventCount} events; fingerprint ${lineage.fingerprint.matches ? 'matches the stored events' : `DIFFERS (recorded ${lineage.fingerprint.recorded ?? '?'}, now ${lineage.fingerprint.recomputed})`}`,
  );
  if (!lineage.ratecardsMatch)
    out(
      'warning: the rate-card files on disk differ from the versions this invoice cites; groups are matched with the files on disk',
    );
  for (const line of lineage.lines) {
    if (line.groups === undefined && line.lateEvents === undefined) continue;
    out(`\n${line.lineKey}  ${describeMoney(line.amount, currency)}`);
    if (line.backfillId !== undefined)
      out(`  written by backfill ${line.backfillId} (tally backfill show ${line.backfillId})`);
    for (const correction of line.corrections ?? [])
      out(
        `  correction #${correction.correctionSeq} ${correction.action} ${correction.source}:${correction.eventId} by ${correction.amendedBy} at ${correction.amendedAt}: ${correction.reason} (${correction.reflected ? 'reflected in this invoice' : 'after this invoice: billed by the next backfill'})`,
      );
    for (const group of line.groups ?? []) {
      out(
        `  group ${group.sku} ${group.unit} ${JSON.stringify(group.metadata)} version ${group.versionEffectiveFrom ?? 'none'}: ${group.eventCount} events, quantity ${group.quantitySum}`,
      );
      for (const event of group.events)
        out(`    ${event.source}:${event.eventId}  ${event.eventTime}  ${event.quantity}`);
      if (group.eventCount > group.events.length) out(`    … ${group.eventCount - group.events.length} more`);
    }
    for (const event of line.lateEvents ?? [])
      out(
        `  late ${event.source}:${event.eventId}  ${event.eventTime} received ${event.receivedAt}  ${event.quantity}`,
      );
  }
}

function printInvoice(record: InvoiceRecord): void {
  const heading =
    record.status === 'issued'
      ? [
          `Invoice ${record.invoiceId}: issued, no. ${record.invoiceNumber}`,
          `Issued ${record.issuedAt}; events received by ${record.document.event_cutoff}; event set ${record.document.event_fingerprint}`,
        ]
      : [`Invoice ${record.invoiceId}: ${record.status}${record.heldReason ? ` (${record.heldReason})` : ''}`];
  process.stdout.write(formatInvoiceTable(record.document, { heading }));
}
