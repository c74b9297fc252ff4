import type pg from 'pg';
import { withTransaction } from '../db/pool.ts';
import {
  insertCreditGrant,
  insertExpiryMovement,
  lockExpiringCredits,
  type CreditExpiry,
  type RecordGrantsResult,
} from '../db/queries/credit-ledger.ts';
import { insertJournalEntries } from '../db/queries/journal.ts';
import { bookInOpenPeriods } from './post-journal.ts';
import { validateCreditGrant, type CreditGrant } from '../domain/credit-ledger/index.ts';
import { prepaidCreditExpiredEntry, prepaidCreditPurchasedEntry } from '../domain/journal/index.ts';

/**
 * The credit ledger's units of work: the rows (db/queries/credit-ledger.ts) and the journal entries
 * the domain computes for them (domain/journal), in one transaction each.
 */

/**
 * Records a contract's credit grants, idempotent by (customer_id, credit_id), in one transaction: the
 * grant, its `grant` movement, and for a prepaid grant the journal entry booking the contract
 * liability at the consideration paid, booked in the open accounting period (a grant dated into a
 * locked period posts in the first open one after it, naming it). A grant already recorded with the same terms is left alone;
 * one whose terms changed is refused (`credit_grant_conflict`).
 */
export async function recordCreditGrants(
  pool: pg.Pool,
  input: { customerId: string; currency: string; grants: readonly CreditGrant[] },
): Promise<RecordGrantsResult> {
  for (const grant of input.grants) validateCreditGrant(grant, input.currency);
  return withTransaction(pool, async (client) => {
    const recorded: string[] = [];
    const existing: string[] = [];
    for (const grant of input.grants) {
      if (!(await insertCreditGrant(client, { customerId: input.customerId, currency: input.currency, grant }))) {
        existing.push(grant.id);
        continue;
      }
      const entry = prepaidCreditPurchasedEntry({ customer_id: input.customerId, currency: input.currency, grant });
      if (entry) await insertJournalEntries(client, await bookInOpenPeriods(client, [entry]));
      recorded.push(grant.id);
    }
    return { recorded, existing };
  });
}

/**
 * Records an `expiry` movement for every credit whose `expires_at` is at or before `asOf` and that
 * has none yet, taking its whole remaining balance, and posts breakage for prepaid grants
 * (Contract liability / Revenue – breakage, moved out of a locked period as the grant's entry is), all
 * in one transaction. Idempotent: a credit expires
 * once. `asOf` is passed in (no clock here) and must not run ahead of invoicing: pass the end of
 * the latest period whose invoice is issued (and whose draws are recorded), so no credit is expired
 * while a period it was usable in can still draw on it. (A draw after expiry is refused anyway.) A
 * held period, or one being re-run, can still draw after later periods issued: credits usable in it
 * are left alone whatever `asOf` says (lockExpiringCredits).
 */
export async function recordCreditExpiries(
  pool: pg.Pool,
  input: { asOf: string; customerId?: string },
): Promise<CreditExpiry[]> {
  return withTransaction(pool, async (client) => {
    const expiries: CreditExpiry[] = [];
    for (const credit of await lockExpiringCredits(client, input)) {
      if (!(await insertExpiryMovement(client, credit.customer_id, credit.credit_id))) continue;
      const grant: CreditGrant = {
        id: credit.credit_id,
        kind: credit.kind,
        amount: credit.amount,
        consideration_paid: credit.consideration_paid,
        granted_at: credit.granted_at,
        expires_at: credit.expires_at,
      };
      const entry = prepaidCreditExpiredEntry({
        customer_id: credit.customer_id,
        currency: credit.currency,
        grant,
        remaining: credit.remaining,
      });
      if (entry) await insertJournalEntries(client, await bookInOpenPeriods(client, [entry]));
      expiries.push({
        customer_id: credit.customer_id,
        credit_id: credit.credit_id,
        kind: credit.kind,
        expired: credit.remaining,
        journal_entry_key: entry?.entry_key ?? null,
      });
    }
    return expiries;
  });
}
