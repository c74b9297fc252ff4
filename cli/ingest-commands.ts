import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../connections/nats.ts';
import type { Command } from 'commander';
import { parseIngestWorkerEnv, parseUsageStreamEnv } from '../config/ingest-worker.ts';
import { createPool } from '../db/pool.ts';
import { readIngestTableCounts } from '../db/queries/ingest-status.ts';
import { startStack } from '../stack/index.ts';
import { readIngestWatermark } from '../ingest/ingest-watermark.ts';
import { startIngestWorker } from '../workers/ingest-worker.ts';
import { cliServices, type CliServices } from './services.ts';

interface RunOptions {
  readonly keys?: string;
  readonly apiKeys?: string;
  readonly httpPort?: string;
  readonly metricsPort?: string;
}

export function registerIngestCommands(program: Command): void {
  const ingest = program.command('ingest');

  ingest
    .command('run', { isDefault: true })
    .description('run the ingest worker until SIGTERM/SIGINT (then drain: stop fetching, write, ack, close)')
    .option('--keys <file>', 'source signing keys, JSON {source: secret} (default: TALLY_SOURCE_KEYS_FILE)')
    .option(
      '--api-keys <file>',
      'HTTP API keys, JSON {keys: [{id, token_sha256, sources}]} (default: TALLY_INGEST_API_KEYS_FILE)',
    )
    .option('--http-port <port>', 'serve POST /v1/events on this port (default: TALLY_INGEST_HTTP_PORT)')
    .option('--metrics-port <port>', 'serve Prometheus /metrics on this port (default: TALLY_INGEST_METRICS_PORT)')
    .action(async (options: RunOptions) => {
      const config = parseIngestWorkerEnv({
        ...process.env,
        ...(options.keys !== undefined ? { TALLY_SOURCE_KEYS_FILE: options.keys } : {}),
        ...(options.apiKeys !== undefined ? { TALLY_INGEST_API_KEYS_FILE: options.apiKeys } : {}),
        ...(options.httpPort !== undefined ? { TALLY_INGEST_HTTP_PORT: options.httpPort } : {}),
        ...(options.metricsPort !== undefined ? { TALLY_INGEST_METRICS_PORT: options.metricsPort } : {}),
      });
      const services = await ensureIngestServices();
      const worker = await startIngestWorker(config, services.endpoints);
      await new Promise<void>((resolve) => {
        const shutdown = (): void => {
          process.off('SIGTERM', shutdown);
          process.off('SIGINT', shutdown);
          resolve();
        };
        process.on('SIGTERM', shutdown);
        process.on('SIGINT', shutdown);
      });
      await worker.stop();
    });

  ingest
    .command('status')
    .description('consumer lag and what ingest has stored')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const config = parseUsageStreamEnv();
      const { endpoints } = cliServices();
      const nc = await connectNats(endpoints, { name: 'tally-ingest-status', timeout: 5000 });
      const pool = createPool(endpoints, { max: 1, applicationName: 'tally-ingest-status' });
      try {
        const jsm = await jetstreamManager(nc);
        const stream = await jsm.streams.info(config.streamName).catch(() => undefined);
        const consumer = await jsm.consumers.info(config.streamName, config.consumerName).catch(() => undefined);
        const tables = await readIngestTableCounts(pool);
        const watermark = await readIngestWatermark(jsm, config.streamName, config.consumerName);
        const status = {
          stream:
            stream === undefined
              ? null
              : {
                  name: config.streamName,
                  messages: stream.state.messages,
                  bytes: stream.state.bytes,
                  last_seq: stream.state.last_seq,
                },
          consumer:
            consumer === undefined
              ? null
              : {
                  name: config.consumerName,
                  pending: consumer.num_pending,
                  ack_pending: consumer.num_ack_pending,
                  redelivered: consumer.num_redelivered,
                  delivered_seq: consumer.delivered.stream_seq,
                  ack_floor_seq: consumer.ack_floor.stream_seq,
                  committed_before: watermark.committedBefore,
                },
          tables: {
            usage_events: tables.usageEvents,
            late_events: tables.lateEvents,
            rejected_events: tables.rejected,
            customer_periods: tables.customerPeriods,
            customer_periods_awaiting_workflow: tables.customerPeriodsAwaitingWorkflow,
            last_received_at: tables.lastReceivedAt,
          },
        };
        if (options.json) {
          process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
          return;
        }
        const lines = [
          status.stream === null
            ? `stream    ${config.streamName}: not created yet`
            : `stream    ${config.streamName}: ${status.stream.messages} messages, ${status.stream.bytes} bytes, last seq ${status.stream.last_seq}`,
          status.consumer === null
            ? `consumer  ${config.consumerName}: not created yet`
            : `consumer  ${config.consumerName}: lag ${status.consumer.pending}, awaiting ack ${status.consumer.ack_pending}, redelivered ${status.consumer.redelivered}, ack floor seq ${status.consumer.ack_floor_seq}, everything received before ${status.consumer.committed_before ?? '?'} is committed`,
          `accepted  ${tables.usageEvents} events (${tables.lateEvents} late), last received ${tables.lastReceivedAt ?? 'never'}`,
          `rejected  ${
            Object.entries(tables.rejected)
              .map(([reason, count]) => `${reason} ${count}`)
              .join(', ') || 'none'
          }`,
          `periods   ${tables.customerPeriods} customer-periods, ${tables.customerPeriodsAwaitingWorkflow} awaiting their workflow`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        await nc.close();
        await pool.end();
      }
    });
}

/** The ingest worker needs NATS and Postgres only: start those of the embedded stack that are not external. */
export async function ensureIngestServices(): Promise<CliServices> {
  const services = cliServices();
  const needed = services.embedded.filter((service) => service !== 'temporal');
  if (needed.length > 0) await startStack(services.layout, (line) => process.stderr.write(`${line}\n`), needed);
  return services;
}
