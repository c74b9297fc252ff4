import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../config/services.ts';
import { SEARCH_ATTRIBUTES } from '../../stack/local-stack.ts';

// No Docker engine runs here, so docker-compose.yml is checked for consistency instead:
// services, images, ports and connection URLs must hang together.
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: string[] | Record<string, unknown>;
}

const compose = parse(await readFile(path.join(repositoryRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;
const containerPort = { postgres: '5432', nats: '4222', temporal: '7233' } as const;

describe('docker-compose.yml', () => {
  it('describes the production shape', () => {
    expect(Object.keys(services).sort()).toEqual([
      'nats',
      'postgres',
      'tally-console',
      'tally-ingest',
      'tally-worker',
      'temporal',
      'temporal-setup',
      'temporal-ui',
    ]);
  });

  it('pins every image and builds Tally from the repository', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name.startsWith('tally-')) {
        expect(service.build, name).toBe('.');
      } else {
        expect(service.image, name).toMatch(/^[\w./-]+:\d[\w.-]*$/);
      }
    }
  });

  it('runs the Temporal server version that the embedded dev server runs', () => {
    expect(services.temporal?.image).toBe('temporalio/auto-setup:1.29.1');
    expect(services.temporal?.environment?.POSTGRES_SEEDS).toBe('postgres');
    expect(services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe(`temporal:${containerPort.temporal}`);
  });

  it('registers the search attributes the workflows set, as the embedded stack does', () => {
    const setup = services['temporal-setup'];
    expect(setup?.environment?.SEARCH_ATTRIBUTES?.split(' ')).toEqual([...SEARCH_ATTRIBUTES]);
    expect(setup?.environment?.TEMPORAL_NAMESPACE).toBe(services.temporal?.environment?.DEFAULT_NAMESPACE);
    expect((services['tally-worker']?.depends_on as Record<string, unknown>)['temporal-setup']).toEqual({
      condition: 'service_completed_successfully',
    });
  });

  it('publishes each host port once and every container port it names', () => {
    const hostPorts = Object.values(services).flatMap((service) =>
      (service.ports ?? []).map((mapping) => mapping.split(':')[0]),
    );
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    expect(services.postgres?.ports).toContain(`5433:${containerPort.postgres}`);
    expect(services.nats?.ports).toContain(`4222:${containerPort.nats}`);
    expect(services.temporal?.ports).toContain(`7233:${containerPort.temporal}`);
  });

  it('points the Tally processes at the services by name, with matching credentials', () => {
    const postgres = services.postgres?.environment ?? {};
    for (const name of ['tally-ingest', 'tally-worker', 'tally-console']) {
      const environment = services[name]?.environment ?? {};
      expect(environment.TEMPORAL_ADDRESS, name).toBe(`temporal:${containerPort.temporal}`);
      expect(environment.NATS_URL, name).toBe(`nats://nats:${containerPort.nats}`);
      expect(environment.DATABASE_URL, name).toBe(
        `postgres://${postgres.POSTGRES_USER}:${postgres.POSTGRES_PASSWORD}@postgres:${containerPort.postgres}/${postgres.POSTGRES_DB}`,
      );
    }
  });

  it('runs Tally commands that exist, with the options they take', () => {
    for (const name of ['tally-ingest', 'tally-worker', 'tally-console']) {
      const command = services[name]?.command ?? [];
      expect(command.slice(0, 2), name).toEqual(['node', 'bin/tally.mjs']);
      const help = spawnSync(
        process.execPath,
        [
          path.join(repositoryRoot, 'bin', 'tally.mjs'),
          ...command.slice(2).filter((word) => !/^\d+$/.test(word)),
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
