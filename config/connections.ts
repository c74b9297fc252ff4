import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { z } from 'zod';
import { TallyError } from '../contracts/tally-error.ts';
import { ConfigError } from './parse-env.ts';

/**
 * How Tally authenticates to and encrypts its three connections (SPEC §13): NATS (a credentials
 * file, an nkey seed, a user and password or a token; TLS with a CA and a client certificate),
 * Temporal (TLS with a CA and a client certificate for mTLS, or an API key over TLS) and Postgres
 * (TLS by sslmode, a client certificate, a password from a file; and the owner role that migrates).
 *
 * Secrets come from files (`…_FILE`, read when a connection opens, so a rotated file is picked up
 * on the next connection) or from the environment; both are held in {@link SecretSource}s that
 * print as `<secret>` whatever prints them (a log line, an error, `JSON.stringify`).
 */
const filePath = z.string().min(1, 'name a file');
const secretValue = z.string().min(1, 'must not be empty');
const trueOrFalse = z.enum(['true', 'false'], { message: "'true' or 'false'" });

export const ConnectionsEnvSchema = z.object({
  /** A NATS credentials file (user JWT and nkey seed, as `nsc` writes it). */
  NATS_CREDS_FILE: filePath.optional(),
  /** A file holding an nkey seed (`SU…`): the server knows the user by its public key. */
  NATS_NKEY_SEED_FILE: filePath.optional(),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: secretValue.optional(),
  NATS_PASSWORD_FILE: filePath.optional(),
  NATS_TOKEN: secretValue.optional(),
  NATS_TOKEN_FILE: filePath.optional(),
  /** TLS to NATS: the CA that signed the servers' certificates; setting any TLS file turns TLS on. */
  NATS_TLS_CA_FILE: filePath.optional(),
  NATS_TLS_CERT_FILE: filePath.optional(),
  NATS_TLS_KEY_FILE: filePath.optional(),

  /** TLS to Temporal without files of its own (a public CA); implied by any TEMPORAL_TLS_* file or an API key. */
  TEMPORAL_TLS: trueOrFalse.optional(),
  TEMPORAL_TLS_CA_FILE: filePath.optional(),
  /** mTLS: the client certificate and its key. */
  TEMPORAL_TLS_CERT_FILE: filePath.optional(),
  TEMPORAL_TLS_KEY_FILE: filePath.optional(),
  /** The name the server's certificate is checked against, when it is not the host of TEMPORAL_ADDRESS. */
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: secretValue.optional(),
  TEMPORAL_API_KEY_FILE: filePath.optional(),

  /** The password of DATABASE_URL's user, from a file (then DATABASE_URL carries none). */
  DATABASE_PASSWORD_FILE: filePath.optional(),
  /** libpq's sslmode: disable, require (encrypted), verify-ca, verify-full (encrypted and the server checked). */
  DATABASE_SSLMODE: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
  DATABASE_SSL_CA_FILE: filePath.optional(),
  DATABASE_SSL_CERT_FILE: filePath.optional(),
  DATABASE_SSL_KEY_FILE: filePath.optional(),
  /**
   * The owner role that applies migrations (`tally db migrate`, and a worker at start when set).
   * Without it, processes connect as DATABASE_URL's role and only check that the schema is current
   * when that role may not change it (docs/decisions/production.md).
   */
  DATABASE_MIGRATION_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL')
    .optional(),
  DATABASE_MIGRATION_PASSWORD_FILE: filePath.optional(),
});
export type ConnectionsEnv = z.infer<typeof ConnectionsEnvSchema>;

