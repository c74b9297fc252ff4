import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ConnectionSecurity } from '../config/connections.ts';
import { connectNats } from '../connections/nats.ts';
import { pino, type Logger } from 'pino';
import type { IngestWorkerConfig } from '../config/ingest-worker.ts';
import { migrateAtStart } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { BatchWriter } from '../ingest/batch-writer.ts';
import { EventPublisher } from '../ingest/event-publisher.ts';
import { createHttpIngestServer } from '../ingest/http-ingest-server.ts';
import { IngestConsumer } from '../ingest/ingest-consumer.ts';
import { createMetricsServer, IngestMetrics } from '../ingest/ingest-metrics.ts';
import { loadApiKeys, loadVerificationKeys, watchVerificationKeys } from '../ingest/key-files.ts';
import { readIngestWatermark } from '../ingest/ingest-watermark.ts';
import {
  assertNatsServerVersion,
  describeStreamDrift,
  ensureUsageConsumer,
  ensureUsageStream,
  retryWhileJetStreamFailsOver,
} from '../ingest/usage-stream.ts';

export interface IngestWorkerEndpoints {
  readonly natsUrl: string;
  readonly databaseUrl: string;
  /** Authentication and TLS (config/connections.ts); absent: none. */
  readonly security?: ConnectionSecurity;
}

export interface IngestWorker {
  readonly consumer: IngestConsumer;
  readonly metrics: IngestMetrics;
  /** `http://host:port` of the HTTP ingest endpoint, when it runs. */
  readonly httpUrl: string | undefined;
  readonly metricsUrl: string | undefined;
  /** Stops taking work, writes and acks what was taken, closes every connection. */
  stop(): Promise<void>;
}

/**
 * The ingest worker's composition root: key files, NATS (stream and consumer made idempotently),
 * Postgres (migrated), the consumer loop, and optionally the HTTP ingest endpoint and /metrics.
 */
