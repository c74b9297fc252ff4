import path from 'node:path';
import { z } from 'zod';
import { ConnectionsEnvSchema, type ConnectionSecurity } from './connections.ts';
import { parseEnv, portFromEnv } from './parse-env.ts';
import { repositoryRoot } from './paths.ts';

export { repositoryRoot } from './paths.ts';

/**
 * Where Tally finds its three services. By default the embedded stack of `tally stack up`
 * (ports counted from TALLY_PORT_BASE, data under TALLY_STACK_DIR); TEMPORAL_ADDRESS,
 * NATS_URL and DATABASE_URL point at existing services instead.
 */
export const ServicesEnvSchema = z
  .object({
    TALLY_STACK_DIR: z
      .string()
      .min(1)
      .default(path.join(repositoryRoot, '.tally', 'stack')),
    TALLY_PORT_BASE: portFromEnv.default(17320),
    TALLY_TOOLS_DIR: z.string().min(1).default(path.join(repositoryRoot, '.tools')),
    TEMPORAL_ADDRESS: z
      .string()
      .regex(/^[\w.-]+:\d+$/, 'must be host:port')
      .optional(),
    TEMPORAL_NAMESPACE: z.string().min(1).default('billing'),
    NATS_URL: z
      .string()
      .regex(/^(nats|tls):\/\/\S+$/, 'must be a nats:// URL')
      .optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL')
      .optional(),
  })
  .extend(ConnectionsEnvSchema.shape);
export type ServicesEnv = z.infer<typeof ServicesEnvSchema>;

export interface ServiceEndpoints {
  readonly temporalAddress: string;
  readonly temporalNamespace: string;
  readonly natsUrl: string;
  readonly databaseUrl: string;
  /** Authentication and TLS for the three (config/connections.ts); absent: none, as on the embedded stack. */
  readonly security?: ConnectionSecurity;
}

export function parseServicesEnv(env: Record<string, string | undefined> = process.env): ServicesEnv {
  return parseEnv(ServicesEnvSchema, env);
}
