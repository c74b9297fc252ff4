import { spawn } from 'node:child_process';
import { repositoryRoot } from '../../config/services.ts';

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
