import type { Command } from 'commander';
import { parseIngestWorkerEnv } from '../config/ingest-worker.ts';
import { REJECTION_REASONS, type RejectionReason } from '../contracts/rejection-reason.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { createPool } from '../db/pool.ts';
import { BatchWriter } from '../ingest/batch-writer.ts';
import { loadVerificationKeys } from '../ingest/key-files.ts';
import { reprocessRejections } from '../ingest/reprocess-rejections.ts';
import { cliServices } from './services.ts';

export class ReprocessOptionError extends TallyError {
  constructor(message: string) {
    super('reprocess_option_invalid', message, { permanent: true });
  }
}

/** Reasons a later change (a key added or rotated, a clock fixed) can turn into an accepted event. */
const REPROCESSABLE: readonly RejectionReason[] = ['bad_signature', 'unknown_source'];

export function registerEventsCommands(program: Command): void {
  const events = program.command('events');
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
      const pool = createPool(endpoints.databaseUrl, { max: 2, applicationName: 'tally-events-reprocess' });
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
