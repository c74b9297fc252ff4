import { mkdtemp, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { parseUsageStreamEnv } from '../../config/ingest-worker.ts';
import { ensureUsageStream } from '../../ingest/usage-stream.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { CALCULATION_VERSION, customerPeriodWorkflowId, statusQuery } from '../../workflows/definitions.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { runTallyAsOperator } from './run-tally.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';
import { recordHistory } from '../replay/workflow-histories.ts';

// The ops commands given what can never bill or cannot be answered: each is refused up front with a
// reason, or answered quickly with what is missing; nothing retries for ever out of sight.
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('bad_input_ops');
});
afterAll(async () => {
  await testbed.close();
});

function tally(options: { input?: string; env?: Record<string, string> }, ...args: string[]) {
  return runTallyAsOperator(testbed, options, ...args);
}

async function expectNotStarted(customerId: string, period: string): Promise<void> {
  const workflowId = customerPeriodWorkflowId({
    customerId,
    period,
    mode: 'live',
    calculationVersion: CALCULATION_VERSION,
  });
  await expect(testbed.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
}

describe('tally period close refuses what can never bill, up front', () => {
  beforeAll(async () => {
    await testbed.publishContract(buildContract({ customer_id: 'ops-known', starts_at: '2026-01-01T00:00:00Z' }));
  });

  it.each(['0026-10', '9999-12', '0000-01'])('a period outside the years Tally bills: %s', async (period) => {
    const run = await tally({}, 'period', 'close', 'ops-known', period);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`period ${period} is outside the years Tally bills (2000–2199)`);
    expect(run.stderr).not.toContain('unexpected error');
    await expectNotStarted('ops-known', period);
  });

  it('a customer with no published contract', async () => {
    const run = await tally({}, 'period', 'close', 'ops-nobody', '2026-10');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('ops-nobody has no published contract');
    expect(run.stderr).toContain('tally contracts publish');
    expect(run.stdout).not.toContain('close requested');
    await expectNotStarted('ops-nobody', '2026-10');
  });
});

describe('the workflow checks its own input', () => {
  it('refuses a period outside the range when started directly, and issues nothing for 1926', async () => {
    const customerId = 'ops-direct';
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        starts_at: '2026-01-01T00:00:00Z',
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    await testbed.withWorker(async () => {
      const handle = await testbed.startPeriod(testbed.periodInput(customerId, '0026-10'));
      const failure = await handle.result().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect(String((failure as WorkflowFailedError).cause?.message)).toContain(
        'period 0026-10 is outside the years Tally bills',
      );
      await recordHistory(handle, 'invalid-period-refused');
    });
    expect(await findInvoice(testbed.pool, `inv:${customerId}:0026-10`)).toBeUndefined();
  }, 60_000);
});

