import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ACTIVITY_CONTRACT_BROKEN,
  checkActivityContracts,
  createRevenueActivities,
  tallyActivityInterceptors,
} from '../../activities/index.ts';
import { publishedTerms } from '../../terms/index.ts';
import { testPool, testStack } from '../harness/services.ts';

const pool = testPool();
afterAll(async () => {
  await pool.end();
});

/** The failure a probe workflow ended with: the activity's ApplicationFailure (under its ActivityFailure, if wrapped). */
async function activityFailureOf(run: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await run.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const failure = (error as WorkflowFailedError).cause;
  const cause = failure instanceof ActivityFailure ? failure.cause : failure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

describe('activity contracts at the worker boundary', () => {
  it('fail an activity called with, or returning, what its contract refuses: once, naming activity, side, field and rule', async () => {
    const { endpoints } = testStack();
    const taskQueue = `activity-contracts-${process.pid}`;
    let brokenOutputCalls = 0;
    const activities = checkActivityContracts({
      ...createRevenueActivities({ pool, terms: publishedTerms(pool) }),
      // A deliberately broken result: a number where the contract has customer ids.
      listRecognitionCustomers: async (_input: { day: string }) => {
        brokenOutputCalls += 1;
        return { customerIds: [42] as unknown as string[], problems: [] };
      },
    });
    const connection = await NativeConnection.connect({ address: endpoints.temporalAddress });
    const clientConnection = await Connection.connect({ address: endpoints.temporalAddress });
    const client = new Client({ connection: clientConnection, namespace: endpoints.temporalNamespace });
    try {
      const worker = await Worker.create({
        connection,
        namespace: endpoints.temporalNamespace,
        taskQueue,
        workflowsPath: fileURLToPath(new URL('../harness/contract-probe-workflow.ts', import.meta.url)),
        activities,
        interceptors: { activity: tallyActivityInterceptors },
      });
      const probe = (name: string, args: unknown[], asLocal: boolean) =>
        client.workflow.execute('contractProbeWorkflow', {
          taskQueue,
          workflowId: `activity-contracts-${process.pid}-${Date.now()}-${name}-${String(asLocal)}`,
          args: [name, args, asLocal],
        });
      await worker.runUntil(async () => {
        for (const asLocal of [false, true]) {
          const input = await activityFailureOf(
            probe('recognizeCustomerDay', [{ customerId: 'cus_contract', day: '2026-13-45' }], asLocal),
          );
          expect(input.type).toBe(ACTIVITY_CONTRACT_BROKEN);
          expect(input.nonRetryable).toBe(true);
          expect(input.message).toContain('activity recognizeCustomerDay input breaks its contract: day:');
          expect(input.details).toEqual([
            {
              activity: 'recognizeCustomerDay',
              side: 'input',
              field: 'day',
              rule: expect.stringContaining('YYYY-MM-DD'),
            },
          ]);
        }

        const missing = await activityFailureOf(probe('reconcileRecentPeriods', [{}], false));
        expect(missing.details).toEqual([
          { activity: 'reconcileRecentPeriods', side: 'input', field: 'day', rule: expect.any(String) },
        ]);

        const output = await activityFailureOf(probe('listRecognitionCustomers', [{ day: '2026-10-01' }], false));
        expect(output.type).toBe(ACTIVITY_CONTRACT_BROKEN);
        expect(output.nonRetryable).toBe(true);
        expect(output.message).toContain(
          'activity listRecognitionCustomers output breaks its contract: customerIds.0:',
        );
        // Non-retryable: the retry policy allows three attempts; the broken result is not asked for again.
        expect(brokenOutputCalls).toBe(1);
      });
    } finally {
      await clientConnection.close();
      await connection.close();
    }
  });

  it('refuse to start a worker with an activity that has no contract', () => {
    expect(() =>
      checkActivityContracts({
        ...createRevenueActivities({ pool, terms: publishedTerms(pool) }),
        unheardOf: async () => 1,
      }),
    ).toThrow(/activities without a contract in contracts\/activity-io\.ts: unheardOf/);
  });
});
