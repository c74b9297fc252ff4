import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { chown, copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { repositoryRoot } from '../../config/services.ts';
import { APPLICATION_ROLE } from '../../db/application-role.ts';
import { ensureTool } from '../../stack/tools.ts';
import { SEARCH_ATTRIBUTES } from '../../stack/local-stack.ts';

const execFileAsync = promisify(execFile);

/**
 * The production shape of SPEC §13 as processes on one machine: a three-node NATS cluster (TLS for
 * clients and routes, a user with a password), a Temporal server built from its Go module on the
 * stack's Postgres (mTLS; its schema made by temporal-sql-tool), and Tally's workers started as
 * `tally ingest run` and `tally worker` with the variables of docker-compose.yml. Every process logs
 * to a file under `dir/logs`, which the test greps for the secrets.
 */
export interface ClusterPorts {
  readonly nats: readonly number[];
  readonly natsMonitor: readonly number[];
  readonly natsRoutes: readonly number[];
  readonly temporal: number;
}

export interface ClusterSecrets {
  readonly natsPassword: string;
  readonly appDbPassword: string;
  readonly temporalDbPassword: string;
  readonly sourceKey: string;
}

export class ProductionCluster {
  readonly processes = new Map<string, ChildProcess>();

  private constructor(
    readonly dir: string,
    readonly toolsDir: string,
    readonly ports: ClusterPorts,
    readonly secrets: ClusterSecrets,
    /** The stack's Postgres as its superuser: the owner role here. */
    readonly ownerUrl: URL,
    readonly names: { readonly appRole: string; readonly temporalRole: string; readonly database: string },
  ) {}

  static async create(options: {
    dir: string;
    toolsDir: string;
    portBase: number;
    ownerDatabaseUrl: string;
    log: (line: string) => void;
  }): Promise<ProductionCluster> {
    const { dir, portBase } = options;
    await mkdir(path.join(dir, 'logs'), { recursive: true });
    await mkdir(path.join(dir, 'secrets'), { recursive: true, mode: 0o700 });
    for (const tool of ['nats-server', 'temporal', 'temporal-server', 'temporal-sql-tool'] as const) {
      await ensureTool(options.toolsDir, tool, options.log);
    }
    const secret = () => randomBytes(18).toString('base64url');
    const cluster = new ProductionCluster(
      dir,
      options.toolsDir,
      {
        nats: [portBase, portBase + 1, portBase + 2],
        natsMonitor: [portBase + 3, portBase + 4, portBase + 5],
        natsRoutes: [portBase + 6, portBase + 7, portBase + 8],
        temporal: portBase + 10,
      },
      {
        natsPassword: `nats-${secret()}`,
        appDbPassword: `app-${secret()}`,
        temporalDbPassword: `temporal-${secret()}`,
        sourceKey: `source-${secret()}`,
      },
      new URL(options.ownerDatabaseUrl),
      {
        appRole: 'tally_cluster_app',
        temporalRole: 'tally_cluster_temporal',
        database: new URL(options.ownerDatabaseUrl).pathname.slice(1),
      },
    );
    await cluster.writeCertificates();
    await cluster.writeSecrets();
    return cluster;
  }

  file(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  private async writeCertificates(): Promise<void> {
    const secrets = this.file('secrets');
    const openssl = (...args: string[]) => execFileAsync('openssl', args, { cwd: secrets });
    await openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=tally-test-ca',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    );
    for (const [name, extension] of [
      ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth'],
      ['client', 'extendedKeyUsage=clientAuth'],
    ] as const) {
      await writeFile(path.join(secrets, `${name}.ext`), `${extension}\n`);
      await openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${name === 'server' ? 'localhost' : 'tally'}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      );
      await openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      );
    }
  }

  private async writeSecrets(): Promise<void> {
    const write = (name: string, text: string) => writeFile(this.file('secrets', name), text, { mode: 0o600 });
    await write('nats-password', `${this.secrets.natsPassword}\n`);
    await write('app-db-password', `${this.secrets.appDbPassword}\n`);
    await write('source-keys.json', JSON.stringify({ 'cluster-meter': this.secrets.sourceKey }));
  }

  /**
   * TLS on the stack's Postgres for the run: its certificate and key where the server's user can read
   * them, `ssl = on` by ALTER SYSTEM and a reload (a connection that does not ask for TLS is still
   * served, so the suite's other files are untouched; the test checks that this cluster's are all
   * encrypted). `disablePostgresTls` undoes it.
   */
  async enablePostgresTls(): Promise<void> {
    await mkdir(this.postgresTlsDir, { recursive: true, mode: 0o755 });
    for (const name of ['server.crt', 'server.key'])
      await copyFile(this.file('secrets', name), path.join(this.postgresTlsDir, name));
    if (process.getuid?.() === 0) {
      // Run as root, the stack runs PostgreSQL as the `postgres` user (stack/local-stack.ts): it must own its key.
      const id = async (flag: string) => Number.parseInt((await execFileAsync('id', [flag, 'postgres'])).stdout, 10);
      const [uid, gid] = [await id('-u'), await id('-g')];
      for (const name of ['server.crt', 'server.key']) await chown(path.join(this.postgresTlsDir, name), uid, gid);
    }
    await execFileAsync('chmod', ['600', path.join(this.postgresTlsDir, 'server.key')]);
    await this.admin(async (admin) => {
      await admin.query(`ALTER SYSTEM SET ssl_cert_file = '${path.join(this.postgresTlsDir, 'server.crt')}'`);
      await admin.query(`ALTER SYSTEM SET ssl_key_file = '${path.join(this.postgresTlsDir, 'server.key')}'`);
      await admin.query('ALTER SYSTEM SET ssl = on');
      await admin.query('SELECT pg_reload_conf()');
    });
    await this.waitFor('TLS on Postgres', async () =>
      this.admin(async (admin) => (await admin.query<{ ssl: string }>('SHOW ssl')).rows[0]?.ssl === 'on'),
    );
  }

  async disablePostgresTls(): Promise<void> {
    await this.admin(async (admin) => {
      for (const setting of ['ssl', 'ssl_cert_file', 'ssl_key_file'])
        await admin.query(`ALTER SYSTEM RESET ${setting}`);
      await admin.query('SELECT pg_reload_conf()');
    });
    await rm(this.postgresTlsDir, { recursive: true, force: true });
  }

  private get postgresTlsDir(): string {
    return process.getuid?.() === 0
      ? `/var/tmp/tally-postgres/cluster-tls-${this.ports.temporal}`
      : this.file('postgres-tls');
  }

  private async admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const admin = new pg.Client({ connectionString: this.ownerUrl.toString() });
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.end();
    }
  }

  /** The roles and databases docker-compose.yml's init script makes, on the stack's Postgres. */
  async preparePostgres(): Promise<void> {
    const admin = new pg.Client({ connectionString: this.ownerUrl.toString() });
    await admin.connect();
    try {
      const { appRole, temporalRole } = this.names;
      for (const database of ['tally_cluster_temporal', 'tally_cluster_temporal_visibility'])
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      for (const role of [appRole, temporalRole]) {
        await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
      }
      await admin.query(
        `CREATE ROLE ${appRole} LOGIN PASSWORD '${this.secrets.appDbPassword}' IN ROLE ${APPLICATION_ROLE}`,
      );
      await admin.query(`CREATE ROLE ${temporalRole} LOGIN PASSWORD '${this.secrets.temporalDbPassword}'`);
      for (const database of ['tally_cluster_temporal', 'tally_cluster_temporal_visibility'])
        await admin.query(`CREATE DATABASE ${database} OWNER ${temporalRole}`);
    } finally {
      await admin.end();
    }
    // Temporal's schema, by its own tool, as its own role (the password in the environment, not argv).
    const sqlTool = path.join(this.toolsDir, 'bin', 'temporal-sql-tool');
    const env = {
      PATH: process.env.PATH,
      SQL_PLUGIN: 'postgres12',
      SQL_HOST: '127.0.0.1',
      SQL_PORT: this.ownerUrl.port,
      SQL_USER: this.names.temporalRole,
      SQL_PASSWORD: this.secrets.temporalDbPassword,
      SQL_TLS: 'true',
      SQL_TLS_CA_FILE: this.file('secrets', 'ca.crt'),
      SQL_TLS_SERVER_NAME: 'localhost',
    };
    for (const [database, schema] of [
      ['tally_cluster_temporal', 'temporal'],
      ['tally_cluster_temporal_visibility', 'visibility'],
    ] as const) {
      await this.run(sqlTool, ['--db', database, 'setup-schema', '-v', '0.0'], env, `schema-${schema}`);
      await this.run(
        sqlTool,
        ['--db', database, 'update-schema', '--schema-name', `postgresql/v12/${schema}`],
        env,
        `schema-${schema}`,
      );
    }
  }

  /** The app role's connection URL, with no password in it (DATABASE_PASSWORD_FILE gives it). */
  appDatabaseUrl(): string {
    const url = new URL(this.ownerUrl);
    url.username = this.names.appRole;
    url.password = '';
    return url.toString();
  }

  private temporalEnv(): Record<string, string> {
    const base = this.ports.temporal;
    const secrets = this.file('secrets');
    return {
      DB: 'postgres12',
      POSTGRES_SEEDS: '127.0.0.1',
      DB_PORT: this.ownerUrl.port,
      POSTGRES_USER: this.names.temporalRole,
      POSTGRES_PWD: this.secrets.temporalDbPassword,
      DBNAME: 'tally_cluster_temporal',
      VISIBILITY_DBNAME: 'tally_cluster_temporal_visibility',
      SQL_TLS_ENABLED: 'true',
      SQL_CA: path.join(secrets, 'ca.crt'),
      SQL_HOST_VERIFICATION: 'true',
      SQL_HOST_NAME: 'localhost',
      BIND_ON_IP: '127.0.0.1',
      NUM_HISTORY_SHARDS: '4',
      LOG_LEVEL: 'warn',
      FRONTEND_GRPC_PORT: String(base),
      FRONTEND_HTTP_PORT: String(base + 1),
      FRONTEND_MEMBERSHIP_PORT: String(base + 2),
      HISTORY_GRPC_PORT: String(base + 3),
      HISTORY_MEMBERSHIP_PORT: String(base + 4),
      MATCHING_GRPC_PORT: String(base + 5),
      MATCHING_MEMBERSHIP_PORT: String(base + 6),
      WORKER_GRPC_PORT: String(base + 7),
      WORKER_MEMBERSHIP_PORT: String(base + 8),
      INTERNAL_FRONTEND_HTTP_PORT: String(base + 9),
      DYNAMIC_CONFIG_FILE_PATH: this.file('dynamicconfig.yaml'),
      TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
      TEMPORAL_TLS_SERVER_CA_CERT: path.join(secrets, 'ca.crt'),
      TEMPORAL_TLS_SERVER_CERT: path.join(secrets, 'server.crt'),
      TEMPORAL_TLS_SERVER_KEY: path.join(secrets, 'server.key'),
      TEMPORAL_TLS_FRONTEND_CERT: path.join(secrets, 'server.crt'),
      TEMPORAL_TLS_FRONTEND_KEY: path.join(secrets, 'server.key'),
      TEMPORAL_TLS_CLIENT1_CA_CERT: path.join(secrets, 'ca.crt'),
      TEMPORAL_TLS_INTERNODE_SERVER_NAME: 'localhost',
      TEMPORAL_TLS_FRONTEND_SERVER_NAME: 'localhost',
    };
  }

  /** Starts (or restarts) the Temporal server and waits until its frontend answers over mTLS. */
  async startTemporal(): Promise<void> {
    await writeFile(
      this.file('dynamicconfig.yaml'),
      'system.forceSearchAttributesCacheRefreshOnRead:\n  - value: true\n',
    );
    this.start('temporal-server', path.join(this.toolsDir, 'bin', 'temporal-server'), ['start'], this.temporalEnv());
    await this.waitFor(
      'the Temporal server',
      async () => {
        await this.temporalCli(['operator', 'cluster', 'health']);
        return true;
      },
      120_000,
    );
  }

  /** The namespace and the search attributes, as docker-compose.yml's temporal-setup does. */
  async setUpNamespace(namespace: string): Promise<void> {
    await this.temporalCli(['operator', 'namespace', 'create', '--namespace', namespace, '--retention', '72h']).catch(
      (error: unknown) => {
        if (!String((error as { stderr?: string }).stderr).includes('already')) throw error;
      },
    );
    await this.waitFor('the namespace', async () => {
      await this.temporalCli(['operator', 'namespace', 'describe', '--namespace', namespace]);
      return true;
    });
    for (const attribute of SEARCH_ATTRIBUTES) {
      const [name, type] = attribute.split('=') as [string, string];
      await this.temporalCli([
        'operator',
        'search-attribute',
        'create',
        '--namespace',
        namespace,
        '--name',
        name,
        '--type',
        type,
      ]);
    }
  }

  private async temporalCli(args: string[]): Promise<string> {
    const secrets = this.file('secrets');
    const { stdout } = await execFileAsync(
      path.join(this.toolsDir, 'bin', 'temporal'),
      [
        ...args,
        '--address',
        `127.0.0.1:${this.ports.temporal}`,
        '--tls-ca-path',
        path.join(secrets, 'ca.crt'),
        '--tls-cert-path',
        path.join(secrets, 'client.crt'),
        '--tls-key-path',
        path.join(secrets, 'client.key'),
        '--tls-server-name',
        'localhost',
      ],
      { timeout: 15_000 },
    );
    return stdout;
  }

  /** Writes node `index`'s configuration and starts it (again, after a kill: same store, same name). */
  async startNats(index: number): Promise<void> {
    const secrets = this.file('secrets');
    const name = `nats-${index + 1}`;
    const conf = [
      `server_name: ${name}`,
      `host: 127.0.0.1`,
      `port: ${this.ports.nats[index]}`,
      `http: 127.0.0.1:${this.ports.natsMonitor[index]}`,
      `jetstream { store_dir: "${this.file('nats', name)}" }`,
      `tls { cert_file: "${path.join(secrets, 'server.crt')}", key_file: "${path.join(secrets, 'server.key')}", ca_file: "${path.join(secrets, 'ca.crt')}" }`,
      `authorization { users = [ { user: tally, password: "${this.secrets.natsPassword}" } ] }`,
      'cluster {',
      '  name: tally',
      `  host: 127.0.0.1`,
      `  port: ${this.ports.natsRoutes[index]}`,
      `  routes: [ ${this.ports.natsRoutes.map((port) => `nats-route://127.0.0.1:${port}`).join(', ')} ]`,
      `  tls { cert_file: "${path.join(secrets, 'server.crt')}", key_file: "${path.join(secrets, 'server.key')}", ca_file: "${path.join(secrets, 'ca.crt')}", verify: true }`,
      '}',
    ].join('\n');
    // The server's own copy of the users (docker-compose.yml mounts it as a secret): mode 0600.
    await writeFile(this.file('secrets', `${name}.conf`), `${conf}\n`, { mode: 0o600 });
    await mkdir(this.file('nats', name), { recursive: true });
    this.start(
      name,
      path.join(this.toolsDir, 'bin', 'nats-server'),
      ['--config', this.file('secrets', `${name}.conf`)],
      {},
    );
  }

  async waitNatsHealthy(indexes: readonly number[] = [0, 1, 2]): Promise<void> {
    for (const index of indexes) {
      await this.waitFor(`nats-${index + 1}`, async () => {
        // The full health check: JetStream's meta group has a leader and this server is current.
        const response = await fetch(`http://127.0.0.1:${this.ports.natsMonitor[index]}/healthz`);
        return response.ok;
      });
    }
  }

  /** The variables a Tally process of docker-compose.yml gets, pointed at this cluster. */
  tallyEnv(namespace: string): Record<string, string> {
    const secrets = this.file('secrets');
    return {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      TALLY_TOOLS_DIR: this.toolsDir,
      TEMPORAL_ADDRESS: `127.0.0.1:${this.ports.temporal}`,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TLS_CA_FILE: path.join(secrets, 'ca.crt'),
      TEMPORAL_TLS_CERT_FILE: path.join(secrets, 'client.crt'),
      TEMPORAL_TLS_KEY_FILE: path.join(secrets, 'client.key'),
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      NATS_URL: this.ports.nats.map((port) => `tls://127.0.0.1:${port}`).join(','),
      NATS_USER: 'tally',
      NATS_PASSWORD_FILE: path.join(secrets, 'nats-password'),
      NATS_TLS_CA_FILE: path.join(secrets, 'ca.crt'),
      DATABASE_URL: this.appDatabaseUrl(),
      DATABASE_PASSWORD_FILE: path.join(secrets, 'app-db-password'),
      DATABASE_SSLMODE: 'verify-full',
      DATABASE_SSL_CA_FILE: path.join(secrets, 'ca.crt'),
      TALLY_INGEST_STREAM_REPLICAS: '3',
    };
  }

  /** Starts a Tally command as a process and waits for `ready` in its log. */
  async startTally(name: string, args: string[], env: Record<string, string>, ready: string): Promise<ChildProcess> {
    const child = this.start(name, process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), ...args], env);
    await this.waitFor(
      `${name} (${ready})`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${await this.logTail(name)}`);
        return (await readFile(this.logFile(name), 'utf8')).includes(ready);
      },
      90_000,
    );
    return child;
  }

  start(name: string, command: string, args: string[], env: Record<string, string>): ChildProcess {
    const out = openSync(this.logFile(name), 'a');
    try {
      const child = spawn(command, args, {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', out, out],
      });
      this.processes.set(name, child);
      return child;
    } finally {
      closeSync(out);
    }
  }

  /** kill -9, as a crash would, and waits until the process is gone. */
  async kill(name: string): Promise<void> {
    const child = this.processes.get(name);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.processes.keys()].map((name) => this.kill(name)));
  }

  logFile(name: string): string {
    return this.file('logs', `${name}.log`);
  }

  async logTail(name: string): Promise<string> {
    const text = await readFile(this.logFile(name), 'utf8').catch(() => '');
    return text.split('\n').slice(-30).join('\n');
  }

  /** Every log line of the run, by file. */
  async logs(): Promise<Map<string, string>> {
    const files = await readdir(this.file('logs'));
    return new Map(
      await Promise.all(files.map(async (file) => [file, await readFile(this.file('logs', file), 'utf8')] as const)),
    );
  }

  private async run(
    command: string,
    args: string[],
    env: Record<string, string | undefined>,
    log: string,
  ): Promise<void> {
    const out = openSync(this.logFile(log), 'a');
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(command, args, { env, stdio: ['ignore', out, out] });
        child.once('error', reject);
        child.once('exit', (code) =>
          code === 0 ? resolve() : reject(new Error(`${path.basename(command)} ${args.join(' ')} exited ${code}`)),
        );
      });
    } finally {
      closeSync(out);
    }
  }

  async waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        if (await probe()) return;
      } catch (error) {
        last = error;
        if (error instanceof Error && / exited /.test(error.message)) throw error;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last ?? '')}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
