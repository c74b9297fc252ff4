import type { Command } from 'commander';
import type { Invoice, IssuedInvoice } from '../contracts/invoice.ts';
import { createPool } from '../db/pool.ts';
import { findInvoice, listInvoices, type InvoiceRecord, type InvoiceStatus } from '../db/queries/invoices.ts';
import { ensureServices, printTable } from './services.ts';

export class InvoiceCommandError extends Error {
  readonly code = 'invoice_failed';
}

export function registerInvoiceCommands(program: Command): void {
  const invoice = program.command('invoice').description('invoices, down to the events behind a line');

  invoice.command('list').description('invoices (live mode) by period and customer')
    .option('--customer <id>').option('--period <YYYY-MM>').option('--status <status>', 'draft | held | issued')
    .option('--json', 'machine-readable output')
    .action(async (options: { customer?: string; period?: string; status?: InvoiceStatus; json?: boolean }) => {
      await withPool(async (pool) => {
        const invoices = await listInvoices(pool, {
          ...(options.customer ? { customerId: options.customer } : {}), ...(options.period ? { period: options.period } : {}),
          ...(options.status ? { status: options.status } : {}),
        });
        if (options.json) return void process.stdout.write(`${JSON.stringify(invoices.map((record) => record.document), null, 2)}\n`);
        printTable(invoices.map((record) => ({
          invoice: record.invoiceId, number: record.invoiceNumber ?? '-', customer: record.customerId, period: record.period,
          status: record.status, currency: record.document.currency, total: record.document.total,
        })), ['invoice', 'number', 'customer', 'period', 'status', 'currency', 'total']);
      });
    });

  invoice.command('show <invoice>').description('one invoice (SPEC §4 shape with --json)')
    .option('--json', 'machine-readable output')
    .action(async (invoiceId: string, options: { json?: boolean }) => {
      await withPool(async (pool) => {
        const record = await findInvoice(pool, invoiceId);
        if (record === undefined) throw new InvoiceCommandError(`no invoice ${invoiceId} (see tally invoice list)`);
        if (options.json) return void process.stdout.write(`${JSON.stringify(record.document, null, 2)}\n`);
        printInvoice(record);
      });
    });
}

async function withPool(work: (pool: ReturnType<typeof createPool>) => Promise<void>): Promise<void> {
  const { endpoints } = await ensureServices();
  const pool = createPool(endpoints.databaseUrl, { max: 2 });
  try {
    await work(pool);
  } finally {
    await pool.end();
  }
}

function printInvoice(record: InvoiceRecord): void {
  const document = record.document as Invoice & Partial<IssuedInvoice>;
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`${record.invoiceId}  ${record.status}${document.invoice_number ? `  no. ${document.invoice_number}` : ''}`);
  out(`customer ${document.customer_id}, period ${document.period} (${document.period_start} .. ${document.period_end}), ${document.currency}`);
  if (document.issued_at) out(`issued ${document.issued_at}; events received by ${document.event_cutoff}; event set ${document.event_fingerprint}`);
  out(`calculation ${document.calculation_version}; rate cards ${document.ratecard_versions.map((version) => `${version.ratecard}@${version.effective_from} (${version.content_hash.slice(0, 12)})`).join(', ')}`);
  out();
  for (const line of document.lines) {
    const label = line.kind === 'usage' ? `${line.price_id} ${line.billable_quantity} ${line.unit}` : line.kind === 'credit' ? line.credit_id
      : line.kind === 'adjustment' ? `corrects ${line.corrects_period}: ${line.reason}` : 'price_id' in line ? line.price_id : '';
    out(`  ${line.kind.padEnd(15)} ${label.padEnd(48)} ${line.amount.padStart(14)}`);
    if (line.kind === 'usage') {
      for (const tier of line.tiers) out(`      tier ${tier.tier}: ${tier.quantity} × ${tier.unit_price}${tier.flat_fee ? ` + ${tier.flat_fee}` : ''} = ${tier.amount}`);
    }
  }
  out(`  ${'subtotal'.padEnd(64)} ${document.subtotal.padStart(14)}`);
  out(`  ${'total'.padEnd(64)} ${document.total.padStart(14)}`);
  for (const unpriced of document.unpriced) out(`  unpriced: ${unpriced.sku} (${unpriced.unit}), ${unpriced.event_count} events`);
}
