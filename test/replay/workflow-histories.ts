import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';

/** The corpus of recorded customer-period histories that every change of workflow code must still replay. */
export const HISTORIES_DIR = fileURLToPath(new URL('./histories', import.meta.url));

/**
 * Saves a finished workflow's history into the corpus when TALLY_RECORD_HISTORIES is set
 * (`TALLY_RECORD_HISTORIES=1 npx vitest run test/workflows`); otherwise does nothing.
 */
export async function recordHistory(
  handle: WorkflowHandle,
  name: string,
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  if (env.TALLY_RECORD_HISTORIES === undefined) return;
  await mkdir(HISTORIES_DIR, { recursive: true });
  const history = await handle.fetchHistory();
  await writeFile(path.join(HISTORIES_DIR, `${name}.json`), `${historyToJSON(history)}\n`);
}

export async function loadHistories(
  directory: string = HISTORIES_DIR,
): Promise<{ workflowId: string; history: ReturnType<typeof historyFromJSON> }[]> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      workflowId: path.basename(file, '.json'),
      history: historyFromJSON(JSON.parse(await readFile(path.join(directory, file), 'utf8'))),
    })),
  );
}