/** Cross-variable rules: one NATS authentication, certificate with key, a secret from one place. */
function connectionsEnvProblems(env: ConnectionsEnv): string[] {
  const problems: string[] = [];
  const problem = (variable: string, message: string) => problems.push(`${variable}: ${message}`);
  const natsMethods = [
    env.NATS_CREDS_FILE && 'NATS_CREDS_FILE',
    env.NATS_NKEY_SEED_FILE && 'NATS_NKEY_SEED_FILE',
    (env.NATS_USER ?? env.NATS_PASSWORD ?? env.NATS_PASSWORD_FILE) && 'NATS_USER',
    (env.NATS_TOKEN ?? env.NATS_TOKEN_FILE) && 'NATS_TOKEN',
  ].filter((method): method is string => typeof method === 'string');
  if (natsMethods.length > 1) {
    problem(natsMethods[1] as string, `choose one NATS authentication; also set: ${natsMethods.join(', ')}`);
  }
  const pairs: Array<[string | undefined, string | undefined, string, string]> = [
    [env.NATS_PASSWORD, env.NATS_PASSWORD_FILE, 'NATS_PASSWORD', 'NATS_PASSWORD_FILE'],
    [env.NATS_TOKEN, env.NATS_TOKEN_FILE, 'NATS_TOKEN', 'NATS_TOKEN_FILE'],
    [env.TEMPORAL_API_KEY, env.TEMPORAL_API_KEY_FILE, 'TEMPORAL_API_KEY', 'TEMPORAL_API_KEY_FILE'],
  ];
  for (const [value, file, valueName, fileName] of pairs) {
    if (value !== undefined && file !== undefined) problem(fileName, `set ${valueName} or ${fileName}, not both`);
  }
  if ((env.NATS_PASSWORD ?? env.NATS_PASSWORD_FILE) !== undefined && env.NATS_USER === undefined) {
    problem('NATS_USER', 'required with NATS_PASSWORD or NATS_PASSWORD_FILE');
  }
  const certificatePairs: Array<[string, string, string | undefined, string | undefined]> = [
    ['NATS_TLS_CERT_FILE', 'NATS_TLS_KEY_FILE', env.NATS_TLS_CERT_FILE, env.NATS_TLS_KEY_FILE],
    ['TEMPORAL_TLS_CERT_FILE', 'TEMPORAL_TLS_KEY_FILE', env.TEMPORAL_TLS_CERT_FILE, env.TEMPORAL_TLS_KEY_FILE],
    ['DATABASE_SSL_CERT_FILE', 'DATABASE_SSL_KEY_FILE', env.DATABASE_SSL_CERT_FILE, env.DATABASE_SSL_KEY_FILE],
  ];
  for (const [certName, keyName, cert, key] of certificatePairs) {
    if ((cert === undefined) !== (key === undefined)) {
      problem(cert === undefined ? certName : keyName, `a client certificate needs both ${certName} and ${keyName}`);
    }
  }
  if (env.TEMPORAL_TLS === 'false' && temporalTlsImplied(env)) {
    problem('TEMPORAL_TLS', 'is false, but TLS files or an API key are set (an API key is only sent over TLS)');
  }
  if (
    env.DATABASE_SSLMODE === 'disable' &&
    (env.DATABASE_SSL_CA_FILE ?? env.DATABASE_SSL_CERT_FILE ?? env.DATABASE_SSL_KEY_FILE) !== undefined
  ) {
    problem('DATABASE_SSLMODE', 'is disable, but DATABASE_SSL_* files are set');
  }
  return problems;
}

function temporalTlsImplied(env: ConnectionsEnv): boolean {
  return (
    (env.TEMPORAL_TLS_CA_FILE ??
      env.TEMPORAL_TLS_CERT_FILE ??
      env.TEMPORAL_API_KEY ??
      env.TEMPORAL_API_KEY_FILE ??
      env.TEMPORAL_TLS_SERVER_NAME) !== undefined
  );
}

/**
 * A secret, from the environment or a file, that never prints: `String()`, `JSON.stringify` and
 * `util.inspect` (console.log, pino) all show `<secret>`. Only {@link readSecret} gives the value.
 */
export class SecretSource {
  readonly #value: string | undefined;
  /** The file holding the secret, when it comes from one (a path is not a secret). */
  readonly file: string | undefined;

  private constructor(value: string | undefined, file: string | undefined) {
    this.#value = value;
    this.file = file;
  }

  static fromValue(value: string): SecretSource {
    return new SecretSource(value, undefined);
  }

  static fromFile(file: string): SecretSource {
    return new SecretSource(undefined, file);
  }

  /** The value given in the environment (undefined when it comes from a file). */
  valueFromEnvironment(): string | undefined {
    return this.#value;
  }

  toString(): string {
    return '<secret>';
  }

  toJSON(): string {
    return this.file === undefined ? '<secret>' : `<secret from ${this.file}>`;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }
}

type NatsAuthentication =
  | { readonly kind: 'none' }
  | { readonly kind: 'credentials'; readonly file: string }
  | { readonly kind: 'nkey'; readonly seed: SecretSource }
  | { readonly kind: 'password'; readonly user: string; readonly password: SecretSource }
  | { readonly kind: 'token'; readonly token: SecretSource };

