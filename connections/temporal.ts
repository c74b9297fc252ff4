import { readFile } from 'node:fs/promises';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { readSecret, SecretFileError, type TemporalSecurity } from '../config/connections.ts';
import type { ServiceEndpoints } from '../config/services.ts';

type TemporalEndpoints = Pick<ServiceEndpoints, 'temporalAddress' | 'security'>;

/** The address, TLS and API key of a Temporal connection, with its files read now. */
export async function temporalConnectionOptions(
  endpoints: TemporalEndpoints,
): Promise<Pick<ConnectionOptions, 'address' | 'tls' | 'apiKey'>> {
  const security: TemporalSecurity | undefined = endpoints.security?.temporal;
  const tls = security?.tls;
  const apiKey = security?.apiKey === undefined ? undefined : await readSecret(security.apiKey);
  return {
    address: endpoints.temporalAddress,
    ...(tls === undefined
      ? {}
      : {
          tls: {
            ...(tls.serverName === undefined ? {} : { serverNameOverride: tls.serverName }),
            ...(tls.caFile === undefined ? {} : { serverRootCACertificate: await readTlsFile(tls.caFile) }),
            ...(tls.certFile === undefined || tls.keyFile === undefined
              ? {}
              : { clientCertPair: { crt: await readTlsFile(tls.certFile), key: await readTlsFile(tls.keyFile) } }),
          },
        }),
    ...(apiKey === undefined ? {} : { apiKey }),
  };
}

/** A client connection (starting, signalling, listing workflows) with the configured TLS and API key. */
export async function connectTemporalClient(endpoints: TemporalEndpoints): Promise<Connection> {
  return Connection.connect(await temporalConnectionOptions(endpoints));
}

/** A worker's connection, with the same TLS and API key. */
export async function connectTemporalWorker(endpoints: TemporalEndpoints): Promise<NativeConnection> {
  const options = await temporalConnectionOptions(endpoints);
  return NativeConnection.connect({
    address: options.address,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(typeof options.apiKey === 'string' ? { apiKey: options.apiKey } : {}),
  });
}

async function readTlsFile(file: string): Promise<Buffer> {
  return readFile(file).catch((error: unknown) => {
    throw new SecretFileError(
      `cannot read the Temporal TLS file ${file} (${(error as { code?: string }).code ?? 'unreadable'})`,
    );
  });
}
