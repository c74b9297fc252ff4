// Test setup file: a passing run is quiet. The Temporal runtime's warnings (the SDK's, and the
// native core's, forwarded) are the expected noise of injected faults (a failed step, a retried
// activity, a slow workflow task on two shared cores): they go to test-artifacts/logs/, one file
// per test process, not to the terminal. A failing test still shows its own assertion and error.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { repositoryRoot } from '../../config/paths.ts';

/** `test-artifacts/logs/<name>-<pid>.log` (git-ignored), its folder made. */
export function testLogFile(name: string): string {
  const directory = path.join(repositoryRoot, 'test-artifacts', 'logs');
  mkdirSync(directory, { recursive: true });
  return path.join(directory, `${name}-${process.pid}.log`);
}

try {
  const file = testLogFile('temporal');
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
      appendFileSync(file, `${at} ${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {}, bigints)}\n`);
    }),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
  });
} catch {
  // Installed already in this process: Runtime.install may run once per process.
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
