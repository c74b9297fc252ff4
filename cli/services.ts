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
