import type pg from 'pg';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import type { JournalEntry } from '../contracts/journal-entry.ts';
import { withTransaction } from '../db/pool.ts';
import {
  insertJournalEntries,
  loadJournalEntries,
  postedEntryKeys,
  prepaidCreditTermsRows,
  type PostJournalResult,
} from '../db/queries/journal.ts';
import {
  lockedAccountingPeriods,
  lockRecognitionPeriod,
  recordRecognitionSettled,
} from '../db/queries/revenue-recognition.ts';
import {
  assertBalanced,
  JournalError,
  journalEntriesForInvoice,
  type JournalPolicy,
  type PrepaidCreditTerms,
} from '../domain/journal/index.ts';
import { Decimal } from '../domain/money.ts';
import {
  RECOGNITION_ENTRY_TYPES,
  recognitionSettlementEntry,
  redirectFromLockedPeriods,
} from '../domain/revenue/index.ts';

/**
 * Posts entries in one transaction (all or none), each checked to balance before it is offered to
 * the ledger. Posting the same entries again is a no-op; a key posted with other content is refused.
 */
export async function postJournalEntries(pool: pg.Pool, entries: readonly JournalEntry[]): Promise<PostJournalResult> {
  for (const entry of entries) assertBalanced(entry);
  return withTransaction(pool, async (client) =>
    insertJournalEntries(client, await bookInOpenPeriods(client, entries)),
  );
}

/**
 * Step 7 of the period workflow for one issued invoice: reads the prepaid terms of the credits it
 * draws from the credit ledger, builds its entries (domain/journal), settles the period's daily
 * recognition (its reversal, so the invoice's entries are what the period keeps) and posts them, in
 * one transaction, booked in the open accounting period. Idempotent: a rerun posts nothing new.
 * Record the invoice's credit consumptions (db/queries/credit-ledger.ts) before or after; the terms
 * read here never depend on them.
 */
export async function postInvoiceJournal(
  pool: pg.Pool,
  input: { invoice: IssuedInvoice; policy: JournalPolicy },
): Promise<PostJournalResult & { entries: JournalEntry[] }> {
  const { invoice } = input;
  return withTransaction(pool, async (client) => {
    const prepaidCredits = await prepaidCreditTermsForInvoice(client, invoice);
    const invoiceEntries = journalEntriesForInvoice({ invoice, policy: input.policy, prepaidCredits });
    // Under the customer-period's recognition lock: no day is recognized while the period settles.
    const recognition = await lockRecognitionPeriod(client, {
      customerId: invoice.customer_id,
      period: invoice.period,
    });
    const settlement =
      recognition.settled_by_invoice_id === null
        ? recognitionSettlementEntry({
            customerId: invoice.customer_id,
            currency: invoice.currency,
            period: invoice.period,
            invoiceId: invoice.invoice_id,
            recognized: await loadJournalEntries(client, {
              customerId: invoice.customer_id,
              servicePeriod: invoice.period,
              entryTypes: [...RECOGNITION_ENTRY_TYPES],
            }),
          })
        : null;
    const offered = [
      ...againstAccrual(invoiceEntries, recognition.accrual_reversal_period),
      ...(settlement === null ? [] : [settlement]),
    ];
    const entries = await bookInOpenPeriods(client, offered);
    const result = await insertJournalEntries(client, entries);
    if (recognition.settled_by_invoice_id === null) {
      await recordRecognitionSettled(client, {
        customerId: invoice.customer_id,
        period: invoice.period,
        invoiceId: invoice.invoice_id,
        entryKey: settlement?.entry_key ?? null,
      });
    }
    return { ...result, entries };
  });
}

/**
 * A period accrued at month end (revenue/month-end-accrual.ts) keeps its accrual; the reversal books
 * in the next period, and the invoice's entries post there, against it (SPEC §11), so the service
 * period across both months holds exactly the invoice. Unaccrued: the entries as built.
 */
function againstAccrual(entries: readonly JournalEntry[], reversalPeriod: string | null): JournalEntry[] {
  if (reversalPeriod === null) return [...entries];
  return entries.map((entry) =>
    entry.posting_period >= reversalPeriod
      ? entry
      : {
          ...entry,
          posting_period: reversalPeriod,
          memo: `${entry.memo} [posted in ${reversalPeriod} against the month-end accrual of ${entry.service_period}]`,
        },
  );
}

/**
 * Entries not yet in the ledger move out of locked accounting periods (SPEC §11); entries already
 * posted are offered as they were booked, so a rerun after a lock stays a no-op.
 */
export async function bookInOpenPeriods(
  client: pg.ClientBase,
  entries: readonly JournalEntry[],
): Promise<JournalEntry[]> {
  const locked = await lockedAccountingPeriods(client);
  if (locked.length === 0) return [...entries];
  const posted = await postedEntryKeys(
    client,
    entries.map((entry) => entry.entry_key),
  );
  const fresh = redirectFromLockedPeriods(
    entries.filter((entry) => !posted.has(entry.entry_key)),
    locked,
  );
  return entries.map((entry) => (posted.has(entry.entry_key) ? entry : (fresh.shift() as JournalEntry)));
}

/**
 * The terms of each prepaid credit an invoice draws on (db/queries/journal.ts reads them), checked:
 * every credit drawn must be a prepaid grant of the invoice's customer in its currency.
 */
async function prepaidCreditTermsForInvoice(
  client: pg.ClientBase,
  invoice: IssuedInvoice,
): Promise<PrepaidCreditTerms[]> {
  const creditIds = invoice.lines.flatMap((line) =>
    line.kind === 'credit' && line.credit_kind === 'prepaid' && !new Decimal(line.amount).isZero()
      ? [line.credit_id]
      : [],
  );
  const rows = await prepaidCreditTermsRows(client, {
    customerId: invoice.customer_id,
    period: invoice.period,
    invoiceId: invoice.invoice_id,
    creditIds,
  });
  for (const creditId of creditIds) {
    const row = rows.find((candidate) => candidate.credit_id === creditId);
    if (!row)
      throw new JournalError(
        'prepaid_credit_terms_missing',
        `invoice ${invoice.invoice_id}: credit ${creditId} is not in the credit ledger for ${invoice.customer_id}`,
      );
    if (row.kind !== 'prepaid' || row.currency !== invoice.currency) {
      throw new JournalError(
        'invalid_prepaid_credit_terms',
        `invoice ${invoice.invoice_id}: credit ${creditId} is a ${row.kind} grant in ${row.currency}, the invoice draws it as prepaid ${invoice.currency}`,
      );
    }
  }
  return rows.map(({ credit_id, amount, consideration_paid, consumed_before }) => ({
    credit_id,
    amount,
    consideration_paid,
    consumed_before,
  }));
}
