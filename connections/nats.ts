import { readFile } from 'node:fs/promises';
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { readSecret, SecretFileError, type NatsSecurity } from '../config/connections.ts';
import type { ServiceEndpoints } from '../config/services.ts';

/** The authentication and TLS options of a NATS connection, with its secrets read from their files now. */
export async function natsSecurityOptions(
  security: NatsSecurity | undefined,
): Promise<Pick<NodeConnectionOptions, 'authenticator' | 'tls'>> {
  if (security === undefined) return {};
  const authenticator = await natsAuthenticator(security);
  return {
    ...(authenticator === undefined ? {} : { authenticator }),
    ...(security.tls === undefined
      ? {}
      : {
          tls: {
            ...(security.tls.caFile === undefined ? {} : { caFile: security.tls.caFile }),
            ...(security.tls.certFile === undefined ? {} : { certFile: security.tls.certFile }),
            ...(security.tls.keyFile === undefined ? {} : { keyFile: security.tls.keyFile }),
          },
        }),
  };
}

async function natsAuthenticator(security: NatsSecurity): Promise<Authenticator | undefined> {
  const { authentication } = security;
  switch (authentication.kind) {
    case 'none':
      return undefined;
    case 'credentials': {
      const file = authentication.file;
      const bytes = await readFile(file).catch((error: unknown) => {
        throw new SecretFileError(
          `cannot read the NATS credentials file ${file} (${(error as { code?: string }).code ?? 'unreadable'})`,
        );
      });
      return credsAuthenticator(new Uint8Array(bytes));
    }
    case 'nkey':
      return nkeyAuthenticator(new TextEncoder().encode(await readSecret(authentication.seed)));
    case 'password':
      return usernamePasswordAuthenticator(authentication.user, await readSecret(authentication.password));
    case 'token':
      return tokenAuthenticator(await readSecret(authentication.token));
  }
}

/**
 * Connects to NATS as configured: every server of a comma-separated NATS_URL (a cluster), with the
 * authentication and TLS of `endpoints.security`. `options` adds the caller's name, reconnect policy…
 */
export async function connectNats(
  endpoints: Pick<ServiceEndpoints, 'natsUrl' | 'security'>,
  options: Omit<NodeConnectionOptions, 'servers' | 'authenticator' | 'tls'> = {},
): Promise<NatsConnection> {
  return connect({
    servers: natsServers(endpoints.natsUrl),
    ...(await natsSecurityOptions(endpoints.security?.nats)),
    ...options,
  });
}

/** The servers of a NATS_URL: one URL, or several separated by commas. */
function natsServers(natsUrl: string): string[] {
  return natsUrl
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server !== '');
}
