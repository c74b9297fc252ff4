import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordCreditExpiries, recordCreditGrants } from '../../activities/credit-ledger.ts';
import { createPool } from '../../db/pool.ts';
import { loadJournalEntries, trialBalance } from '../../db/queries/journal.ts';
import { lockAccountingPeriod } from '../../db/queries/revenue-recognition.ts';
import { createTestDatabase } from '../harness/test-database.ts';
import type pg from 'pg';

// Prepaid grant and expiry entries dated into a locked accounting period (SPEC §11): booked in the
// first open period after it, their service period still naming the locked one, as the invoice
// journal does. A database of its own: a lock holds for every customer of a database.

let pool: pg.Pool;

beforeAll(async () => {
  pool = createPool(await createTestDatabase('credit_locked_periods'), { max: 2 });
  for (const period of ['2026-09', '2026-10']) {
    await lockAccountingPeriod(pool, { period, lockedBy: 'controller', reason: 'closed' });
  }
});

afterAll(async () => {
  await pool.end();
});

describe('credit ledger entries dated into a locked period', () => {
  it('books the prepaid purchase and its breakage in the first open period, pointing at the locked one, once', async () => {
    const customerId = 'credits-locked';
    const grants = [
      {
        id: 'prepaid-locked',
        kind: 'prepaid' as const,
        amount: '100.00',
        consideration_paid: '90.00',
        granted_at: '2026-09-15T00:00:00Z',
        expires_at: '2026-10-20T00:00:00Z',
      },
    ];
    expect(await recordCreditGrants(pool, { customerId, currency: 'USD', grants })).toEqual({
      recorded: ['prepaid-locked'],
      existing: [],
    });
    // A rerun (the rating step records grants each close) stays a no-op.
    expect(await recordCreditGrants(pool, { customerId, currency: 'USD', grants })).toEqual({
      recorded: [],
      existing: ['prepaid-locked'],
    });
    const expiries = await recordCreditExpiries(pool, { asOf: '2026-11-01T00:00:00Z', customerId });
    expect(expiries.map((expiry) => expiry.expired)).toEqual(['100.00']);

    const entries = await loadJournalEntries(pool, { customerId });
    expect(entries.map((entry) => [entry.entry_type, entry.service_period, entry.posting_period])).toEqual([
      ['prepaid_credit_purchased', '2026-09', '2026-11'],
      ['prepaid_credit_expired', '2026-10', '2026-11'],
    ]);
    for (const entry of entries) expect(entry.memo).toContain(`dated into locked period ${entry.service_period}`);
    expect((await trialBalance(pool, { customerId })).balanced).toBe(true);
  });
});
