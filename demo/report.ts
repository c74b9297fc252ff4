import type pg from 'pg';
import { REJECTION_REASONS, type RejectionReason } from '../contracts/rejection-reason.ts';
import { isIssued, listInvoices, type InvoiceRecord } from '../db/queries/invoices.ts';
import { loadJournalEntries, trialBalance, type TrialBalance } from '../db/queries/journal.ts';
import { listReviewExceptions, type ReviewExceptionRecord } from '../db/queries/review-exceptions.ts';
import { tieOutUsageRevenue, type UsageTieOut } from '../domain/journal/index.ts';
import { Decimal, formatMoney, sumDecimals } from '../domain/money.ts';
import { textTable } from '../views/text-table.ts';

/** What a demo run left in the database (its customers' part of it), read back after the last workflow finished. */
export interface DemoReport {
  readonly invoices: readonly InvoiceRecord[];
  readonly totalsByCurrency: readonly { currency: string; invoices: number; total: string }[];
  /** Issued invoices the ledger sink holds (one provider_sync_records row each). */
  readonly syncedToLedger: number;
  readonly storedEvents: number;
  readonly lateEvents: number;
  readonly exceptions: readonly ReviewExceptionRecord[];
  readonly trialBalance: TrialBalance;
  readonly tieOuts: readonly UsageTieOut[];
}

export async function readDemoReport(
  pool: pg.Pool,
  periods: readonly string[],
  customers: readonly string[],
): Promise<DemoReport> {
  const ours = new Set(customers);
  const invoices = (await listInvoices(pool, { status: 'issued', customerIds: customers }))
    .filter(isIssued)
    .filter((invoice) => periods.includes(invoice.period) && ours.has(invoice.customerId));
  const currencies = [...new Set(invoices.map((invoice) => invoice.document.currency))].sort();
  const totalsByCurrency = currencies.map((currency) => {
    const mine = invoices.filter((invoice) => invoice.document.currency === currency);
    return {
      currency,
      invoices: mine.length,
      total: formatMoney(sumDecimals(mine.map((invoice) => new Decimal(invoice.document.total))), currency),
    };
  });
  const count = async (sql: string, values: unknown[] = []): Promise<number> =>
    Number.parseInt((await pool.query<{ n: string }>(sql, values)).rows[0]?.n ?? '0', 10);

  // The tie-out, per service period and currency: the period's invoices and every later invoice whose
  // adjustment lines correct it, with all their journal entries.
  const tieOuts: UsageTieOut[] = [];
  for (const period of periods) {
    for (const currency of currencies) {
      const relevant = invoices.filter(
        (invoice) =>
          invoice.document.currency === currency &&
          (invoice.period === period ||
            invoice.document.lines.some((line) => line.kind === 'adjustment' && line.corrects_period === period)),
      );
      if (!relevant.some((invoice) => invoice.period === period)) continue;
      const entries = await loadJournalEntries(pool, { invoiceIds: relevant.map((invoice) => invoice.invoiceId) });
      tieOuts.push(tieOutUsageRevenue({ period, invoices: relevant.map((invoice) => invoice.document), entries }));
    }
  }

  return {
    invoices,
    totalsByCurrency,
    syncedToLedger: await count(
      `SELECT count(*) AS n FROM provider_sync_records s JOIN provider_ledger_invoices l USING (invoice_id)
        WHERE s.provider = 'ledger' AND s.invoice_id = ANY($1)`,
      [invoices.map((invoice) => invoice.invoiceId)],
    ),
    storedEvents: await count('SELECT count(*) AS n FROM usage_events WHERE customer_id = ANY($1)', [customers]),
    lateEvents: await count('SELECT count(*) AS n FROM usage_events WHERE late AND customer_id = ANY($1)', [customers]),
    exceptions: (await listReviewExceptions(pool, {})).filter((exception) => ours.has(exception.customerId)),
    trialBalance: await trialBalance(pool),
    tieOuts,
  };
}

export function formatRejected(rejected: Readonly<Partial<Record<RejectionReason, number>>>): string {
  const parts = REJECTION_REASONS.flatMap((reason) =>
    rejected[reason] === undefined ? [] : [`${reason} ${rejected[reason]}`],
  );
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** The invoices as a table: customer, number, period, total (amounts right-aligned). */
export function formatInvoiceList(invoices: readonly InvoiceRecord[]): string {
  return textTable(
    ['customer', 'invoice', 'period', 'total', 'currency', 'lines'],
    invoices.map((invoice) => [
      invoice.customerId,
      invoice.invoiceNumber ?? '',
      invoice.period,
      invoice.document.total,
      invoice.document.currency,
      String(invoice.document.lines.length),
    ]),
    { rightAligned: [3, 5] },
  );
}

/** The adjustment lines of `invoices`: which line of which earlier invoice each corrects, and by how much. */
export function formatAdjustments(
  invoices: readonly (Pick<InvoiceRecord, 'customerId' | 'invoiceNumber'> & {
    readonly document: Pick<InvoiceRecord['document'], 'lines' | 'currency'>;
  })[],
  numberOf: (invoiceId: string) => string | undefined,
): string {
  const rows = invoices.flatMap((invoice) =>
    invoice.document.lines.flatMap((line) =>
      line.kind !== 'adjustment'
        ? []
        : [
            [
              invoice.customerId,
              invoice.invoiceNumber ?? '',
              line.line_key.replace(`adjustment:${line.corrects_period}:`, ''),
              line.amount,
              invoice.document.currency,
              `${numberOf(line.corrects_invoice_id) ?? line.corrects_invoice_id} (${line.corrects_period})`,
            ],
          ],
    ),
  );
  return textTable(['customer', 'invoice', 'adjusts', 'amount', 'currency', 'corrects'], rows, { rightAligned: [3] });
}

export function formatTrialBalance(balance: TrialBalance): string {
  return textTable(
    ['currency', 'debits', 'credits', 'difference'],
    balance.totals.map((total) => [total.currency, total.debit, total.credit, total.difference]),
    { rightAligned: [1, 2, 3] },
  );
}

export function formatTieOuts(tieOuts: readonly UsageTieOut[]): string {
  return textTable(
    ['period', 'currency', 'usage billed', 'usage revenue recognized', 'differences'],
    tieOuts.map((tieOut) => [
      tieOut.period,
      tieOut.currency,
      tieOut.usage_billed,
      tieOut.usage_revenue_recognized,
      String(tieOut.differences.length),
    ]),
    { rightAligned: [2, 3, 4] },
  );
}
