import { rm, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { buildStackTools, stackDataLocations, stackPorts, stackStatus, startStack, stopStack } from '../stack/index.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { parseUsageStreamEnv } from '../config/ingest-worker.ts';
import { describeStreamDrift, ensureUsageStream } from '../ingest/usage-stream.ts';
import { cliServices } from './services.ts';
import { textTable } from '../views/text-table.ts';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export function registerStackCommands(program: Command): void {
  const stack = program.command('stack');

  stack
    .command('up')
    .description('start the stack (builds the Go servers the first time); harmless when it runs already')
    .action(async () => {
      const { layout, embedded, endpoints } = cliServices();
      await buildStackTools(layout, log);
      await startStack(layout, log, embedded);
      // The stack, like the ingest worker, is an operator of the usage stream: producers (tally send) only check it.
      if (embedded.includes('nats')) await ensureStackUsageStream(endpoints.natsUrl);
      log(
        `\nTEMPORAL_ADDRESS=${endpoints.temporalAddress}\nNATS_URL=${endpoints.natsUrl}\nDATABASE_URL=${endpoints.databaseUrl}`,
      );
      if (layout.temporalUi && embedded.includes('temporal'))
        log(`Temporal UI: http://127.0.0.1:${stackPorts(layout).temporalUi}`);
    });

  stack
    .command('down')
    .description('stop the stack; leaves no process running (data is kept unless --purge)')
    .option('--purge', "also remove every byte the stack wrote: its folder and PostgreSQL's files")
    .action(async (options: { purge?: boolean }) => {
      const { layout } = cliServices();
      await stopStack(layout, log);
      if (!options.purge) return;
      for (const location of stackDataLocations(layout)) {
        const existed = await stat(location).then(
          () => true,
          () => false,
        );
        await rm(location, { recursive: true, force: true });
        log(existed ? `removed ${location}` : `${location}: nothing there`);
      }
    });

  stack
    .command('status')
    .description('show each service, its port and health')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const { layout, embedded } = cliServices();
      const statuses = (await stackStatus(layout)).map((status) => ({
        ...status,
        external: !embedded.includes(status.service),
      }));
      if (options.json) {
        log(JSON.stringify(statuses, null, 2));
      } else {
        const state = (status: (typeof statuses)[number]): string =>
          status.external
            ? 'external'
            : status.healthy
              ? 'healthy'
              : status.pid === undefined
                ? 'stopped'
                : 'unhealthy';
        process.stdout.write(
          textTable(
            ['service', 'state', 'port', 'pid', 'detail'],
            statuses.map((status) => [
              status.service,
              state(status),
              String(status.port),
              status.pid === undefined ? '' : String(status.pid),
              status.detail,
            ]),
          ),
        );
      }
      if (statuses.some((status) => !status.external && !status.healthy)) process.exitCode = 3;
    });

  stack
    .command('build')
    .description('build the pinned Temporal CLI and nats-server into the tools folder if missing')
    .option('--cluster', "also the Temporal server and its SQL schema tool (the cluster test's)")
    .action(async (options: { cluster?: boolean }) => {
      const { layout } = cliServices();
      await buildStackTools(layout, log, { cluster: options.cluster === true });
      log('tools ready');
    });
}

/** Creates the usage stream with the settings ingest needs (or corrects them, saying what had drifted). */
async function ensureStackUsageStream(natsUrl: string): Promise<void> {
  const config = parseUsageStreamEnv();
  const nc = await connect({ servers: natsUrl, name: 'tally-stack', timeout: 5000 });
  try {
    const drift = await ensureUsageStream(await jetstreamManager(nc), config);
    log(
      drift.length === 0
        ? `usage stream ${config.streamName}: ready`
        : `usage stream ${config.streamName}: settings had drifted (${describeStreamDrift(drift)}); corrected`,
    );
  } finally {
    await nc.close();
  }
}
