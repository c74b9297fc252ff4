import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { repositoryRoot } from '../../config/paths.ts';
import { TEST_SOURCE_KEYS } from '../builders/usage-event.ts';
import { TEST_PASSWORD } from '../builders/test-secrets.ts';

/** The secrets every test run uses: the sources' signing keys and the console users' password. */
export const SUITE_SECRETS: readonly string[] = [...Object.values(TEST_SOURCE_KEYS), TEST_PASSWORD];

/**
 * Every log line the run wrote (test-artifacts/logs, files changed since `since`) that holds one of
 * `secrets`, as `file:line`. A secret may reach a process (a key file, an environment variable); it
 * must never reach a log line or an error message (SPEC §13).
 */
export async function secretsInLogs(
  since: number,
  secrets: readonly string[] = SUITE_SECRETS,
  directory: string = path.join(repositoryRoot, 'test-artifacts', 'logs'),
): Promise<string[]> {
  const found: string[] = [];
  const files = await readdir(directory).catch(() => [] as string[]);
  for (const name of files.sort()) {
    const file = path.join(directory, name);
    if ((await stat(file)).mtimeMs < since) continue;
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines.forEach((line, index) => {
      if (secrets.some((secret) => line.includes(secret))) found.push(`${name}:${index + 1}`);
    });
  }
  return found;
}
