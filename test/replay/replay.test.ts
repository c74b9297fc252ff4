import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { loadHistories } from './workflow-histories.ts';

// Histories recorded from earlier code replay against today's workflow code: a change that would
// break a running workflow (a reordered activity, a removed timer) fails here, not in production.
// Change workflow code behind patched(); record new scenarios with TALLY_RECORD_HISTORIES=1.
describe('recorded workflow histories', () => {
  it('replay against the current workflow code without a determinism violation', async () => {
    const histories = await loadHistories();
    expect(histories.length).toBeGreaterThanOrEqual(5);
    const results = [];
    for await (const result of Worker.runReplayHistories(
      {
        workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
        replayName: 'tally-corpus',
      },
      histories,
    )) {
      results.push({ workflowId: result.workflowId, error: result.error?.message });
    }
    expect(results.filter((result) => result.error !== undefined)).toEqual([]);
    expect(results).toHaveLength(histories.length);
  }, 120_000);
});
