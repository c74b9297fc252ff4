import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { Command } from 'commander';
import { amendEvents } from '../ingest/event-corrections.ts';
import { loadSourceKeys } from '../ingest/key-files.ts';
import { withDatabase } from './services.ts';

/** Event corrections (SPEC §5): signed void / replace records, append-only. */
export function registerEventsCommands(program: Command): void {
  const events = program.command('events');

  events
    .command('amend <file>')
    .description(
      'record the signed void / replace corrections of a JSON Lines file; open periods see them at close, closed ones at the next backfill',
    )
    .requiredOption('--keys <file>', "the sources' signing keys, JSON {source: secret}, to verify each correction")
    .option('--by <name>', 'who amends (default: the OS user)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: { keys: string; by?: string; json?: boolean }) => {
      const keys = await loadSourceKeys(options.keys);
      const text = await readFile(file, 'utf8');
      const outcomes = await withDatabase((pool) =>
        amendEvents(pool, { file, text, keys, amendedBy: options.by ?? os.userInfo().username }),
      );
      if (options.json) process.stdout.write(`${JSON.stringify(outcomes, null, 2)}\n`);
      else
        for (const outcome of outcomes) {
          const again = outcome.created ? '' : ' (recorded before)';
          process.stdout.write(
            outcome.status === 'accepted'
              ? `${file}:${outcome.line}: correction #${outcome.correctionSeq} ${outcome.action} ${outcome.source}:${outcome.eventId} accepted${again}\n`
              : `${file}:${outcome.line}: rejected ${outcome.reason}: ${outcome.detail} (kept as #${outcome.correctionSeq})${again}\n`,
          );
        }
      const rejected = outcomes.filter((outcome) => outcome.status === 'rejected').length;
      process.stderr.write(
        `${outcomes.length - rejected} accepted, ${rejected} rejected (kept with their reasons); closed periods see them at the next backfill (tally backfill plan)\n`,
      );
      if (rejected > 0) process.exitCode = 1;
    });
}
