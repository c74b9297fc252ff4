import { Command, CommanderError } from 'commander';
import { TallyError } from '../contracts/tally-error.ts';
import { COMMANDS } from './command-index.ts';
import { printable } from './terminal-text.ts';

/**
 * The `tally` command line. Only the command being run is loaded (cli/command-index.ts); the others
 * are listed by name and description, so help and light commands start in a fraction of a second.
 */
export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('tally')
    .description('Tally: durable usage billing (JetStream ingest, Temporal period workflows, Postgres facts)')
    .showHelpAfterError()
    .exitOverride();
  const requested = requestedCommand(argv.slice(2));
  for (const entry of COMMANDS) {
    if (entry.name === requested) (await entry.load())(program);
    const command =
      program.commands.find((candidate) => candidate.name() === entry.name) ?? program.command(entry.name);
    command.description(entry.description);
  }
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

/** The top-level command named on the command line (`tally help <command>` names it too). */
function requestedCommand(args: readonly string[]): string | undefined {
  const words = args.filter((arg) => !arg.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * Known failures are TallyErrors: print their message plainly. Anything else is a bug and keeps its
 * stack. Messages quote input (file names, fields, values): control characters in it are escaped.
 */
function reportError(error: unknown): void {
  if (error instanceof TallyError) {
    process.stderr.write(`tally: ${printable(error.message)}\n`);
  } else {
    process.stderr.write(
      `tally: unexpected error: ${printable(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`,
    );
  }
}
