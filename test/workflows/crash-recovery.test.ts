import type { ChildProcess } from 'node:child_process';
import type pg from 'pg';
import { ServiceError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../contracts/contract.ts';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import { ADVISORY_LOCKS } from '../../db/advisory-locks.ts';
import { recordCreditGrants } from '../../activities/credit-ledger.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { trialBalance } from '../../db/queries/journal.ts';
import { journalEntriesForInvoice } from '../../domain/journal/index.ts';
import { decideUpdate, statusQuery } from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// kill -9 of a real `tally worker` while each step of the workflow is inside its activity, then a
// new worker: exactly one invoice, one provider invoice, one set of credit draws and journal entries.
// A step is held inside its activity by a lock the test takes on what the step writes, so the kill
// lands in the step every time (no sleeps, no luck).

let testbed: BillingTestbed;
let worker: ChildProcess;
beforeAll(async () => {
  testbed = await BillingTestbed.create('crash');
  worker = await testbed.spawnWorker();
}, 120_000);
afterAll(async () => {
  await testbed.close();
});

const OCTOBER = '2026-10';

interface Step {
  readonly activity: string;
  /** Takes the lock that holds the activity, on a connection of its own. */
  readonly hold: (client: pg.PoolClient, customerId: string) => Promise<void>;
  readonly review?: boolean;
  /**
   * A local activity (docs/decisions/period-close.md): it runs inside a workflow task and is not a
   * pending activity on the server; the lock wait alone shows it is inside the step. After the kill
   * the workflow task times out and the new worker runs the step again.
   */
  readonly local?: boolean;
}

const lockTable = (table: string) => async (client: pg.PoolClient) => {
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`);
};

const STEPS: readonly Step[] = [
  {
    activity: 'snapshotPeriod',
    local: true,
    hold: async (client) =>
      void (await client.query('SELECT pg_advisory_lock_shared($1)', [ADVISORY_LOCKS.INGEST_COMMIT])),
  },
  { activity: 'rateDraftInvoice', local: true, hold: lockTable('invoices') },
  // Which biller invoices the period, decided once: a crash while it is recorded decides it again, the same.
  { activity: 'settleBillingAuthority', local: true, hold: lockTable('period_billing_authorities') },
  { activity: 'openException', hold: lockTable('review_exceptions'), review: true },
  // Grants are recorded before the workflow starts (below), so rating only reads them; a draw locks its grant row.
  {
    activity: 'drawDownCredits',
    local: true,
    hold: async (client, customerId) => {
      await client.query('BEGIN');
      await client.query('SELECT credit_id FROM credit_grants WHERE customer_id = $1 FOR UPDATE', [customerId]);
    },
  },
  { activity: 'issueInvoice', local: true, hold: lockTable('invoice_number_counters') },
  // The contract's provider is the Postgres ledger sink: its sync is a local step too.
  { activity: 'syncInvoice', local: true, hold: lockTable('provider_ledger_invoices') },
  { activity: 'postJournal', local: true, hold: lockTable('journal_entries') },
];

function contractFor(customerId: string, review: boolean): Contract {
  return buildContract({
    customer_id: customerId,
    // October alone: the worker's period opener opens every period a contract is active in, and this
    // test holds one step of October's close, with October the only writer of each table.
    starts_at: '2026-10-01T00:00:00Z',
    ends_at: '2026-11-01T00:00:00Z',
    commit: { amount: '50.00' },
    credits: [
      { id: 'promo', kind: 'promotional', amount: '5.00', granted_at: '2026-09-01T00:00:00Z' },
      { id: 'prepaid', kind: 'prepaid', amount: '20.00', granted_at: '2026-09-01T00:00:00Z' },
    ],
    ...(review ? { review: { total_above: '1.00', timeout: '72h' } } : {}),
    provider: { kind: 'ledger', customer: customerId },
  });
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

describe('kill -9 of the billing worker inside each step', () => {
  for (const step of STEPS) {
    it(`${step.activity}: the restarted worker finishes with every effect exactly once`, async () => {
      const customerId = `crash-${step.activity.toLowerCase()}`;
      const contract = contractFor(customerId, step.review === true);
      await testbed.publishContract(contract);
      // What the rating step records first, done up front: the held step is then the only writer of its table.
      await recordCreditGrants(testbed.pool, { customerId, currency: contract.currency, grants: contract.credits });
      await testbed.storeEvents(
        [1, 2, 3].map((index) =>
          buildUsageEvent({
            customer_id: customerId,
            event_id: `${customerId}-${index}`,
            timestamp: `2026-10-1${index}T08:00:00.000Z`,
            quantity: '300000',
          }),
        ),
      );
      const holder = await testbed.pool.connect();
      let handle;
      try {
        await step.hold(holder, customerId);
        const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        handle = await testbed.startPeriod(testbed.periodInput(customerId, OCTOBER));
        const started = handle;
        // The activity is running and its connection waits on our lock: the kill lands inside the step.
        if (step.local !== true) {
          await waitUntil(`${step.activity} to start`, async () => {
            const { pendingActivities } = await started.describe().then((description) => description.raw);
            return (pendingActivities ?? []).some((activity) => activity.activityType?.name === step.activity);
          });
        }
        await waitUntil(`${step.activity} to wait on the lock`, async () => {
          const { rows } = await testbed.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
            [holderPid],
          );
          return (rows[0]?.n ?? 0) > 0;
        });
        await killHard(worker);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
        holder.release();
      }
      worker = await testbed.spawnWorker();
      if (step.review === true) {
        const exceptionId = await (async () => {
          let id: string | undefined;
          // A query needs a polling worker; the new one may not have polled yet (FAILED_PRECONDITION "no poller seen").
          await waitUntil('the exception', async () => {
            try {
              id = (await handle.query(statusQuery)).openExceptionId;
            } catch (error) {
              if (error instanceof ServiceError && /no poller seen/.test(String(error.cause))) return false;
              throw error;
            }
            return id !== undefined;
          });
          return id as string;
        })();
        await handle.executeUpdate(decideUpdate, { args: [{ kind: 'approve', exceptionId, reviewer: 'ops' }] });
      }
      expect((await handle.result()).stage).toBe('completed');

      const invoiceId = `inv:${customerId}:${OCTOBER}`;
      const invoice = await findInvoice(testbed.pool, invoiceId);
      expect(invoice).toMatchObject({ status: 'issued', invoiceNumber: `${customerId}-0001` });
      const count = async (sql: string) =>
        (await testbed.pool.query<{ n: number }>(sql, [customerId, invoiceId])).rows[0]?.n;
      expect(await count('SELECT count(*)::int AS n FROM invoices WHERE customer_id = $1 AND invoice_id = $2')).toBe(1);
      expect(
        await count("SELECT last_number AS n FROM invoice_number_counters WHERE customer_id = $1 AND $2 <> ''"),
      ).toBe(1);
      expect(
        await count("SELECT count(*)::int AS n FROM provider_ledger_invoices WHERE invoice_id = $2 AND $1 <> ''"),
      ).toBe(1);
      expect(
        await count("SELECT count(*)::int AS n FROM provider_sync_records WHERE invoice_id = $2 AND $1 <> ''"),
      ).toBe(1);
      expect(
        await count(
          "SELECT count(*)::int AS n FROM period_billing_authorities WHERE customer_id = $1 AND invoice_id = $2 AND authority = 'tally'",
        ),
      ).toBe(1);
      const document = invoice?.document as IssuedInvoice;
      const creditLines = document.lines.filter((line) => line.kind === 'credit');
      expect(creditLines.length).toBeGreaterThan(0);
      expect(
        await count(
          "SELECT count(*)::int AS n FROM credit_movements WHERE customer_id = $1 AND invoice_id = $2 AND kind = 'consumption'",
        ),
      ).toBe(creditLines.length);
      const expectedEntries = journalEntriesForInvoice({
        invoice: document,
        policy: { commitPolicy: 'drawdown', commitAmount: '50.00' },
        prepaidCredits: [{ credit_id: 'prepaid', amount: '20.00', consideration_paid: '20.00', consumed_before: '0' }],
      });
      expect(
        await count('SELECT count(*)::int AS n FROM journal_entries WHERE customer_id = $1 AND invoice_id = $2'),
      ).toBe(expectedEntries.length);
      expect((await trialBalance(testbed.pool)).balanced).toBe(true);
    }, 180_000);
  }
});