describe('tally period status', () => {
  it('says no worker polls the queue, quickly, instead of waiting on a query', async () => {
    // A close waiting for its period to end, whose worker has gone away.
    const customerId = 'ops-no-worker';
    await testbed.publishContract(buildContract({ customer_id: customerId, starts_at: '2026-01-01T00:00:00Z' }));
    const input = testbed.periodInput(customerId, '2026-12', { graceMs: 365 * 86_400_000 });
    const handle = await testbed.client.workflow.start('customerPeriodWorkflow', {
      taskQueue: testbed.taskQueue,
      workflowId: customerPeriodWorkflowId(input),
      args: [input],
    });
    await testbed.withWorker(async () => {
      const deadline = Date.now() + 30_000;
      while ((await handle.query(statusQuery)).closesAt === undefined) {
        if (Date.now() > deadline) throw new Error('the close never started waiting');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
    const run = await tally({}, 'period', 'status', customerId, '2026-12');
    expect(run.status, run.stderr).toBe(0);
    expect(run.tookMs).toBeLessThan(10_000);
    expect(run.stderr).toContain(`no worker polls the task queue ${testbed.taskQueue}`);
    expect(run.stderr).toContain('tally worker');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toMatch(new RegExp(`billing:${customerId}:2026-12\\s+RUNNING\\s+\\(no worker\\)`));
    await handle.terminate('test over');
  }, 90_000);
});

describe('tally review approve, repeated by someone else', () => {
  it('prints who actually decided', async () => {
    const customerId = 'ops-repeat';
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        starts_at: '2026-01-01T00:00:00Z',
        review: { total_above: '1.00', timeout: '72h' },
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
        }),
      ),
    );
    const password = 'a long enough password for both';
    for (const user of ['ops-alice', 'ops-bob']) {
      const added = await tally({ input: `${password}\n` }, 'users', 'add', user, '--role', 'reviewer');
      expect(added.status, added.stderr).toBe(0);
    }
    await testbed.withWorker(async () => {
      const close = await tally({}, 'period', 'close', customerId, '2026-10');
      expect(close.status, close.stderr).toBe(0);
      let exceptionId: string | undefined;
      const deadline = Date.now() + 60_000;
      while (exceptionId === undefined) {
        const list = await tally({}, 'review', 'list', '--json');
        exceptionId = (JSON.parse(list.stdout) as { exceptionId: string; customerId: string }[]).find(
          (exception) => exception.customerId === customerId,
        )?.exceptionId;
        if (Date.now() > deadline) throw new Error('no exception listed');
      }
      const first = await tally({ input: `${password}\n` }, 'review', 'approve', exceptionId, '--as', 'ops-alice');
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toContain(`${exceptionId}: approve by ops-alice`);
      const again = await tally({ input: `${password}\n` }, 'review', 'approve', exceptionId, '--as', 'ops-bob');
      expect(again.status, again.stderr).toBe(0);
      expect(again.stdout).toContain('already recorded; nothing changed');
      expect(again.stdout).toContain('by ops-alice');
      expect(again.stdout).not.toContain('by ops-bob');
    });
  }, 180_000);
});

describe('tally send reads lines with a limit', () => {
  it('refuses a 600 MB line and a line of bad bytes by file and line, and sends the rest', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tally-send-bad-'));
    const file = path.join(dir, 'events.jsonl');
    const good = (id: string): string =>
      JSON.stringify(buildUsageEvent({ customer_id: 'ops-send', event_id: id, timestamp: new Date().toISOString() }));
    const badBytes = Buffer.from(good('send-2'), 'utf8');
    badBytes[badBytes.indexOf('ops-send')] = 0xff;
    await writeFile(file, Buffer.concat([Buffer.from(`${good('send-1')}\n`), badBytes, Buffer.from('\n')]));
    // Line 3: 600 MB of zero bytes, sparse (no disk used), no newline.
    await truncate(file, (await stat(file)).size + 600 * 1024 * 1024);
    // Only the ingest worker (or the stack) creates the stream; a producer never does.
    const streamEnv = { TALLY_INGEST_STREAM: 'BAD_INPUT_SEND', TALLY_INGEST_SUBJECT_PREFIX: 'badinput-usage' };
    const nats = await connect({ servers: testStack().endpoints.natsUrl });
    try {
      await ensureUsageStream(await jetstreamManager(nats), parseUsageStreamEnv(streamEnv));
    } finally {
      await nats.close();
    }
    const run = await tally({ env: streamEnv }, 'send', file, '--json');
    expect(run.stderr).not.toContain('RangeError');
    expect(run.stderr).not.toContain('unexpected error');
    expect(run.stderr).toContain(`${file}:2: malformed_json: not valid UTF-8: byte`);
    expect(run.stderr).toMatch(
      new RegExp(`${file}:3: malformed_json: the line is \\d+ bytes, longer than the limit of 1048576 bytes`),
    );
    const summary = JSON.parse(run.stdout) as { published: number; invalid: number };
    expect(summary).toMatchObject({ published: 1, invalid: 2 });
  }, 120_000);
});
