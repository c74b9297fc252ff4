import { Client } from '@temporalio/client';
import { connectTemporalClient } from '../connections/temporal.ts';
import type pg from 'pg';
import { createPool } from '../db/pool.ts';
import { recordTable, type TextTableOptions } from '../views/text-table.ts';
import { parseServicesEnv, type ServiceEndpoints, type ServicesEnv } from '../config/services.ts';
import { resolveEndpoints, startStack, userStackLayout, type ServiceName, type StackLayout } from '../stack/index.ts';

export interface CliServices {
  readonly env: ServicesEnv;
  readonly layout: StackLayout;
  readonly endpoints: ServiceEndpoints;
  /** The services the embedded stack runs (the others are external, named by environment variables). */
  readonly embedded: ServiceName[];
}

export function cliServices(): CliServices {
  const env = parseServicesEnv();
  const layout = userStackLayout(env);
  return { env, layout, ...resolveEndpoints(env, layout) };
}

/**
 * Makes sure the embedded services are up (starting them if needed) and returns the endpoints.
 * `needed` limits which are started (a command that only talks to Postgres need not start Temporal).
 */
export async function ensureServices(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  needed: readonly ServiceName[] = ['postgres', 'nats', 'temporal'],
): Promise<CliServices> {
  const services = cliServices();
  const start = services.embedded.filter((service) => needed.includes(service));
  if (start.length > 0) await startStack(services.layout, log, start);
  return services;
}

/**
 * Runs `work` with a small pool on the resolved database; starts the embedded services named in
 * `needed` first (Postgres alone by default: most commands read the facts only).
 */
export async function withDatabase<T>(
  work: (pool: pg.Pool, endpoints: ServiceEndpoints) => Promise<T>,
  needed: readonly ServiceName[] = ['postgres'],
): Promise<T> {
  const { endpoints } = await ensureServices(undefined, needed);
  const pool = createPool(endpoints, { max: 2, applicationName: 'tally-cli' });
  try {
    return await work(pool, endpoints);
  } finally {
    await pool.end();
  }
}

/** A Temporal client on the resolved endpoints; close its connection when done. */
export async function connectTemporal(
  endpoints: ServiceEndpoints,
): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await connectTemporalClient(endpoints);
  return {
    client: new Client({ connection, namespace: endpoints.temporalNamespace }),
    close: () => connection.close(),
  };
}

/** Prints records as the project's terminal table (views/text-table.ts). */
export function printTable(
  rows: readonly Record<string, string | number | undefined>[],
  columns: readonly string[],
  options: TextTableOptions = {},
): void {
  process.stdout.write(recordTable(rows, columns, options));
}
