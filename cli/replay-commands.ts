import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { workflowsEntry } from '../config/paths.ts';
import { connectTemporal, ensureServices } from './services.ts';
import { TallyError } from '../contracts/tally-error.ts';

export class ReplayError extends TallyError {
  constructor(message: string) {
    super('replay_failed', message, { permanent: true });
  }
}

/** Engineers' check that new worker code still replays old histories (before a deploy, after a change). */
export function registerReplayCommands(program: Command): void {
  program
    .command('replay')
    .option(
      '--query <visibility query>',
      'which workflows',
      "WorkflowType IN ('customerPeriodWorkflow', 'backfillWorkflow', 'backfillItemWorkflow')",
    )
    .option('--limit <n>', 'at most this many histories', '1000')
    .option('--save <dir>', 'also write each history as JSON into this folder (e.g. test/replay/histories)')
    .action(async (options: { query: string; limit: string; save?: string }) => {
      const { endpoints } = await ensureServices();
      const temporal = await connectTemporal(endpoints);
      const limit = Number.parseInt(options.limit, 10);
      try {
        const histories = [];
        for await (const execution of temporal.client.workflow.list({ query: options.query })) {
          if (histories.length >= limit) break;
          const history = await temporal.client.workflow
            .getHandle(execution.workflowId, execution.runId)
            .fetchHistory();
          histories.push({ workflowId: execution.workflowId, history });
          if (options.save !== undefined) {
            await mkdir(options.save, { recursive: true });
            await writeFile(
              path.join(options.save, `${execution.workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`),
              `${historyToJSON(history)}\n`,
            );
          }
        }
        let failures = 0;
        for await (const result of Worker.runReplayHistories(
          { workflowsPath: workflowsEntry, replayName: 'tally-replay' },
          histories,
        )) {
          if (result.error !== undefined) failures += 1;
          process.stdout.write(
            `${result.error === undefined ? 'ok  ' : 'FAIL'} ${result.workflowId}${result.error === undefined ? '' : `: ${result.error.message}`}\n`,
          );
        }
        process.stdout.write(`${histories.length} histories replayed, ${failures} failed\n`);
        if (failures > 0)
          throw new ReplayError(`${failures} of ${histories.length} histories do not replay against the current code`);
      } finally {
        await temporal.close();
      }
    });
}
