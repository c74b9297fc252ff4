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

/** Makes sure the embedded services are up (starting them if needed) and returns the endpoints. */
export async function ensureServices(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<CliServices> {
  const services = cliServices();
  if (services.embedded.length > 0) await startStack(services.layout, log, services.embedded);
  return services;
}