export async function startIngestWorker(
  config: IngestWorkerConfig,
  endpoints: IngestWorkerEndpoints,
  logger: Logger = pino({ level: config.logLevel }),
): Promise<IngestWorker> {
  // Every secret of each source, reloaded when the file changes (key rotation without a restart).
  const sourceKeys = watchVerificationKeys(
    config.sourceKeysFile,
    await loadVerificationKeys(config.sourceKeysFile),
    logger,
  );
  const apiKeys =
    config.httpPort !== undefined && config.apiKeysFile !== undefined
      ? await loadApiKeys(config.apiKeysFile)
      : undefined;

  const pool = createPool(endpoints, { max: config.writers + 2, applicationName: 'tally-ingest' });
  let nc: NatsConnection | undefined;
  const servers: http.Server[] = [];
  try {
    await migrateAtStart(endpoints, pool);
    nc = await connectNats(endpoints, {
      name: 'tally-ingest',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
    assertNatsServerVersion(nc);
    const natsConnection = nc;
    const jsm = await retryWhileJetStreamFailsOver(() => jetstreamManager(natsConnection));
    const drift = await retryWhileJetStreamFailsOver(() =>
      ensureUsageStream(jsm, {
        streamName: config.streamName,
        subjectPrefix: config.subjectPrefix,
        duplicateWindowMs: config.duplicateWindowMs,
        maxAgeMs: config.streamMaxAgeMs,
        maxBytes: config.streamMaxBytes,
        replicas: config.streamReplicas,
      }),
    );
    if (drift.length > 0) {
      const fixed = drift.every((entry) => entry.setting !== 'storage' && entry.setting !== 'retention');
      logger[fixed ? 'warn' : 'error'](
        { stream: config.streamName, drift },
        `usage stream settings had drifted: ${describeStreamDrift(drift)}${fixed ? ' (corrected)' : ' (storage and retention cannot change in place: recreate the stream)'}`,
      );
    }
    await retryWhileJetStreamFailsOver(() =>
      ensureUsageConsumer(jsm, config.streamName, {
        durableName: config.consumerName,
        ackWaitMs: config.ackWaitMs,
        maxAckPending: config.maxAckPending,
      }),
    );
    const js = jetstream(nc);
    const connection = nc;
    const metrics = new IngestMetrics();
    const acceptWindow = { pastMs: config.acceptPastMs, futureMs: config.acceptFutureMs };
    const consumer = new IngestConsumer(js, new BatchWriter(pool), sourceKeys, metrics, logger, {
      streamName: config.streamName,
      durableName: config.consumerName,
      batchSize: config.batchSize,
      batchMaxWaitMs: config.batchMaxWaitMs,
      writers: config.writers,
      nakDelayMs: config.nakDelayMs,
      parkAfterDeliveries: config.parkAfterDeliveries,
      acceptWindow,
    });
    consumer.start();

    let lastLagWarningMs = 0;
    const lagTimer = setInterval(() => {
      readIngestWatermark(jsm, config.streamName, config.consumerName).then(
        (watermark) => {
          metrics.consumerPending.set(watermark.pending);
          metrics.consumerAckPending.set(watermark.ackPending);
          if (watermark.committedBefore === null) return;
          const lagMs = Math.max(0, Date.now() - Date.parse(watermark.committedBefore));
          metrics.consumerLagSeconds.set(lagMs / 1000);
          // Lag is alerted long before the stream's max age could delete an unprocessed message.
          if (lagMs > config.lagAlertMs && Date.now() - lastLagWarningMs > 60_000) {
            lastLagWarningMs = Date.now();
            logger.warn(
              {
                lagSeconds: Math.round(lagMs / 1000),
                pending: watermark.pending,
                streamMaxAgeSeconds: config.streamMaxAgeMs / 1000,
              },
              'ingest is lagging: the oldest uncommitted message is older than TALLY_INGEST_LAG_ALERT',
            );
          }
        },
        () => undefined,
      );
    }, 5000);
    lagTimer.unref();

    let httpUrl: string | undefined;
    const publisher = new EventPublisher(connection);
    if (config.httpPort !== undefined && apiKeys !== undefined) {
      const server = createHttpIngestServer(
        { publisher, apiKeys, sourceKeys, acceptWindow, metrics, logger },
        {
          maxBodyBytes: config.httpMaxBodyBytes,
          maxEvents: config.httpMaxEvents,
          subjectPrefix: config.subjectPrefix,
          headersTimeoutMs: config.httpHeadersTimeoutMs,
          requestTimeoutMs: config.httpRequestTimeoutMs,
          maxConnections: config.httpMaxConnections,
          eventsPerSecondPerKey: config.httpEventsPerSecondPerKey,
        },
      );
      httpUrl = await listen(server, config.httpPort, config.httpHost);
      servers.push(server);
      logger.info({ url: httpUrl }, 'HTTP ingest endpoint listening');
    }
    let metricsUrl: string | undefined;
    if (config.metricsPort !== undefined) {
      const server = createMetricsServer(metrics.registry);
      metricsUrl = `${await listen(server, config.metricsPort, config.httpHost)}/metrics`;
      servers.push(server);
    }
    logger.info(
      {
        stream: config.streamName,
        consumer: config.consumerName,
        batchSize: config.batchSize,
        writers: config.writers,
        natsServer: nc.info?.version,
      },
      'ingest worker running',
    );

    let stopped: Promise<void> | undefined;
    return {
      consumer,
      metrics,
      httpUrl,
      metricsUrl,
      stop: () => {
        stopped ??= (async () => {
          logger.info('ingest worker draining');
          await Promise.all(
            servers.map(
              (server) =>
                new Promise<void>((resolve) => {
                  server.close(() => resolve());
                  server.closeIdleConnections();
                }),
            ),
          );
          await publisher.close();
          await consumer.stop();
          clearInterval(lagTimer);
          sourceKeys.stop();
          await connection.drain().catch(() => undefined);
          await pool.end();
          logger.info({ ...consumer.totals }, 'ingest worker stopped');
        })();
        return stopped;
      },
    };
  } catch (error) {
    sourceKeys.stop();
    for (const server of servers) server.close();
    await nc?.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }
}

function listen(server: http.Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve(`http://${host}:${address.port}`);
    });
  });
}
