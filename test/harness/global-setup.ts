import type { TestProject } from 'vitest/node';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { buildStackTools, removeStackData, startStack, stopStack } from '../../stack/index.ts';
import { secretsInLogs } from './secrets-in-logs.ts';
import { testStackLayout } from './test-stack.ts';

/**
 * Starts one real stack (Temporal dev server, nats-server with JetStream, PostgreSQL) for the whole
 * run, on fresh data, migrates it, and hands its endpoints to the test files via `inject('stack')`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const startedAt = Date.now();
  const layout = testStackLayout();
  const log = (line: string): void => {
    if (process.env.TALLY_TEST_VERBOSE) process.stderr.write(`[stack] ${line}\n`);
  };
  await buildStackTools(layout, (line) => process.stderr.write(`[stack] ${line}\n`));
  await stopStack(layout, log);
  await removeStackData(layout);
  let endpoints;
  try {
    endpoints = await startStack(layout, log);
    const pool = createPool(endpoints.databaseUrl, { max: 1 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
  } catch (error) {
    // Leave nothing running behind a failed start.
    await stopStack(layout, log);
    throw error;
  }
  project.provide('stack', { layout, endpoints });
  return async () => {
    await stopStack(layout, log);
    // A run leaves nothing behind (PostgreSQL's files under /var/tmp included), unless asked to keep
    // the stack's data for a look after a failure.
    if (!process.env.TALLY_KEEP_TEST_STACK) await removeStackData(layout);
    // No secret of the suite in any log the run wrote (SPEC §13): the run fails, naming file and line.
    const leaks = await secretsInLogs(startedAt);
    if (leaks.length > 0) {
      // Vitest reports a teardown error but keeps the exit code: set it, so the run fails.
      process.stderr.write(`a test secret was written to the logs of this run: ${leaks.slice(0, 20).join(', ')}\n`);
      process.exitCode = 1;
    }
  };
}
