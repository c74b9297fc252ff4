import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCorrection } from '../../contracts/event-correction.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { buildContract } from '../builders/rating.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { buildUsageEvent, TEST_SOURCE_KEYS } from '../builders/usage-event.ts';
import { runTallyAsOperator } from './run-tally.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// An engineer's backfill through the `tally` command: amend an event, plan, run, watch, audit.
let testbed: BillingTestbed;
let files: RateCardFiles;
let folder: string;
beforeAll(async () => {
  files = await RateCardFiles.create();
  testbed = await BillingTestbed.create('backfill_cli', { ratecardsDir: files.root });
  folder = await mkdtemp(path.join(os.tmpdir(), 'tally-backfill-cli-'));
});
afterAll(async () => {
  await testbed?.close();
  await rm(files.root, { recursive: true, force: true });
  await rm(folder, { recursive: true, force: true });
});

function tally(...args: string[]) {
  return runTallyAsOperator(testbed, {}, ...args);
}

describe('tally events amend and tally backfill', () => {
  it('amends an event, plans (table and JSON), runs with progress, shows status, the audit record and the list', async () => {
    const customerId = `bf-cli-${process.pid}`;
    await files.publish(testbed.pool, await files.write('bfcli', '2026-09-01T00:00:00Z', { tokenPrice: '0.001' }));
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        ratecard: 'bfcli',
        starts_at: '2026-09-01T00:00:00Z',
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    await testbed.storeEvents(
      [1, 2].map((index) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-${index}`,
          timestamp: `2026-10-0${index}T09:00:00.000Z`,
          quantity: '400000',
          metadata: { sku: 'llm.tokens' },
        }),
      ),
    );
    await testbed.withWorker(async () => {
      const result = await (await testbed.startPeriod(testbed.periodInput(customerId, '2026-10'))).result();
      expect(result.stage).toBe('completed');
    });
    expect((await findInvoice(testbed.pool, `inv:${customerId}:2026-10`))?.document.total).toBe('800.00');

    // A correction: event 2 was metered twice. One line fine, one naming no event.
    const keys = path.join(folder, 'keys.json');
    await writeFile(keys, JSON.stringify(TEST_SOURCE_KEYS));
    const corrections = path.join(folder, 'fix.jsonl');
    const line = (eventId: string) =>
      JSON.stringify(
        signCorrection(
          { schema_version: 1, action: 'void', source: 'api-gateway', event_id: eventId, reason: 'metered twice' },
          TEST_SOURCE_KEYS['api-gateway'],
        ),
      );
    await writeFile(corrections, `${line(`${customerId}-2`)}\n${line(`${customerId}-nope`)}\n`);
    const amend = await tally('events', 'amend', corrections, '--keys', keys, '--by', 'ops-ana');
    expect(amend.status).toBe(1);
    expect(amend.stdout).toMatch(new RegExp(`fix.jsonl:1: correction #\\d+ void api-gateway:${customerId}-2 accepted`));
    expect(amend.stdout).toMatch(/fix.jsonl:2: rejected unknown_event: event_id: no accepted event/);
    expect(amend.stderr).toContain('1 accepted, 1 rejected');

    const bad = await tally('backfill', 'plan', '--from', '2026-13', '--to', '2026-10', '--reason', 'x');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/2026-13/);

    const plan = await tally(
      'backfill',
      'plan',
      '--from',
      '2026-10',
      '--to',
      '2026-10',
      '--customers',
      customerId,
      '--reason',
      'gateway double-metering',
      '--by',
      'ops-ana',
    );
    expect(plan.status, plan.stderr).toBe(0);
    const row = plan.stdout.split('\n').find((text) => text.startsWith(customerId));
    expect(row).toMatch(/2026-10\s+inv:\S+\s+800\.00\s+400\.00\s+-400\.00\s+USD\s+1 correction \(#\d+ void/);
    expect(plan.stdout).toContain('nothing written but this plan');
    const planId = /run it with: tally backfill run (\S+)/.exec(plan.stdout)?.[1] as string;

    const json = await tally(
      'backfill',
      'plan',
      '--from',
      '2026-10',
      '--to',
      '2026-10',
      '--customers',
      customerId,
      '--reason',
      'json',
      '--json',
    );
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      adjustmentTotals: { USD: '-400.00' },
      items: [{ customerId, adjustmentTotal: '-400.00' }],
    });

    await testbed.withWorker(async () => {
      const run = await tally('backfill', 'run', planId, '--concurrency', '2');
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain(`backfill backfill:${planId} started for 1 customer-periods`);
      // The Δ in the currency's minor units, as plan, list and show print it (the workflow's own sum
      // drops trailing zeros: `-400`).
      expect.soft(run.stdout).toMatch(/\[#+\] 1\/1 completed, 1 adjusted, Δ -400\.00 USD, 0 failed/);
      const text = await tally('backfill', 'status', planId);
      expect(text.status, text.stderr).toBe(0);
      expect.soft(text.stdout).toMatch(/\[#+\] 1\/1 completed, 1 adjusted, Δ -400\.00 USD, 0 failed/);
      const status = await tally('backfill', 'status', planId, '--json');
      expect(status.status, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({
        state: 'completed',
        done: 1,
        total: 1,
        adjusted: 1,
        adjustmentTotals: { USD: '-400.00' },
      });
    });

    const show = await tally('backfill', 'show', planId);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toContain('reason: gateway double-metering');
    expect(show.stdout).toMatch(/inputs fingerprint\s+[0-9a-f]{64}/);
    expect(show.stdout).toMatch(/bfcli 2026-09-01T00:00:00.000Z [0-9a-f]{64}/);
    expect(show.stdout).toMatch(/completed: started by \S+ at/);
    const list = await tally('backfill', 'list');
    expect(list.stdout).toMatch(
      new RegExp(`${planId}\\s+2026-10\\.\\.2026-10\\s+1\\s+-400\\.00 USD\\s+completed\\s+ops-ana`),
    );

    // Planned and run, each in the hash-chained audit log under the operator, with what it was for.
    const audited = await testbed.pool.query<{ actor: string; action: string; details: Record<string, string> }>(
      'SELECT actor, action, details FROM audit_log WHERE subject = $1 ORDER BY seq',
      [`backfill:${planId}`],
    );
    expect(audited.rows).toEqual([
      {
        actor: 'cli:ops-ana',
        action: 'backfill_planned',
        details: expect.objectContaining({ reason: 'gateway double-metering', adjustment_totals: '-400.00 USD' }),
      },
      {
        actor: expect.stringMatching(/^cli:/),
        action: 'backfill_run',
        details: expect.objectContaining({ items: '1' }),
      },
    ]);
  }, 240_000);
});
