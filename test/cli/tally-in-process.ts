import { vi } from 'vitest';
import { main } from '../../cli/main.ts';

/**
 * Runs a `tally` command in this process (its environment, its database) and returns what it printed
 * on stdout; `process.exitCode` is left as the command set it. For tests that need many quick calls;
 * `run-tally.ts` spawns the real executable instead.
 */
export async function tallyInProcess(...args: string[]): Promise<string> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await main(['node', 'tally', ...args]);
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}
