import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BillingWorkerEnvSchema } from '../../config/billing-worker.ts';
import { connectionSecurityFromEnv } from '../../config/connections.ts';
import { ConsoleEnvSchema } from '../../config/console.ts';
import { IngestWorkerEnvSchema } from '../../config/ingest-worker.ts';
import { MarketplaceEnvSchema } from '../../config/marketplace.ts';
import { parseServicesEnv, repositoryRoot } from '../../config/services.ts';
import { redactEnvValue } from '../../config/parse-env.ts';
import { SEARCH_ATTRIBUTES } from '../../stack/local-stack.ts';
import { PINNED_TOOLS } from '../../stack/tools.ts';

// No Docker engine runs here, so docker-compose.yml is checked statically: services, images,
// authentication, secrets, health checks, and the variables Tally reads must hang together.
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: string[] | Record<string, unknown>;
  secrets?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[] };
}

const compose = parse(await readFile(path.join(repositoryRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  secrets: Record<string, { file?: string }>;
};
const services = compose.services;
const tallyServices = Object.keys(services).filter((name) => name.startsWith('tally-'));
const natsServices = Object.keys(services).filter((name) => name.startsWith('nats-'));
/** Run once and exit: they have no health to check, others wait for their completion. */
const ONE_SHOTS = ['temporal-schema', 'temporal-setup', 'tally-migrate'];
const dockerignore = (await readFile(path.join(repositoryRoot, '.dockerignore'), 'utf8'))
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

describe('docker-compose.yml', () => {
  it('describes the production shape: Postgres, Temporal on it, three NATS servers, Tally', () => {
    expect(Object.keys(services).sort()).toEqual([
      'nats-1',
      'nats-2',
      'nats-3',
      'postgres',
      'tally-console',
      'tally-ingest',
      'tally-migrate',
      'tally-worker',
      'temporal',
      'temporal-schema',
      'temporal-setup',
      'temporal-ui',
    ]);
  });

  it('pins every image, builds Tally from the repository, and runs the Temporal server the tests build', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name.startsWith('tally-')) expect(service.build, name).toBe('.');
      else expect(service.image, name).toMatch(/^[\w./-]+:\d[\w.-]*$/);
    }
    const serverVersion = PINNED_TOOLS['temporal-server'].version.replace(/^v/, '');
    expect(services.temporal?.image).toBe(`temporalio/server:${serverVersion}`);
    expect(services['temporal-schema']?.image).toBe(`temporalio/admin-tools:${serverVersion}`);
    expect(PINNED_TOOLS['temporal-sql-tool'].version).toBe(PINNED_TOOLS['temporal-server'].version);
  });

  it('registers the namespace and the search attributes the workflows set, as the embedded stack does', () => {
    const setup = services['temporal-setup'];
    expect(setup?.environment?.SEARCH_ATTRIBUTES?.split(' ')).toEqual([...SEARCH_ATTRIBUTES]);
    for (const name of ['tally-worker', 'tally-console']) {
      expect(setup?.environment?.TEMPORAL_NAMESPACE).toBe(services[name]?.environment?.TEMPORAL_NAMESPACE);
      expect((services[name]?.depends_on as Record<string, unknown>)['temporal-setup'], name).toEqual({
        condition: 'service_completed_successfully',
      });
    }
    // The schema is made by Temporal's own tool before the server starts.
    expect(services['temporal-schema']?.command?.join('\n')).toMatch(/temporal-sql-tool .*setup-schema/);
    expect((services.temporal?.depends_on as Record<string, unknown>)['temporal-schema']).toEqual({
      condition: 'service_completed_successfully',
    });
  });

  it('gives every long-running service a health check', () => {
    for (const [name, service] of Object.entries(services)) {
      if (ONE_SHOTS.includes(name)) continue;
      expect(service.healthcheck?.test?.length, name).toBeGreaterThan(0);
    }
  });

  it('sets only variables Tally reads, and they parse into authenticated, encrypted connections', () => {
    const known = new Set([
      ...Object.keys(IngestWorkerEnvSchema.shape),
      ...Object.keys(BillingWorkerEnvSchema.shape),
      ...Object.keys(ConsoleEnvSchema.shape),
      ...Object.keys(MarketplaceEnvSchema.shape),
    ]);
    for (const name of tallyServices) {
      const environment = services[name]?.environment ?? {};
      const unknown = Object.keys(environment).filter((variable) => !known.has(variable));
      expect(unknown, `${name} sets variables no config schema reads`).toEqual([]);
      const security = connectionSecurityFromEnv(parseServicesEnv(environment));
      expect(security.nats.authentication.kind, name).toBe('password');
      expect(security.nats.tls?.caFile, name).toBe('/run/secrets/ca.crt');
      expect(security.temporal.tls?.certFile, name).toBe('/run/secrets/tally-client.crt');
      expect(security.database.sslMode, name).toBe('verify-full');
      expect(security.database.password?.file, name).toBe('/run/secrets/tally-app-db-password');
      expect(new URL(environment.DATABASE_URL ?? '').username, name).toBe('tally_app');
    }
    expect(services['tally-migrate']?.environment?.DATABASE_MIGRATION_URL).toMatch(/^postgres:\/\/tally_owner@/);
  });

  it('points Tally at every NATS server, with the usage stream on all three', () => {
    for (const name of tallyServices) {
      const environment = services[name]?.environment ?? {};
      expect(
        environment.NATS_URL?.split(',').map((url) => new URL(url).hostname),
        name,
      ).toEqual(natsServices);
      expect(environment.TALLY_INGEST_STREAM_REPLICAS, name).toBe(String(natsServices.length));
    }
    expect(natsServices).toHaveLength(3);
  });

  it('turns authentication on for every service it runs', async () => {
    const postgres = services.postgres?.environment ?? {};
    expect(postgres.POSTGRES_PASSWORD).toBeUndefined();
    expect(postgres.POSTGRES_PASSWORD_FILE).toMatch(/^\/run\/secrets\//);
    expect(services.postgres?.command).toContain('ssl=on');
    const initRoles = await readFile(path.join(repositoryRoot, 'deploy/postgres/init-roles.sh'), 'utf8');
    expect(initRoles).toMatch(/hostnossl all +all +0\.0\.0\.0\/0 +reject/);
    expect(initRoles).toMatch(/IN ROLE tally_application/);

    const temporal = services.temporal?.environment ?? {};
    expect(temporal.TEMPORAL_TLS_REQUIRE_CLIENT_AUTH).toBe('true');
    expect(temporal.SQL_TLS_ENABLED).toBe('true');
    expect(temporal.POSTGRES_PWD).toBeUndefined();

    const natsConf = await readFile(path.join(repositoryRoot, 'deploy/nats/nats.conf'), 'utf8');
    expect(natsConf).toMatch(/include \/run\/secrets\/nats-users\.conf/);
    expect(natsConf).toMatch(/^tls \{/m);
    expect(natsConf).toMatch(/verify: true/);
    for (const name of natsServices) expect(services[name]?.secrets, name).toContain('nats-users.conf');
  });

  it('keeps every secret in a compose secret: none in a variable, all mounted where they are named', () => {
    for (const [name, service] of Object.entries(services)) {
      const text = JSON.stringify({ environment: service.environment, command: service.command });
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        // A secret-looking variable holds a path, never the secret (redactEnvValue withholds those).
        if (redactEnvValue(variable, value).startsWith('<withheld'))
          expect(value, `${name} ${variable}`).toMatch(/^\//);
        if (/^postgres(ql)?:\/\//.test(value)) expect(new URL(value).password, `${name} ${variable}`).toBe('');
      }
      for (const [, secret] of text.matchAll(/\/run\/secrets\/([\w.-]+)/g)) {
        expect(service.secrets, `${name} reads /run/secrets/${secret}`).toContain(secret);
      }
      for (const secret of service.secrets ?? []) expect(Object.keys(compose.secrets), name).toContain(secret);
    }
    for (const [name, secret] of Object.entries(compose.secrets)) {
      expect(secret.file, name).toBe(`./secrets/${name}`);
    }
  });

  it('never builds a secret into the image: .dockerignore keeps the secrets folder and key files out', () => {
    expect(dockerignore).toEqual(expect.arrayContaining(['secrets', '**/*.key', '**/*.pem', '.env']));
    const dockerfile = spawnSync('grep', ['-c', 'secrets', path.join(repositoryRoot, 'Dockerfile')], {
      encoding: 'utf8',
    });
    expect(dockerfile.stdout.trim()).toBe('0');
  });

  it('publishes only on the loopback interface, each host port once', () => {
    const published = Object.values(services).flatMap((service) => service.ports ?? []);
    for (const mapping of published) expect(mapping).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    const hostPorts = published.map((mapping) => mapping.split(':')[1]);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const name of ['postgres', 'temporal', ...natsServices]) expect(services[name]?.ports, name).toBeUndefined();
  });

  it('runs Tally commands that exist, with the options they take', () => {
    for (const name of tallyServices) {
      const command = services[name]?.command ?? [];
      expect(command.slice(0, 2), name).toEqual(['node', 'bin/tally.mjs']);
      const help = spawnSync(
        process.execPath,
        [
          path.join(repositoryRoot, 'bin', 'tally.mjs'),
          ...command.slice(2).filter((word) => !/^\d+$/.test(word) && !word.startsWith('--')),
          '--help',
        ],
        { encoding: 'utf8' },
      );
      expect(help.status, `${command.join(' ')}: ${help.stderr}`).toBe(0);
      for (const option of command.filter((word) => word.startsWith('--')))
        expect(help.stdout, `${name} ${option}`).toContain(option);
    }
  });

  it('names only existing services in depends_on', () => {
    for (const [name, service] of Object.entries(services)) {
      const dependencies = Array.isArray(service.depends_on)
        ? service.depends_on
        : Object.keys(service.depends_on ?? {});
      for (const dependency of dependencies)
        expect(Object.keys(services), `${name} depends on ${dependency}`).toContain(dependency);
    }
  });
});
