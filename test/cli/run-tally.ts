import { spawn } from 'node:child_process';
import path from 'node:path';
import { repositoryRoot } from '../../config/services.ts';
import { testStack } from '../harness/services.ts';

export interface TallyRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/tally.mjs …` from the repository root, as a user would, and collects its output. */
export function runTally(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<TallyRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/tally.mjs', ...args], {
      cwd: repositoryRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface OperatorRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock time of the whole process. */
  readonly tookMs: number;
}

/**
 * `tally` as an operator runs it against a testbed, from a plain shell: only PATH and HOME of this
 * process, the testbed's database and task queue and the test stack's NATS and Temporal, plus
 * `options.env`; `options.input` on standard input (a password), else an empty one.
 */
export function runTallyAsOperator(
  testbed: { readonly databaseUrl: string; readonly taskQueue: string },
  options: { readonly input?: string; readonly env?: Readonly<Record<string, string>> },
  ...args: string[]
): Promise<OperatorRun> {
  const { endpoints } = testStack();
  const startedMs = Date.now();
  const child = spawn(process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: testbed.databaseUrl,
      NATS_URL: endpoints.natsUrl,
      TEMPORAL_ADDRESS: endpoints.temporalAddress,
      TEMPORAL_NAMESPACE: endpoints.temporalNamespace,
      TALLY_TASK_QUEUE: testbed.taskQueue,
      ...options.env,
    },
  });
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) =>
    child.once('close', (status) => resolve({ status, stdout, stderr, tookMs: Date.now() - startedMs })),
  );
}
