import { spawn, type ChildProcess } from 'node:child_process';
import { ensureTool } from '../../stack/index.ts';
import { testStack } from './services.ts';

export interface RunningStripeMock {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

/**
 * Starts stripe-mock (the pinned tool, built on first use) on ephemeral loopback ports. By default
 * it listens on every interface at 12111 (HTTP) and 12112 (HTTPS); both addresses are given here
 * so that it binds 127.0.0.1 only and never collides with another run. Its bundled OpenAPI spec
 * validates every request; it keeps no state.
 */
export async function startStripeMock(
  log: (line: string) => void = (line) => process.stderr.write(`[stripe-mock] ${line}\n`),
): Promise<RunningStripeMock> {
  const binary = await ensureTool(testStack().layout.toolsDir, 'stripe-mock', log);
  const child = spawn(binary, ['-http-addr', '127.0.0.1:0', '-https-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => fail(new Error(`stripe-mock did not report its port within ${READY_TIMEOUT_MS} ms:\n${output}`)),
      READY_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /Listening for HTTP at address: 127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number.parseInt(match[1] as string, 10));
      }
    };
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(error);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) =>
      fail(new Error(`stripe-mock exited with ${String(code)} before it was ready:\n${output}`)),
    );
  });
  return { host: '127.0.0.1', port, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