interface TlsFiles {
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

export interface NatsSecurity {
  readonly authentication: NatsAuthentication;
  /** TLS on, with these files; undefined: plain TCP unless the URL is tls://. */
  readonly tls: TlsFiles | undefined;
}

export interface TemporalSecurity {
  /** TLS on (with these files, each optional); undefined: plain gRPC. */
  readonly tls: (TlsFiles & { readonly serverName: string | undefined }) | undefined;
  readonly apiKey: SecretSource | undefined;
}

export interface DatabaseSecurity {
  /** Replaces DATABASE_URL's password, read at each new connection. */
  readonly password: SecretSource | undefined;
  readonly sslMode: 'disable' | 'require' | 'verify-ca' | 'verify-full' | undefined;
  readonly tls: TlsFiles;
}

/** Everything about authentication and encryption that a process's connections need. */
export interface ConnectionSecurity {
  readonly nats: NatsSecurity;
  readonly temporal: TemporalSecurity;
  readonly database: DatabaseSecurity;
  /** The owner role's connection for migrations (its own password file), when configured. */
  readonly migration: { readonly databaseUrl: string; readonly database: DatabaseSecurity } | undefined;
}

function secret(value: string | undefined, file: string | undefined): SecretSource | undefined {
  if (file !== undefined) return SecretSource.fromFile(file);
  if (value !== undefined) return SecretSource.fromValue(value);
  return undefined;
}

/** Turns the parsed variables into the settings the connection builders take (nothing is read yet). */
export function connectionSecurityFromEnv(env: ConnectionsEnv): ConnectionSecurity {
  const problems = connectionsEnvProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
  const natsTls: TlsFiles = {
    caFile: env.NATS_TLS_CA_FILE,
    certFile: env.NATS_TLS_CERT_FILE,
    keyFile: env.NATS_TLS_KEY_FILE,
  };
  const natsPassword = secret(env.NATS_PASSWORD, env.NATS_PASSWORD_FILE);
  const natsToken = secret(env.NATS_TOKEN, env.NATS_TOKEN_FILE);
  const authentication: NatsAuthentication =
    env.NATS_CREDS_FILE !== undefined
      ? { kind: 'credentials', file: env.NATS_CREDS_FILE }
      : env.NATS_NKEY_SEED_FILE !== undefined
        ? { kind: 'nkey', seed: SecretSource.fromFile(env.NATS_NKEY_SEED_FILE) }
        : env.NATS_USER !== undefined && natsPassword !== undefined
          ? { kind: 'password', user: env.NATS_USER, password: natsPassword }
          : natsToken !== undefined
            ? { kind: 'token', token: natsToken }
            : { kind: 'none' };
  const temporalTls = env.TEMPORAL_TLS === 'true' || temporalTlsImplied(env);
  const databaseTls: TlsFiles = {
    caFile: env.DATABASE_SSL_CA_FILE,
    certFile: env.DATABASE_SSL_CERT_FILE,
    keyFile: env.DATABASE_SSL_KEY_FILE,
  };
  const database: DatabaseSecurity = {
    password: secret(undefined, env.DATABASE_PASSWORD_FILE),
    sslMode: env.DATABASE_SSLMODE,
    tls: databaseTls,
  };
  return {
    nats: {
      authentication,
      tls: Object.values(natsTls).some((file) => file !== undefined) ? natsTls : undefined,
    },
    temporal: {
      tls: temporalTls
        ? {
            caFile: env.TEMPORAL_TLS_CA_FILE,
            certFile: env.TEMPORAL_TLS_CERT_FILE,
            keyFile: env.TEMPORAL_TLS_KEY_FILE,
            serverName: env.TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      apiKey: secret(env.TEMPORAL_API_KEY, env.TEMPORAL_API_KEY_FILE),
    },
    database,
    migration:
      env.DATABASE_MIGRATION_URL === undefined
        ? undefined
        : {
            databaseUrl: env.DATABASE_MIGRATION_URL,
            database: { ...database, password: secret(undefined, env.DATABASE_MIGRATION_PASSWORD_FILE) },
          },
  };
}

export class SecretFileError extends TallyError {
  constructor(message: string) {
    super('secret_unreadable', message, { permanent: true });
  }
}

/**
 * The secret's value: the environment's, or the file's with its final line break removed. An error
 * names the file and what went wrong with it, never what it holds.
 */
export async function readSecret(source: SecretSource): Promise<string> {
  const fromEnvironment = source.valueFromEnvironment();
  if (fromEnvironment !== undefined) return fromEnvironment;
  const file = source.file as string;
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw new SecretFileError(`cannot read the secret file ${file} (${code})`);
  });
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new SecretFileError(`the secret file ${file} is empty`);
  if (/[\r\n]/.test(value)) throw new SecretFileError(`the secret file ${file} holds more than one line`);
  return value;
}
