import type { Command } from 'commander';
import type pg from 'pg';
import type { Invoice, IssuedInvoice } from '../contracts/invoice.ts';
import { publishedTerms, PublishedTermsError } from '../terms/index.ts';
import { eventsOfAggregate, lateEventsAdjustedBy, type LineageEvent } from '../db/queries/invoice-lineage.ts';
import {
  findInvoiceByIdOrNumber,
  listInvoices,
  type InvoiceRecord,
  type InvoiceStatus,
} from '../db/queries/invoices.ts';
import { loadSnapshot, summarizeEventSet } from '../db/queries/period-snapshots.ts';
import { billingPeriod } from '../domain/period.ts';
import { aggregatesByPrice, usageAggregationPlan } from '../domain/rating/index.ts';
import { printTable, withDatabase } from './services.ts';
import { TallyError } from '../contracts/tally-error.ts';

export class InvoiceCommandError extends TallyError {
  constructor(message: string) {
    super('invoice_failed', message, { permanent: true });
  }
}

export function registerInvoiceCommands(program: Command): void {
  const invoice = program.command('invoice');

  invoice
    .command('list')
    .description('invoices (live mode) by period and customer')
    .option('--customer <id>')
    .option('--period <YYYY-MM>')
    .option('--status <status>', 'draft | held | issued')
    .option('--json', 'machine-readable output')
    .action(async (options: { customer?: string; period?: string; status?: InvoiceStatus; json?: boolean }) => {
      await withDatabase(async (pool) => {
        const invoices = await listInvoices(pool, {
          ...(options.customer ? { customerId: options.customer } : {}),
          ...(options.period ? { period: options.period } : {}),
          ...(options.status ? { status: options.status } : {}),
        });
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
    });

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
        const lineage = await invoiceLineage(pool, record, Number.parseInt(options.events, 10));
        if (options.json) return void process.stdout.write(`${JSON.stringify(lineage, null, 2)}\n`);
        printInvoice(record);
        printLineage(lineage);
      });
    });
}

interface LineageGroup {
  readonly versionEffectiveFrom: string | null;
  readonly sku: string;
  readonly unit: string;
  readonly metadata: Record<string, string>;
  readonly eventCount: number;
  readonly quantitySum: string;
  readonly events: LineageEvent[];
}

interface InvoiceLineage {
  readonly invoiceId: string;
  readonly fingerprint: {
    readonly recorded: string | undefined;
    readonly recomputed: string;
    readonly eventCount: number;
    readonly matches: boolean;
  };
  readonly ratecardsMatch: boolean;
  readonly lines: readonly {
    lineKey: string;
    kind: string;
    amount: string;
    groups?: LineageGroup[];
    lateEvents?: LineageEvent[];
  }[];
}

