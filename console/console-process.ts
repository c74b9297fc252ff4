import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../connections/nats.ts';
import { temporalConnectionOptions } from '../connections/temporal.ts';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { ConsoleSettings } from '../config/console.ts';
import type { ServiceEndpoints } from '../config/services.ts';
import { migrateAtStart } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { deleteExpiredConsoleSessions } from '../db/queries/console-accounts.ts';
import { readIngestWatermark } from '../ingest/ingest-watermark.ts';
import type { IngestLag } from '../views/ops-overview.ts';
import { publishedRateCardVersions } from '../views/ratecard-versions.ts';
import { finopsSourcesFromEnv } from './finops-sources.ts';
import { createConsoleServer } from './server.ts';

export interface RunningConsole {
  readonly url: string;
  readonly server: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Starts the console on the services the workers use: one Postgres pool, one Temporal client, and a
 * NATS connection for ingest's lag (optional: the console works without it). Expired sessions are
 * swept every few minutes. `close()` stops listening, then closes the connections.
 */
export async function startConsole(
  settings: ConsoleSettings,
  endpoints: ServiceEndpoints,
  log: (line: string) => void = () => undefined,
): Promise<RunningConsole> {
  const pool = createPool(endpoints, { max: 10, applicationName: 'tally-console' });
  await migrateAtStart(endpoints, pool);
  // Lazy: the console starts and reads while Temporal is away; a decision then fails with its reason.
  const connection = Connection.lazy(await temporalConnectionOptions(endpoints));
  const temporal = new Client({ connection, namespace: endpoints.temporalNamespace });
  let nats: NatsConnection | undefined;
  const ingestLag = async (): Promise<IngestLag | undefined> => {
    nats ??= await connectNats(endpoints, { name: 'tally-console', timeout: 2000 });
    return readIngestWatermark(await jetstreamManager(nats), settings.streamName, settings.consumerName);
  };
  const server = await createConsoleServer({
    pool,
    temporal,
    temporalNamespace: endpoints.temporalNamespace,
    settings,
    loadRateCardVersions: publishedRateCardVersions(pool),
    ingestLag,
    finops: await finopsSourcesFromEnv(settings.ratecardsDir),
  });
  const sweep = setInterval(() => {
    deleteExpiredConsoleSessions(pool).catch((error: unknown) => log(`session sweep failed: ${String(error)}`));
  }, 5 * 60_000);
  sweep.unref();
  try {
    await server.listen({ port: settings.port, host: settings.host });
  } catch (error) {
    clearInterval(sweep);
    await connection.close();
    await pool.end();
    throw error;
  }
  const address = server.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : settings.port;
  return {
    url: `http://${settings.host}:${port}`,
    server,
    async close() {
      clearInterval(sweep);
      await server.close();
      await nats?.close().catch(() => undefined);
      await connection.close();
      await pool.end();
    },
  };
}
