import path from 'node:path';
import { repositoryRoot } from '../config/services.ts';
import { removeStackData, startStack, stopService, type StackLayout } from '../stack/index.ts';

/** The sources the ingest benches sign events for. */
export const BENCH_SOURCES = [
  'api-gateway',
  'batch-runner',
  'search-edge',
  'storage-meter',
  'image-service',
  'compute-agent',
] as const;

/**
 * A fresh embedded Postgres for a bench, alone (no NATS, no Temporal), under `.tally/bench-<name>-<port base>`
 * (`TALLY_BENCH_PORT_BASE`, default 17600): whatever an earlier run left there is removed first.
 */
export async function startBenchPostgres(
  name: string,
): Promise<{ layout: StackLayout; databaseUrl: string; remove: () => Promise<void> }> {
  const portBase = Number(process.env.TALLY_BENCH_PORT_BASE ?? '17600');
  const layout: StackLayout = {
    dataDir: path.join(repositoryRoot, '.tally', `bench-${name}-${portBase}`),
    toolsDir: path.join(repositoryRoot, '.tools'),
    portBase,
    temporalUi: false,
    namespace: 'billing',
  };
  const quiet = (): void => undefined;
  const remove = async (): Promise<void> => {
    await stopService(layout, 'postgres', quiet);
    await removeStackData(layout);
  };
  await remove();
  const endpoints = await startStack(layout, quiet, ['postgres']);
  return { layout, databaseUrl: endpoints.databaseUrl, remove };
}