/** A line → its aggregates → its events, from the invoice's snapshot and the immutable event history. */
async function invoiceLineage(pool: pg.Pool, record: InvoiceRecord, eventsPerGroup: number): Promise<InvoiceLineage> {
  const snapshot = await loadSnapshot(pool, record.snapshotId);
  if (snapshot === undefined)
    throw new InvoiceCommandError(`snapshot ${record.snapshotId} of ${record.invoiceId} is missing`);
  // The rate-card versions the invoice cites, from the publication log by hash: they must all be there.
  const source = publishedTerms(pool);
  const current = await source.current(record.customerId);
  let terms = current;
  let ratecardsMatch = true;
  try {
    terms = await source.recorded(record.customerId, {
      contractHash: snapshot.contractHash ?? current.contractHash,
      ratecardVersions: record.document.ratecard_versions,
    });
  } catch (error) {
    if (!(error instanceof PublishedTermsError)) throw error;
    ratecardsMatch = false;
  }
  const period = billingPeriod(record.period);
  const plan = usageAggregationPlan(terms.versions, period);
  const byPrice = aggregatesByPrice(snapshot.aggregates, terms.versions);
  const summary = await summarizeEventSet(pool, {
    customerId: record.customerId,
    periodStart: period.start,
    periodEnd: period.end,
  });
  const document = record.document as Partial<IssuedInvoice>;
  const lines = [];
  for (const line of record.document.lines) {
    if (line.kind === 'usage') {
      const groups: LineageGroup[] = [];
      for (const aggregate of byPrice.get(line.price_id) ?? []) {
        const segment = plan.segments.find((candidate) => candidate.effectiveFrom === aggregate.versionEffectiveFrom);
        if (segment === undefined) continue;
        const { events } = await eventsOfAggregate(pool, {
          customerId: record.customerId,
          segmentStart: segment.start,
          segmentEnd: segment.end,
          aggregate,
          groupingKeys: plan.keysBySku.find((entry) => entry.sku === aggregate.sku)?.keys ?? [],
          limit: eventsPerGroup,
        });
        groups.push({ ...aggregate, metadata: { ...aggregate.metadata }, events });
      }
      lines.push({ lineKey: line.line_key, kind: line.kind, amount: line.amount, groups });
    } else if (line.kind === 'adjustment' && line.line_key.startsWith('adjustment:')) {
      lines.push({
        lineKey: line.line_key,
        kind: line.kind,
        amount: line.amount,
        lateEvents: await lateEventsAdjustedBy(pool, record.invoiceId, line.corrects_invoice_id, eventsPerGroup),
      });
    } else {
      lines.push({ lineKey: line.line_key, kind: line.kind, amount: line.amount });
    }
  }
  return {
    invoiceId: record.invoiceId,
    fingerprint: {
      recorded: document.event_fingerprint ?? snapshot.eventFingerprint,
      recomputed: summary.fingerprint,
      eventCount: summary.eventCount,
      matches: (document.event_fingerprint ?? snapshot.eventFingerprint) === summary.fingerprint,
    },
    ratecardsMatch,
    lines,
  };
}

function printLineage(lineage: InvoiceLineage): void {
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
    out(`\n${line.lineKey}  ${line.amount}`);
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
  const document = record.document as Invoice & Partial<IssuedInvoice>;
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`${record.invoiceId}  ${record.status}${document.invoice_number ? `  no. ${document.invoice_number}` : ''}`);
  out(
    `customer ${document.customer_id}, period ${document.period} (${document.period_start} .. ${document.period_end}), ${document.currency}`,
  );
  if (document.issued_at)
    out(
      `issued ${document.issued_at}; events received by ${document.event_cutoff}; event set ${document.event_fingerprint}`,
    );
  out(
    `calculation ${document.calculation_version}; rate cards ${document.ratecard_versions.map((version) => `${version.ratecard}@${version.effective_from} (${version.content_hash.slice(0, 12)})`).join(', ')}`,
  );
  out();
  for (const line of document.lines) {
    const label =
      line.kind === 'usage'
        ? `${line.price_id} ${line.billable_quantity} ${line.unit}`
        : line.kind === 'credit'
          ? line.credit_id
          : line.kind === 'adjustment'
            ? `corrects ${line.corrects_period}: ${line.reason}`
            : 'price_id' in line
              ? line.price_id
              : '';
    out(`  ${line.kind.padEnd(15)} ${label.padEnd(48)} ${line.amount.padStart(14)}`);
    if (line.kind === 'usage') {
      for (const tier of line.tiers)
        out(
          `      tier ${tier.tier}: ${tier.quantity} × ${tier.unit_price}${tier.flat_fee ? ` + ${tier.flat_fee}` : ''} = ${tier.amount}`,
        );
    }
  }
  out(`  ${'subtotal'.padEnd(64)} ${document.subtotal.padStart(14)}`);
  out(`  ${'total'.padEnd(64)} ${document.total.padStart(14)}`);
  for (const unpriced of document.unpriced)
    out(`  unpriced: ${unpriced.sku} (${unpriced.unit}), ${unpriced.event_count} events`);
}
