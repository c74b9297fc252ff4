import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';

/** The corpus of recorded customer-period histories that every change of workflow code must still replay. */
const HISTORIES_DIR = fileURLToPath(new URL('./histories', import.meta.url));

/**
 * The shape of the workflow code that records histories now, appended to each recorded name so that
 * recording never overwrites the histories of earlier shapes (no suffix: the first release;
 * `-local-steps`, `-local-snapshot`, `-local-sync`: the local-activity patches; `-checked-close`:
 * the close with exceptions, ordering and the ingest wait; `-dual-control`: a second reviewer for
 * large adjusts and the review search attributes; `-checked-input`: the input checked first and the
 * terms loaded as a step; `-input-and-dual-control`: both; `-issued-input-and-dual-control`: a held
 * period's re-run (`period-rerun`); `-billing-authority`: the period's billing authority decided once
 * after rating, a legacy customer's close stopping there; `-paged-runs`: backfill and shadow runs
 * reading their items a page at a time and continuing as new past a history budget). Change it with
 * each workflow patch.
 */
const CURRENT_WORKFLOW_SHAPE = 'paged-runs';

/**
 * Saves a finished workflow's history into the corpus when TALLY_RECORD_HISTORIES is set
 * (`TALLY_RECORD_HISTORIES=1 npx vitest run test/workflows`), as `<name>-<shape>.json`; otherwise
 * does nothing.
 */
export async function recordHistory(
  handle: WorkflowHandle,
  name: string,
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  if (env.TALLY_RECORD_HISTORIES === undefined) return;
  await mkdir(HISTORIES_DIR, { recursive: true });
  const history = await handle.fetchHistory();
  await writeFile(path.join(HISTORIES_DIR, `${name}-${CURRENT_WORKFLOW_SHAPE}.json`), `${historyToJSON(history)}\n`);
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
