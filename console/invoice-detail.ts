import type { JournalEntry } from '../contracts/journal-entry.ts';
import {
  adjustmentsPointingAt,
  exceptionsOfInvoice,
  syncRecordsOfInvoice,
  type ExceptionSummary,
  type ProviderSyncSummary,
} from '../db/queries/console-views.ts';
import { findInvoice, type InvoiceRecord } from '../db/queries/invoices.ts';
import { loadJournalEntries } from '../db/queries/journal.ts';
import { invoiceLineage, type InvoiceLineage } from '../views/invoice-lineage.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { periodWorkflowId } from './temporal-links.ts';

export interface InvoiceDetailView {
  readonly invoice: InvoiceRecord;
  readonly workflowId: string;
  /** Line → aggregate groups → events; an error when the terms it needs cannot be read. */
  readonly lineage: InvoiceLineage | { readonly error: string };
  readonly journal: readonly JournalEntry[];
  readonly adjustments: Awaited<ReturnType<typeof adjustmentsPointingAt>>;
  readonly sync: readonly ProviderSyncSummary[];
  readonly exceptions: readonly ExceptionSummary[];
}

/** Everything the invoice page and `GET /api/v1/invoices/:id` show. */
export async function invoiceDetail(
  deps: ConsoleDeps,
  invoiceId: string,
  eventsPerGroup = 20,
): Promise<InvoiceDetailView | undefined> {
  const invoice = await findInvoice(deps.pool, invoiceId);
  if (invoice === undefined) return undefined;
  const [lineage, journal, adjustments, sync, exceptions] = await Promise.all([
    invoiceLineage(deps.pool, invoice, eventsPerGroup, deps.loadRateCardVersions).catch((error: unknown) => ({
      error: `lineage unavailable: ${error instanceof Error ? error.message : String(error)}`,
    })),
    loadJournalEntries(deps.pool, { invoiceIds: [invoiceId] }),
    adjustmentsPointingAt(deps.pool, invoice),
    syncRecordsOfInvoice(deps.pool, invoiceId),
    exceptionsOfInvoice(deps.pool, invoiceId),
  ]);
  return {
    invoice,
    workflowId: periodWorkflowId(invoice.customerId, invoice.period),
    lineage,
    journal,
    adjustments,
    sync,
    exceptions,
  };
}
