import { Command, CommanderError } from 'commander';
import { TallyError } from '../contracts/tally-error.ts';
import { registerBenchCommands } from './bench-commands.ts';
import { registerAlertsCommands } from './alerts-commands.ts';
import { registerDbCommands } from './db-commands.ts';
import { registerDemoCommand } from './demo-command.ts';
import { registerInvoiceCommands } from './invoice-commands.ts';
import { registerPeriodCommands } from './period-commands.ts';
import { registerReplayCommands } from './replay-commands.ts';
import { registerReviewCommands } from './review-commands.ts';
import { registerJournalCommands } from './journal-commands.ts';
import { registerRateCommands } from './rate-commands.ts';
import { registerRatecardsCommands } from './ratecards-commands.ts';
import { registerIngestCommands } from './ingest-commands.ts';
import { registerSendCommands } from './send-commands.ts';
import { registerStackCommands } from './stack-commands.ts';
import { registerWorkerCommands } from './worker-commands.ts';

/** The `tally` command line. Each command family lives in its own file and registers itself here. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('tally')
    .description('Tally: durable usage billing (JetStream ingest, Temporal period workflows, Postgres facts)')
    .showHelpAfterError()
    .exitOverride();
  registerStackCommands(program);
  registerDbCommands(program);
  registerDemoCommand(program);
  registerReviewCommands(program);
  registerInvoiceCommands(program);
  registerPeriodCommands(program);
  registerWorkerCommands(program);
  registerReplayCommands(program);
  registerJournalCommands(program);
  registerRateCommands(program);
  registerRatecardsCommands(program);
  registerIngestCommands(program);
  registerSendCommands(program);
  registerBenchCommands(program);
  registerAlertsCommands(program);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    reportError(error);
    process.exitCode = 1;
  }
}

/** Known failures are TallyErrors: print their message plainly. Anything else is a bug and keeps its stack. */
function reportError(error: unknown): void {
  if (error instanceof TallyError) {
    process.stderr.write(`tally: ${error.message}\n`);
  } else {
    process.stderr.write(
      `tally: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
}
