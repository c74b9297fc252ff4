import type pg from 'pg';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import type { ProviderSyncResult, ProviderTarget } from '../contracts/provider-sync.ts';
import { withTransaction } from '../db/pool.ts';
import {
  findLedgerInvoice,
  insertLedgerInvoice,
  insertLedgerLines,
  type LedgerInvoiceRow,
  type LedgerLineRow,
} from '../db/queries/provider-ledger.ts';
import { insertSyncRecord } from '../db/queries/provider-sync-records.ts';
import { decimal } from '../domain/money.ts';
import type { BillingProvider } from './billing-provider.ts';
import { describeInvoiceLine } from './describe-invoice-line.ts';
import { ProviderError, storageError } from './provider-error.ts';

export interface LedgerProviderOptions {
  readonly pool: pg.Pool;
}

/** The ledger's external ids: derived from Tally's own ids, so every sync of an invoice yields the same. */
function ledgerInvoiceId(invoiceId: string): string {
  return `ledger_inv_${invoiceId}`;
}
function ledgerItemId(invoiceId: string, lineKey: string): string {
  return `ledger_item_${invoiceId}:${lineKey}`;
}

/**
 * The embedded default provider: records each issued invoice and its lines in Postgres
 * (`provider_ledger_invoices`, `provider_ledger_lines`) in one transaction, keyed by invoice id and
 * (invoice id, line_key). A repeated or concurrent sync inserts nothing and returns the same ids;
 * the same invoice id arriving with different content is refused (`provider_invoice_conflict`).
 */
export class LedgerBillingProvider implements BillingProvider {
  readonly kind = 'ledger' as const;

  constructor(private readonly options: LedgerProviderOptions) {}

  async syncInvoice(invoice: IssuedInvoice, target: ProviderTarget): Promise<ProviderSyncResult> {
    if (target.kind !== 'ledger') {
      throw new ProviderError(
        'ledger',
        'provider_not_configured',
        `invoice ${invoice.invoice_id} targets provider ${target.kind}, not the ledger`,
      );
    }
    const externalCustomerId = target.customer ?? invoice.customer_id;
    const invoiceRow = toInvoiceRow(invoice, externalCustomerId);
    const lineRows = toLineRows(invoice);
    try {
      return await withTransaction(this.options.pool, async (client) => {
        // The invoice row and its lines commit together: when the row exists, so do its lines, and
        // a second writer (blocked on the primary key until the first commits) inserts nothing.
        if (await insertLedgerInvoice(client, invoiceRow)) await insertLedgerLines(client, lineRows);
        const stored = await findLedgerInvoice(client, invoice.invoice_id);
        if (stored === undefined)
          throw new Error(`ledger invoice ${invoice.invoice_id} vanished inside its transaction`);
        assertSameInvoice(invoiceRow, lineRows, stored);
        const record = await insertSyncRecord(client, {
          provider: 'ledger',
          invoice_id: invoice.invoice_id,
          external_customer_id: stored.invoice.external_customer_id,
          external_invoice_id: stored.invoice.external_invoice_id,
          status: 'recorded',
          items: Object.fromEntries(stored.lines.map((line) => [line.line_key, line.external_item_id])),
        });
        if (record.external_invoice_id !== stored.invoice.external_invoice_id) {
          throw new ProviderError(
            'ledger',
            'provider_invoice_conflict',
            `invoice ${invoice.invoice_id} has sync record ${record.external_invoice_id}, not ${stored.invoice.external_invoice_id}`,
          );
        }
        return record;
      });
    } catch (error) {
      throw storageError('ledger', error);
    }
  }
}

function toInvoiceRow(invoice: IssuedInvoice, externalCustomerId: string): LedgerInvoiceRow {
  return {
    invoice_id: invoice.invoice_id,
    external_invoice_id: ledgerInvoiceId(invoice.invoice_id),
    external_customer_id: externalCustomerId,
    customer_id: invoice.customer_id,
    invoice_number: invoice.invoice_number,
    period: invoice.period,
    currency: invoice.currency,
    period_start: invoice.period_start,
    period_end: invoice.period_end,
    subtotal: invoice.subtotal,
    total: invoice.total,
    issued_at: invoice.issued_at,
    line_count: invoice.lines.length,
  };
}

function toLineRows(invoice: IssuedInvoice): LedgerLineRow[] {
  const seen = new Set<string>();
  return invoice.lines.map((line, position) => {
    if (seen.has(line.line_key)) {
      throw new ProviderError(
        'ledger',
        'provider_unrepresentable_line',
        `invoice ${invoice.invoice_id} has line_key ${line.line_key} twice`,
      );
    }
    seen.add(line.line_key);
    return {
      invoice_id: invoice.invoice_id,
      line_key: line.line_key,
      external_item_id: ledgerItemId(invoice.invoice_id, line.line_key),
      position,
      kind: line.kind,
      description: describeInvoiceLine(line),
      amount: line.amount,
      line,
    };
  });
}

/**
 * The stored copy must be the invoice being synced: an issued invoice is immutable, so the same
 * id with other money or other lines means something upstream broke, and the ledger keeps the first.
 */
function assertSameInvoice(
  expected: LedgerInvoiceRow,
  expectedLines: readonly LedgerLineRow[],
  stored: { invoice: LedgerInvoiceRow; lines: LedgerLineRow[] },
): void {
  const problems: string[] = [];
  const have = stored.invoice;
  for (const field of ['customer_id', 'currency', 'invoice_number', 'period', 'external_customer_id'] as const) {
    if (have[field] !== expected[field]) problems.push(`${field} is ${have[field]}, not ${expected[field]}`);
  }
  for (const field of ['subtotal', 'total'] as const) {
    if (!decimal(have[field]).equals(decimal(expected[field])))
      problems.push(`${field} is ${have[field]}, not ${expected[field]}`);
  }
  const storedByKey = new Map(stored.lines.map((line) => [line.line_key, line]));
  for (const line of expectedLines) {
    const storedLine = storedByKey.get(line.line_key);
    if (storedLine === undefined) problems.push(`line ${line.line_key} is missing`);
    else if (storedLine.kind !== line.kind || !decimal(storedLine.amount).equals(decimal(line.amount))) {
      problems.push(
        `line ${line.line_key} is ${storedLine.kind} ${storedLine.amount}, not ${line.kind} ${line.amount}`,
      );
    }
  }
  const expectedKeys = new Set(expectedLines.map((line) => line.line_key));
  for (const line of stored.lines)
    if (!expectedKeys.has(line.line_key)) problems.push(`line ${line.line_key} is not on the invoice being synced`);
  if (problems.length > 0) {
    throw new ProviderError(
      'ledger',
      'provider_invoice_conflict',
      `invoice ${expected.invoice_id} is already recorded with different content (an issued invoice never changes): ${problems.join('; ')}`,
    );
  }
}
