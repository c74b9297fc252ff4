import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../config/services.ts';
import { removeStackData, stackDataLocations } from '../../stack/index.ts';
import { testStack } from '../harness/services.ts';

// `tally stack up | status | down` as a user runs them, on ports and a data folder of their own
// (the run's test stack keeps running beside it).
const portBase = testStack().layout.portBase + 100;
let dataDir: string;

function tally(...args: string[]) {
  return spawnSync(process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TALLY_PORT_BASE: String(portBase),
      TALLY_STACK_DIR: dataDir,
      TALLY_TOOLS_DIR: testStack().layout.toolsDir,
    },
    encoding: 'utf8',
    timeout: 180_000,
  });
}

async function runningState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  const state = stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === undefined || state === 'Z' ? undefined : state;
}

afterAll(async () => {
  tally('stack', 'down');
  await removeStackData({ ...testStack().layout, dataDir, portBase });
});

describe('tally stack', () => {
  it('starts three healthy services on its ports, starts again harmlessly, and stops leaving no process', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tally-stack-cli-'));
    const up = tally('stack', 'up');
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toContain(`DATABASE_URL=postgres://tally:tally@127.0.0.1:${portBase}/tally`);
    // The stack creates the usage stream as ingest needs it; producers only check it.
    expect(up.stdout).toMatch(/usage stream [A-Za-z0-9_-]+: ready/);

    const status = tally('stack', 'status', '--json');
    expect(status.status, status.stderr).toBe(0);
    const services = JSON.parse(status.stdout) as { service: string; healthy: boolean; port: number; pid: number }[];
    expect(services.map((service) => [service.service, service.healthy, service.port])).toEqual([
      ['postgres', true, portBase],
      ['nats', true, portBase + 1],
      ['temporal', true, portBase + 3],
    ]);

    const again = tally('stack', 'up');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout.match(/already running/g)).toHaveLength(3);

    expect(tally('stack', 'down').status).toBe(0);
    const written = stackDataLocations({ ...testStack().layout, dataDir, portBase });
    const after = tally('stack', 'status', '--json');
    expect(after.status).toBe(3);
    expect(
      (JSON.parse(after.stdout) as { healthy: boolean; pid?: number }[]).every(
        (service) => !service.healthy && service.pid === undefined,
      ),
    ).toBe(true);
    // Gone, or a zombie waiting for its reaper (exited, holding nothing): never still running.
    for (const { pid } of services) expect(await runningState(pid), `pid ${pid}`).toBeUndefined();

    // The data is kept by a plain `down`; `--purge` removes every folder the stack wrote.
    for (const location of written) expect(existsSync(location), location).toBe(true);
    const purge = tally('stack', 'down', '--purge');
    expect(purge.status, purge.stderr).toBe(0);
    for (const location of written) expect(existsSync(location), location).toBe(false);
  }, 240_000);
});
