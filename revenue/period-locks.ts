import type pg from 'pg';
import { auditActorOf, requirePermission, type AuthenticatedUser } from '../access/index.ts';
import { withTransaction } from '../db/pool.ts';
import { appendAuditEntry } from '../db/queries/audit-log.ts';
import { lockAccountingPeriod, type AccountingPeriodLock } from '../db/queries/revenue-recognition.ts';
import { billingPeriod } from '../domain/period.ts';

/**
 * Locks an accounting period (SPEC §11) as an admin: from then on it takes no postings (the database
 * refuses them), and entries dated into it are booked in the next open period, naming it. Recorded
 * in the audit log in the same transaction. Locking a locked period changes nothing.
 */
export async function lockPeriod(
  pool: pg.Pool,
  user: AuthenticatedUser,
  input: { period: string; reason: string },
): Promise<{ lock: AccountingPeriodLock; created: boolean }> {
  requirePermission(user, 'lock_periods', 'lock an accounting period');
  const period = billingPeriod(input.period).name;
  return withTransaction(pool, async (client) => {
    const result = await lockAccountingPeriod(client, {
      period,
      lockedBy: user.username,
      reason: input.reason,
    });
    if (result.created) {
      await appendAuditEntry(client, {
        actor: auditActorOf(user),
        action: 'accounting_period_locked',
        subject: `period:${period}`,
        details: { reason: input.reason },
      });
    }
    return result;
  });
}
