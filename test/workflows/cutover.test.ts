import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../contracts/contract.ts';
import { legacyLinesFromInvoice, type LegacyLine } from '../../domain/shadow/index.ts';
import { listBillingAuthorities, rollBackCohort } from '../../shadow/cutover.ts';
import { decideUpdate, statusQuery } from '../../workflows/definitions.ts';
import { legacyLinesToCsv } from '../builders/legacy-lines-csv.ts';
import { offlineInvoice } from '../builders/offline-invoice.ts';
import { demoContract, demoCustomers, generateUsageEvents } from '../builders/usage-events.ts';
import { runTallyAsOperator } from '../cli/run-tally.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

// Cutover by cohort on the real stack: a live close where the legacy biller has the customer's
// billing authority stops after rating (nothing numbered, drawn, synced or journaled), the authority
// a close uses is decided once, and `tally shadow cutover | rollback` flip it, refused when not ready,
// audited.
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('cutover');
});
afterAll(async () => {
  await testbed.close();
});

const OCTOBER = '2026-10';
const NOVEMBER = '2026-11';
const OPERATOR = os.userInfo().username;

function contractFor(customerId: string, overrides: Partial<Contract> = {}): Contract {
  const [customer] = demoCustomers(1, 31);
  return {
    ...demoContract({ ...(customer as NonNullable<typeof customer>), customerId }),
    customer_id: customerId,
    provider: { kind: 'ledger', customer: customerId },
    credits: [{ id: 'promo', kind: 'promotional', amount: '25.00', granted_at: '2026-01-01T00:00:00Z' }],
    ...overrides,
  };
}

