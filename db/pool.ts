import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { readSecret, SecretFileError, type DatabaseSecurity } from '../config/connections.ts';
import type { ServiceEndpoints } from '../config/services.ts';

/** A database to connect to: a URL alone (the embedded stack, tests), or the endpoints with their security. */
export type DatabaseTarget = string | Pick<ServiceEndpoints, 'databaseUrl' | 'security'>;

/**
 * A connection pool. NUMERIC and int8 come back from `pg` as strings, which is what Tally wants:
 * money and quantities go straight into decimal.js. (`numeric[]` arrays would be parsed as floats:
 * never select `array_agg(numeric)`; cast to text[].)
 */
export function createPool(
  database: DatabaseTarget,
  options: { max?: number; applicationName?: string } = {},
): pg.Pool {
  const databaseUrl = typeof database === 'string' ? database : database.databaseUrl;
  const security = typeof database === 'string' ? undefined : database.security?.database;
  const pool = new pg.Pool({
    // pg lets the URL's fields override the others, an absent password included: with a password
    // file the URL is taken apart, so the password function is what pg uses.
    ...(security?.password === undefined ? { connectionString: databaseUrl } : urlFields(databaseUrl)),
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'tally',
    ...postgresSecurityConfig(security),
  });
  // An idle client that loses its server (a Postgres restart) must not crash the process.
  pool.on('error', () => undefined);
  // Nor may a checked-out one between queries (the pool listens only while a client is idle): the
  // failure still reaches the caller through its next query, and the pool drops the broken client.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

/**
 * A pool on the owner role that applies migrations (DATABASE_MIGRATION_URL with its own password
 * file) when one is configured, else on the application's own connection.
 */
export function createMigrationPool(database: DatabaseTarget): pg.Pool {
  const options = { max: 1, applicationName: 'tally-migrate' };
  const security = typeof database === 'string' ? undefined : database.security;
  if (security?.migration === undefined) return createPool(database, options);
  return createPool(
    { databaseUrl: security.migration.databaseUrl, security: { ...security, database: security.migration.database } },
    options,
  );
}

/**
 * pg's settings for a password from a file (read at every new connection, so a rotated file is
 * used by the next one) and TLS by libpq's sslmode: require encrypts, verify-ca also checks the
 * server's certificate against the CA, verify-full also its host name.
 */
export function postgresSecurityConfig(
  security: DatabaseSecurity | undefined,
): Pick<pg.PoolConfig, 'password' | 'ssl'> {
  if (security === undefined) return {};
  const passwordSource = security.password;
  const config: Pick<pg.PoolConfig, 'password' | 'ssl'> = {};
  if (passwordSource !== undefined) config.password = () => readSecret(passwordSource);
  const mode = security.sslMode ?? (security.tls.caFile === undefined ? undefined : 'verify-full');
  if (mode === undefined || mode === 'disable') return mode === 'disable' ? { ...config, ssl: false } : config;
  const ssl: ConnectionOptions = {
    rejectUnauthorized: mode !== 'require',
    ...(security.tls.caFile === undefined ? {} : { ca: readTlsFile(security.tls.caFile) }),
    ...(security.tls.certFile === undefined ? {} : { cert: readTlsFile(security.tls.certFile) }),
    ...(security.tls.keyFile === undefined ? {} : { key: readTlsFile(security.tls.keyFile) }),
    ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
  return { ...config, ssl };
}

/** Host, port, user and database of a postgres:// URL; its query parameters have variables of their own. */
function urlFields(databaseUrl: string): Pick<pg.PoolConfig, 'host' | 'port' | 'user' | 'database'> {
  const url = new URL(databaseUrl);
  if (url.search !== '') {
    throw new SecretFileError(
      'with DATABASE_PASSWORD_FILE, give connection options as variables (DATABASE_SSLMODE…), not in the URL query',
    );
  }
  return {
    host: decodeURIComponent(url.hostname),
    port: url.port === '' ? 5432 : Number.parseInt(url.port, 10),
    user: decodeURIComponent(url.username),
    database: decodeURIComponent(url.pathname.slice(1)),
  };
}

function readTlsFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new SecretFileError(
      `cannot read the Postgres TLS file ${file} (${(error as { code?: string }).code ?? 'unreadable'})`,
    );
  }
}

/** Runs `work` in a transaction owned by the caller; rolls back on any error. */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
