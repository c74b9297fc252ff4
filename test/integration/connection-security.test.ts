import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import type { Authenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsSecurityOptions } from '../../connections/nats.ts';
import { temporalConnectionOptions } from '../../connections/temporal.ts';
import { postgresSecurityConfig } from '../../db/pool.ts';
import { connectionSecurityFromEnv, readSecret, SecretSource } from '../../config/connections.ts';
import { ConfigError } from '../../config/parse-env.ts';
import { parseServicesEnv } from '../../config/services.ts';

const SECRET = 'correct-horse-battery-staple-7f3a';
let directory: string;
let secretFile: string;

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'tally-connections-'));
  secretFile = path.join(directory, 'secret');
  await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
  for (const name of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(path.join(directory, name), `-- ${name} --\n`);
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

function security(env: Record<string, string>) {
  return connectionSecurityFromEnv(parseServicesEnv(env));
}

describe('connection security from the environment', () => {
  it('builds NATS, Temporal and Postgres options from files, reading the secrets only when connecting', async () => {
    const file = (name: string) => path.join(directory, name);
    const settings = security({
      NATS_URL: 'tls://n1:4222,tls://n2:4222',
      NATS_USER: 'ingest',
      NATS_PASSWORD_FILE: secretFile,
      NATS_TLS_CA_FILE: file('ca.pem'),
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_TLS_CA_FILE: file('ca.pem'),
      TEMPORAL_TLS_CERT_FILE: file('cert.pem'),
      TEMPORAL_TLS_KEY_FILE: file('key.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      DATABASE_URL: 'postgres://tally_app@db:5432/tally',
      DATABASE_PASSWORD_FILE: secretFile,
      DATABASE_SSLMODE: 'verify-full',
      DATABASE_SSL_CA_FILE: file('ca.pem'),
      DATABASE_MIGRATION_URL: 'postgres://tally_owner@db:5432/tally',
      DATABASE_MIGRATION_PASSWORD_FILE: file('cert.pem'),
    });

    const nats = await natsSecurityOptions(settings.nats);
    expect(nats.tls).toEqual({ caFile: file('ca.pem') });
    expect(nats.authenticator).toBeTypeOf('function');
    expect((nats.authenticator as Authenticator)()).toEqual({ user: 'ingest', pass: SECRET });

    const temporal = await temporalConnectionOptions({ temporalAddress: 'temporal:7233', security: settings });
    expect(temporal).toMatchObject({
      address: 'temporal:7233',
      tls: {
        serverNameOverride: 'temporal.internal',
        serverRootCACertificate: Buffer.from('-- ca.pem --\n'),
        clientCertPair: { crt: Buffer.from('-- cert.pem --\n'), key: Buffer.from('-- key.pem --\n') },
      },
    });
    expect(temporal.apiKey).toBeUndefined();

    const postgres = postgresSecurityConfig(settings.database);
    expect(postgres.ssl).toMatchObject({ rejectUnauthorized: true, ca: '-- ca.pem --\n' });
    expect(typeof postgres.password === 'function' ? await postgres.password() : undefined).toBe(SECRET);
    expect(settings.migration?.databaseUrl).toBe('postgres://tally_owner@db:5432/tally');
    expect(settings.migration?.database.password?.file).toBe(file('cert.pem'));
  });

  it('takes an API key (TLS implied) and a token from the environment', async () => {
    const settings = security({ TEMPORAL_API_KEY: SECRET, NATS_TOKEN: SECRET });
    const temporal = await temporalConnectionOptions({ temporalAddress: 'cloud:7233', security: settings });
    expect(temporal).toEqual({ address: 'cloud:7233', tls: {}, apiKey: SECRET });
    const nats = await natsSecurityOptions(settings.nats);
    expect((nats.authenticator as Authenticator)()).toEqual({ auth_token: SECRET });
  });

  it('never prints a secret: not in JSON, inspect, String, nor in a configuration error', () => {
    const settings = security({ NATS_USER: 'ingest', NATS_PASSWORD: SECRET, TEMPORAL_API_KEY_FILE: secretFile });
    for (const shown of [
      JSON.stringify(settings),
      inspect(settings, { depth: 10 }),
      String(SecretSource.fromValue(SECRET)),
    ])
      expect(shown).not.toContain(SECRET);
    expect(JSON.stringify(settings)).toContain(`<secret from ${secretFile}>`);

    let error: unknown;
    try {
      security({ NATS_PASSWORD: SECRET, NATS_TOKEN: SECRET, TEMPORAL_API_KEY: SECRET, TEMPORAL_TLS: 'false' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('NATS_USER: required with NATS_PASSWORD or NATS_PASSWORD_FILE');
    expect(message).toContain('choose one NATS authentication');
    expect(message).toContain('TEMPORAL_TLS: is false, but TLS files or an API key are set');
    expect(message).not.toContain(SECRET);
  });

  it('refuses a certificate without its key, and an empty secret without showing it', () => {
    expect(() => security({ NATS_TLS_CERT_FILE: '/x/cert.pem' })).toThrow(
      'NATS_TLS_KEY_FILE: a client certificate needs both NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE',
    );
    expect(() => parseServicesEnv({ NATS_PASSWORD: '' })).toThrow('NATS_PASSWORD=<withheld, 0 characters>');
  });

  it('reads a secret file without its final line break; a missing file is named, its contents never', async () => {
    expect(await readSecret(SecretSource.fromFile(secretFile))).toBe(SECRET);
    await expect(readSecret(SecretSource.fromFile(path.join(directory, 'absent')))).rejects.toThrow(
      `cannot read the secret file ${path.join(directory, 'absent')} (ENOENT)`,
    );
    const twoLines = path.join(directory, 'two-lines');
    await writeFile(twoLines, `${SECRET}\nsecond\n`);
    await expect(readSecret(SecretSource.fromFile(twoLines))).rejects.toThrow(
      `the secret file ${twoLines} holds more than one line`,
    );
  });
});
