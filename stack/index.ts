import { connectionSecurityFromEnv } from '../config/connections.ts';
import type { ServiceEndpoints, ServicesEnv } from '../config/services.ts';
import { stackEndpoints, type ServiceName, type StackLayout } from './local-stack.ts';

export * from './local-stack.ts';
export { ensureTool } from './tools.ts';

/** The user's stack (`tally stack up`, the demo), from the services environment. */
export function userStackLayout(env: ServicesEnv): StackLayout {
  return {
    dataDir: env.TALLY_STACK_DIR,
    toolsDir: env.TALLY_TOOLS_DIR,
    portBase: env.TALLY_PORT_BASE,
    temporalUi: true,
    namespace: env.TEMPORAL_NAMESPACE,
  };
}

/**
 * Where each service is: the embedded stack's, unless an environment variable points at an
 * existing service. `embedded` lists the services the stack must run itself.
 */
export function resolveEndpoints(
  env: ServicesEnv,
  layout: StackLayout,
): { endpoints: ServiceEndpoints; embedded: ServiceName[] } {
  const local = stackEndpoints(layout);
  const embedded: ServiceName[] = [];
  if (env.DATABASE_URL === undefined) embedded.push('postgres');
  if (env.NATS_URL === undefined) embedded.push('nats');
  if (env.TEMPORAL_ADDRESS === undefined) embedded.push('temporal');
  return {
    endpoints: {
      databaseUrl: env.DATABASE_URL ?? local.databaseUrl,
      natsUrl: env.NATS_URL ?? local.natsUrl,
      temporalAddress: env.TEMPORAL_ADDRESS ?? local.temporalAddress,
      temporalNamespace: env.TEMPORAL_NAMESPACE,
      security: connectionSecurityFromEnv(env),
    },
    embedded,
  };
}
