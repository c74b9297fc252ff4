import { createReadStream } from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';
import { parseIngestWorkerEnv } from '../config/ingest-worker.ts';
import { REJECTION_REASONS, type RejectionReason } from '../contracts/rejection-reason.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { createPool } from '../db/pool.ts';
import { BatchWriter } from '../ingest/batch-writer.ts';
import { amendEvents } from '../ingest/event-corrections.ts';
import { loadSourceKeys, loadVerificationKeys } from '../ingest/key-files.ts';
import { reprocessRejections } from '../ingest/reprocess-rejections.ts';
import { decodeLine, MAX_LINE_BYTES, readLines } from './line-reader.ts';
import { cliServices, withDatabase } from './services.ts';
import { printableOneLine } from './terminal-text.ts';

export class ReprocessOptionError extends TallyError {
  constructor(message: string) {
    super('reprocess_option_invalid', message, { permanent: true });
  }
}

/** Reasons a later change (a key added or rotated, a clock fixed) can turn into an accepted event. */
const REPROCESSABLE: readonly RejectionReason[] = ['bad_signature', 'unknown_source'];

/** `tally events`: corrections of stored events (SPEC §5) and reprocessing of rejections under today's keys. */
export function registerEventsCommands(program: Command): void {
  const events = program.command('events');
  registerAmendCommand(events);
  events
    .command('reprocess')
    .description(
      "classify stored rejections again under today's keys; events now valid are stored once, rejections stay",
    )
    .requiredOption('--reason <reason>', `which rejections: ${REPROCESSABLE.join(' or ')}`)
    .option('--source <source>', 'only this source')
    .option('--since <instant>', 'only rejections received at or after this RFC 3339 instant')
    .option('--keys <file>', 'source signing keys (default: TALLY_SOURCE_KEYS_FILE)')
    .option('--json', 'print the summary as JSON')
    .action(async (options: { reason: string; source?: string; since?: string; keys?: string; json?: boolean }) => {
      if (!(REJECTION_REASONS as readonly string[]).includes(options.reason))
        throw new ReprocessOptionError(
          `--reason ${options.reason} is not a rejection reason (${REJECTION_REASONS.join(', ')})`,
        );
      if (!REPROCESSABLE.includes(options.reason as RejectionReason))
        throw new ReprocessOptionError(
          `--reason ${options.reason} cannot become valid by a key change; reprocess ${REPROCESSABLE.join(' or ')}`,
        );
      if (options.since !== undefined && Number.isNaN(Date.parse(options.since)))
        throw new ReprocessOptionError(`--since ${JSON.stringify(options.since)} is not an RFC 3339 instant`);
      const config = parseIngestWorkerEnv({
        ...process.env,
        ...(options.keys !== undefined ? { TALLY_SOURCE_KEYS_FILE: options.keys } : {}),
      });
      const keys = await loadVerificationKeys(config.sourceKeysFile);
      const { endpoints } = cliServices();
      const pool = createPool(endpoints, { max: 2, applicationName: 'tally-events-reprocess' });
      try {
        const summary = await reprocessRejections(
          pool,
          new BatchWriter(pool),
          keys,
          { pastMs: config.acceptPastMs, futureMs: config.acceptFutureMs },
          { reason: options.reason as RejectionReason, source: options.source, since: options.since },
        );
        if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else
          process.stdout.write(
            `examined ${summary.examined} ${options.reason} rejections: ${summary.stored} now stored, ` +
              `${summary.duplicates} already stored, ${summary.stillRejected} still rejected (rejections are kept)\n`,
          );
      } finally {
        await pool.end();
      }
    });
}

/** Event corrections (SPEC §5): signed void / replace records, append-only. */
function registerAmendCommand(events: Command): void {
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
      const text = await readCorrectionFile(file);
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

export class CorrectionFileError extends TallyError {
  constructor(message: string) {
    super('correction_file_invalid', message, { permanent: true });
  }
}

/**
 * A correction file, read as every input file is (cli/line-reader.ts): strict UTF-8 and a line limit.
 * A line that breaks either refuses the file, naming file and line, before anything is recorded.
 */
async function readCorrectionFile(file: string): Promise<string> {
  const lines: string[] = [];
  for await (const line of readLines(createReadStream(file))) {
    if (line.kind === 'too_long')
      throw new CorrectionFileError(
        `${printableOneLine(file)}:${line.number}: the line is ${line.bytes} bytes, longer than the limit of ${MAX_LINE_BYTES}; nothing recorded`,
      );
    const decoded = decodeLine(line.bytes);
    if (!decoded.ok)
      throw new CorrectionFileError(
        `${printableOneLine(file)}:${line.number}: not valid UTF-8 at byte ${decoded.offset + 1} (${decoded.bytes}); nothing recorded`,
      );
    lines.push(decoded.text);
  }
  return lines.join('\n');
}
