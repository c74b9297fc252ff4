import type { Command } from 'commander';
import { parseConsoleEnv } from '../config/console.ts';
import { startConsole } from '../console/console-process.ts';
import { ensureServices } from './services.ts';

/** `tally console [--port N]`: the billing-ops console over the workers' Postgres and Temporal. */
export function registerConsoleCommands(program: Command): void {
  program
    .command('console')
    .option('--port <n>', 'port to listen on (default: the stack base + 8, or TALLY_CONSOLE_PORT)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1, or TALLY_CONSOLE_HOST)')
    .action(async (options: { port?: string; host?: string }) => {
      const settings = parseConsoleEnv({
        ...process.env,
        ...(options.port ? { TALLY_CONSOLE_PORT: options.port } : {}),
        ...(options.host ? { TALLY_CONSOLE_HOST: options.host } : {}),
      });
      const { endpoints } = await ensureServices(undefined, ['postgres', 'temporal']);
      const running = await startConsole(settings, endpoints, (line) => process.stderr.write(`${line}\n`));
      process.stdout.write(
        `tally console on ${running.url} (accounts: tally users add NAME --role viewer|reviewer|admin); Ctrl-C stops it\n`,
      );
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
      });
      await running.close();
    });
}