async function count(sql: string, values: unknown[]): Promise<number> {
  const { rows } = await testbed.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (${sql}) AS counted`,
    values,
  );
  return rows[0]?.n ?? 0;
}

/** Everything a live invoice leaves behind once issued: a number, credit draws, a sync, a journal. */
async function liveEffects(customerId: string) {
  return {
    numbered: await count(
      `SELECT 1 FROM invoices WHERE customer_id = $1 AND invoice_number IS NOT NULL
       UNION ALL SELECT 1 FROM invoice_number_counters WHERE customer_id = $1`,
      [customerId],
    ),
    creditDraws: await count(`SELECT 1 FROM credit_movements WHERE customer_id = $1 AND kind <> 'grant'`, [customerId]),
    providerCalls: await count(
      `SELECT 1 FROM provider_sync_records r JOIN invoices i USING (invoice_id) WHERE i.customer_id = $1
       UNION ALL SELECT 1 FROM provider_ledger_invoices l JOIN invoices i USING (invoice_id) WHERE i.customer_id = $1`,
      [customerId],
    ),
    journalEntries: await count(
      `SELECT 1 FROM journal_entries j JOIN invoices i USING (invoice_id) WHERE i.customer_id = $1`,
      [customerId],
    ),
  };
}

async function periodFacts(customerId: string, period: string) {
  const { rows } = await testbed.pool.query<{
    status: string;
    invoice_number: string | null;
    outcome: string | null;
    authority: string | null;
    decided_from: string | null;
  }>(
    `SELECT i.status, i.invoice_number, p.outcome, a.authority, a.decided_from
       FROM invoices i
       JOIN customer_periods p ON p.customer_id = i.customer_id AND p.period = i.period
       LEFT JOIN period_billing_authorities a ON a.customer_id = i.customer_id AND a.period = i.period
      WHERE i.invoice_id = $1`,
    [`inv:${customerId}:${period}`],
  );
  return rows[0];
}

describe('a live close under the legacy biller’s authority', () => {
  it('rates and stops: no invoice number, credit draw, provider call or journal entry; the next period does not wait for it', async () => {
    const customerId = 'cut-legacy';
    await testbed.publishContract(contractFor(customerId, { billing_authority: 'legacy' }));
    const [customer] = demoCustomers(1, 31);
    const like = { ...(customer as NonNullable<typeof customer>), customerId };
    await testbed.storeEvents([
      ...generateUsageEvents({ customers: [like], period: OCTOBER, seed: 3, scale: 0.1 }),
      ...generateUsageEvents({ customers: [like], period: NOVEMBER, seed: 4, scale: 0.1 }),
    ]);

    const [october, november] = await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customerId, OCTOBER));
      const result = await handle.result();
      expect(await handle.query(statusQuery)).toMatchObject({ stage: 'legacy' });
      await recordHistory(handle, 'legacy-authority-close');
      const next = await testbed.startPeriod(testbed.periodInput(customerId, NOVEMBER));
      return [result, await next.result()];
    });

    expect(october).toMatchObject({ stage: 'legacy', invoiceId: `inv:${customerId}:${OCTOBER}` });
    expect(october?.invoiceNumber).toBeUndefined();
    expect(october?.total).toMatch(/^\d+\.\d{2}$/);
    expect(november).toMatchObject({ stage: 'legacy' });
    expect(november.invoiceNumber).toBeUndefined();
    expect(await periodFacts(customerId, OCTOBER)).toEqual({
      status: 'legacy',
      invoice_number: null,
      outcome: 'legacy',
      authority: 'legacy',
      decided_from: 'contract',
    });
    expect(await liveEffects(customerId)).toEqual({ numbered: 0, creditDraws: 0, providerCalls: 0, journalEntries: 0 });
    // Final like an issued invoice: the draft left to the legacy biller cannot be changed or removed.
    await expect(
      testbed.pool.query(`UPDATE invoices SET status = 'draft' WHERE invoice_id = $1`, [
        `inv:${customerId}:${OCTOBER}`,
      ]),
    ).rejects.toThrow(/is legacy and immutable/);
    await expect(
      testbed.pool.query(`UPDATE period_billing_authorities SET authority = 'tally' WHERE customer_id = $1`, [
        customerId,
      ]),
    ).rejects.toThrow();
  }, 120_000);

  it('decides once: a rollback while the close waits for review applies to the next period, not this one', async () => {
    const customerId = 'cut-review';
    await testbed.publishContract(contractFor(customerId, { review: { timeout: '72h', total_above: '0.00' } }));
    const { issued, november } = await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customerId, OCTOBER));
      const deadline = Date.now() + 60_000;
      let status = await handle.query(statusQuery);
      while (status.openExceptionId === undefined) {
        if (Date.now() > deadline) throw new Error('the close did not reach review');
        await new Promise((resolve) => setTimeout(resolve, 200));
        status = await handle.query(statusQuery);
      }
      // The close already decided Tally (the default) before review: the flip lands after it.
      const flips = await rollBackCohort(testbed.pool, {
        customerIds: [customerId],
        reason: 'the legacy biller keeps this customer one more month',
        operator: 'test',
      });
      expect(flips).toEqual([{ customerId, from: 'tally', to: 'legacy', changed: true, flipId: expect.any(String) }]);
      await handle.executeUpdate(decideUpdate, {
        args: [{ kind: 'approve', exceptionId: status.openExceptionId, reviewer: 'ops' }],
      });
      const result = await handle.result();
      const next = await testbed.startPeriod(testbed.periodInput(customerId, NOVEMBER));
      return { issued: result, november: await next.result() };
    });
    expect(issued).toMatchObject({ stage: 'completed', invoiceNumber: `${customerId}-0001` });
    expect(await periodFacts(customerId, OCTOBER)).toMatchObject({
      status: 'issued',
      outcome: 'issued',
      authority: 'tally',
      decided_from: 'default',
    });
    expect(november).toMatchObject({ stage: 'legacy' });
    expect(november.invoiceNumber).toBeUndefined();
    expect(await periodFacts(customerId, NOVEMBER)).toMatchObject({
      status: 'legacy',
      authority: 'legacy',
      decided_from: 'flip',
    });
    // One invoice in all: the November period is the legacy biller's.
    expect(await count(`SELECT 1 FROM invoices WHERE customer_id = $1 AND status = 'issued'`, [customerId])).toBe(1);
    const [authority] = await listBillingAuthorities(testbed.pool, [customerId]);
    expect(authority).toMatchObject({
      authority: 'legacy',
      decidedFrom: 'flip',
      lastTallyPeriod: OCTOBER,
      lastLegacyPeriod: NOVEMBER,
    });
  }, 120_000);
});

/** What Tally rates for a contract with no usage in October: the lines an agreeing legacy biller exports. */
async function agreeingLegacyLines(contract: Contract): Promise<LegacyLine[]> {
  return legacyLinesFromInvoice(await offlineInvoice(contract, [], OCTOBER));
}

describe('tally shadow cutover | rollback | authority', () => {
  function tally(...args: string[]) {
    return runTallyAsOperator(testbed, {}, ...args);
  }

  it('refuses a cohort that is not ready (nothing flipped), cuts over a ready one, rolls back, and audits every flip', async () => {
    const ready = contractFor('cut-cli', { billing_authority: 'legacy', credits: [] });
    const differs = contractFor('cut-off', { billing_authority: 'legacy', credits: [] });
    await testbed.publishContract(ready);
    await testbed.publishContract(differs);
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-cutover-'));
    const file = path.join(directory, 'legacy.csv');
    await writeFile(
      file,
      legacyLinesToCsv([
        ...(await agreeingLegacyLines(ready)),
        {
          customer_id: 'cut-off',
          period: OCTOBER,
          price_id: 'platform',
          quantity: undefined,
          amount: '1.00',
          currency: 'USD',
        },
      ]),
    );
    expect((await tally('shadow', 'import', file, '--source', 'cutcli')).status).toBe(0);
    const ran = await testbed.withWorker(() => tally('shadow', 'run', '--source', 'cutcli', '--period', OCTOBER));
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/cut-cli\s+match/);

    const cutover = (customers: string, reason: string) =>
      tally('shadow', 'cutover', '--customers', customers, '--reason', reason, '--source', 'cutcli', '--periods', '1');
    const refused = await cutover('cut-cli,cut-off', 'October agrees');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('cutover refused, nothing flipped: 1 of 2 customers not ready against cutcli');
    expect(refused.stderr).toMatch(/cut-off 2026-10: \w+, variance .*exception not accepted/);
    const unknown = await cutover('cut-nobody', 'typo');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('no contract published for cut-nobody');
    const authorities = async () =>
      JSON.parse((await tally('shadow', 'authority', '--customers', 'cut-cli,cut-off', '--json')).stdout) as {
        customerId: string;
        authority: string;
        decidedFrom: string;
      }[];
    expect(await authorities()).toMatchObject([
      { customerId: 'cut-cli', authority: 'legacy', decidedFrom: 'contract' },
      { customerId: 'cut-off', authority: 'legacy', decidedFrom: 'contract' },
    ]);

    const flipped = await cutover('cut-cli', 'October agrees line by line');
    expect(flipped.status, flipped.stderr).toBe(0);
    expect(flipped.stdout).toMatch(/cut-cli\s+legacy\s+tally\s+flip \d+/);
    const again = await cutover('cut-cli', 'October agrees line by line');
    expect(again.stdout).toMatch(/cut-cli\s+tally\s+tally\s+already tally: unchanged/);
    expect(await authorities()).toMatchObject([
      { customerId: 'cut-cli', authority: 'tally', decidedFrom: 'flip' },
      { customerId: 'cut-off', authority: 'legacy', decidedFrom: 'contract' },
    ]);

    // Tally has the authority: October's live close issues; then the cohort goes back to the legacy
    // biller, and November's close stops after rating, as `tally period status` shows.
    await testbed.withWorker(async () => {
      expect((await tally('period', 'close', 'cut-cli', OCTOBER)).status).toBe(0);
      expect(await testbed.client.workflow.getHandle(`billing:cut-cli:${OCTOBER}`).result()).toMatchObject({
        stage: 'completed',
        invoiceNumber: 'cut-cli-0001',
      });
      const rolledBack = await tally('shadow', 'rollback', '--customers', 'cut-cli', '--reason', 'legacy first');
      expect(rolledBack.status, rolledBack.stderr).toBe(0);
      expect(rolledBack.stdout).toMatch(/cut-cli\s+tally\s+legacy\s+flip \d+/);
      expect((await tally('period', 'close', 'cut-cli', NOVEMBER)).status).toBe(0);
      const november = await testbed.client.workflow.getHandle(`billing:cut-cli:${NOVEMBER}`).result();
      expect(november).toMatchObject({ stage: 'legacy' });
      expect(november).not.toHaveProperty('invoiceNumber');
    });
    const status = await tally('period', 'status', 'cut-cli', NOVEMBER);
    expect(status.stdout).toMatch(/billing:cut-cli:2026-11\s+COMPLETED\s+legacy/);
    const closedAgain = await tally('period', 'close', 'cut-cli', NOVEMBER);
    expect(closedAgain.stdout).toContain('rated while the legacy biller had the billing authority');
    expect(await liveEffects('cut-off')).toEqual({ numbered: 0, creditDraws: 0, providerCalls: 0, journalEntries: 0 });

    const { rows } = await testbed.pool.query<{ actor: string; details: Record<string, unknown> }>(
      `SELECT actor, details FROM audit_log WHERE action = 'cutover_flipped' AND subject = 'customer:cut-cli' ORDER BY seq`,
    );
    expect(rows).toMatchObject([
      {
        actor: `cli:${OPERATOR}`,
        details: {
          command: 'cutover',
          from: 'legacy',
          to: 'tally',
          reason: 'October agrees line by line',
          readiness: { source: 'cutcli', periods: [OCTOBER], runs: [{ period: OCTOBER }] },
        },
      },
      {
        actor: `cli:${OPERATOR}`,
        details: { command: 'rollback', from: 'tally', to: 'legacy', reason: 'legacy first' },
      },
    ]);
    expect(
      await count(`SELECT 1 FROM audit_log WHERE action = 'cutover_flipped' AND subject = 'customer:cut-off'`, []),
    ).toBe(0);
    const verified = await tally('audit', 'verify');
    expect(verified.status, verified.stderr).toBe(0);
  }, 240_000);
});
