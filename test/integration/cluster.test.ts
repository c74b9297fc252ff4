import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import Decimal from 'decimal.js';
import { connectionSecurityFromEnv } from '../../config/connections.ts';
import { parseServicesEnv, repositoryRoot } from '../../config/services.ts';
import { connectNats } from '../../connections/nats.ts';
import { contractToYaml } from '../../contracts/contract.ts';
import type { IssuedInvoice } from '../../contracts/invoice.ts';
import { createPool } from '../../db/pool.ts';
import { trialBalance } from '../../db/queries/journal.ts';
import { publishContractTexts, publishRateCardRoot } from '../../terms/index.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUnsignedEvent } from '../builders/usage-event.ts';
import { ProductionCluster } from '../harness/production-cluster.ts';
import { testStack } from '../harness/services.ts';
import { createTestDatabase } from '../harness/test-database.ts';

// SPEC §13 on one machine: a three-node NATS cluster with the usage stream at R3, a Temporal server
// (built from its Go module, schema by temporal-sql-tool) on the stack's Postgres, two ingest and two
// billing workers, TLS and authentication on NATS and Temporal, Tally on the application role with
// its password from a file. Chaos while events stream in and periods close: kill -9 a NATS node, an
// ingest worker, a billing worker, and restart the Temporal server. Then every number exactly.
const NAMESPACE = 'billing-cluster';
const PERIOD = '2026-11';
const CUSTOMERS = ['cluster-a', 'cluster-b', 'cluster-c', 'cluster-d'];
const EVENTS_PER_CUSTOMER_PER_FILE = 25;
const FILES = 4;
const EVENTS_PER_CUSTOMER = EVENTS_PER_CUSTOMER_PER_FILE * FILES;
const QUANTITY = 1000;

let cluster: ProductionCluster;
let owner: pg.Pool;
let env: Record<string, string>;

beforeAll(async () => {
  const stack = testStack();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tally-cluster-'));
  const ownerDatabaseUrl = await createTestDatabase('cluster');
  cluster = await ProductionCluster.create({
    dir,
    toolsDir: stack.layout.toolsDir,
    portBase: stack.layout.portBase + 40,
    ownerDatabaseUrl,
    log: (line) => process.stderr.write(`[cluster] ${line}\n`),
  });
  owner = createPool(ownerDatabaseUrl, { max: 2, applicationName: 'test-cluster-owner' });
  await cluster.enablePostgresTls();
  await cluster.preparePostgres();
  await cluster.startTemporal();
  await cluster.setUpNamespace(NAMESPACE);
  for (const index of [0, 1, 2]) await cluster.startNats(index);
  await cluster.waitNatsHealthy();

  // Finance publishes the rate cards and the contracts (as the owner, like `tally ... publish`).
  await publishRateCardRoot(owner, path.join(repositoryRoot, 'ratecards'), { publishedBy: 'test' });
  await publishContractTexts(
    owner,
    CUSTOMERS.map((customerId) => ({
      file: `${customerId}.yaml`,
      text: contractToYaml(
        buildContract({
          customer_id: customerId,
          starts_at: '2026-11-01T00:00:00Z',
          ends_at: '2026-12-01T00:00:00Z',
          provider: { kind: 'ledger', customer: customerId },
        }),
      ),
    })),
    { publishedBy: 'test' },
  );

  env = {
    ...cluster.tallyEnv(NAMESPACE),
    TALLY_SOURCE_KEYS_FILE: cluster.file('secrets', 'source-keys.json'),
    TALLY_TASK_QUEUE: 'billing-cluster',
    TALLY_RATECARDS_DIR: path.join(repositoryRoot, 'ratecards'),
    // The opener starts each period's workflow, which waits; the test closes them by `tally period close`.
    TALLY_OPENER_GRACE: '30d',
    TALLY_OPENER_STEP_TIMEOUT: '10s',
    TALLY_PERIOD_OPENER_INTERVAL: '500ms',
    TALLY_WORKER_SHUTDOWN_GRACE: '1s',
    TALLY_LOG_LEVEL: 'info',
    // A killed ingest worker's unacknowledged messages go to the other one after this.
    TALLY_INGEST_ACK_WAIT: '5s',
  };
  for (const name of ['ingest-1', 'ingest-2'])
    await cluster.startTally(name, ['ingest', 'run'], env, 'ingest worker running');
  for (const name of ['worker-1', 'worker-2'])
    await cluster.startTally(name, ['worker'], env, 'billing worker running');
}, 600_000);

afterAll(async () => {
  await cluster?.stopAll();
  await cluster?.disablePostgresTls();
  // The run's certificates, keys and passwords go with it (TALLY_KEEP_CLUSTER_FILES keeps them to debug).
  if (cluster !== undefined && process.env.TALLY_KEEP_CLUSTER_FILES === undefined)
    await rm(cluster.dir, { recursive: true, force: true });
  await owner?.end();
});

/** Runs a `tally` command as a process with the cluster's environment; its output goes to the run's logs. */
async function tally(name: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  await writeFile(cluster.logFile(name), output, { flag: 'a' });
  if (code !== 0) throw new Error(`tally ${args.join(' ')} exited ${code}:\n${output}`);
  return output;
}

async function count(sql: string, parameters: unknown[] = []): Promise<number> {
  return (await owner.query<{ n: number }>(sql, parameters)).rows[0]?.n ?? -1;
}

describe('the production shape on one machine', () => {
  it('stores every event once and invoices, syncs and journals every period once, through node failures', async () => {
    // 1. Events stream in, file by file, through `tally send` (unsigned lines signed with the source's key).
    const files: string[] = [];
    for (let file = 0; file < FILES; file++) {
      const lines = CUSTOMERS.flatMap((customerId) =>
        Array.from({ length: EVENTS_PER_CUSTOMER_PER_FILE }, (_, index) => {
          const number = file * EVENTS_PER_CUSTOMER_PER_FILE + index;
          const event = buildUnsignedEvent({
            source: 'cluster-meter',
            event_id: `${customerId}-${number}`,
            customer_id: customerId,
            timestamp: `2026-11-${String(2 + (number % 27)).padStart(2, '0')}T10:00:00.000Z`,
            quantity: String(QUANTITY),
          });
          return JSON.stringify(event);
        }),
      );
      files.push(cluster.file(`events-${file}.jsonl`));
      await writeFile(files[file] as string, `${lines.join('\n')}\n`);
    }
    const send = (file: number) =>
      tally(`send-${file}`, [
        'send',
        files[file] as string,
        '--keys',
        env.TALLY_SOURCE_KEYS_FILE as string,
        '--no-progress',
      ]);
    await send(0);
    // Chaos while events stream: a NATS node and an ingest worker die with messages in flight; the
    // next files are sent while the node is down (the stream's other two copies carry on).
    await cluster.kill('nats-2');
    await cluster.kill('ingest-1');
    await cluster.waitNatsHealthy([0, 2]);
    await send(1);
    await send(2);
    // The node comes back (same store) and catches up; the stream keeps three copies.
    await cluster.startNats(1);
    await cluster.waitNatsHealthy([1]);
    await send(3);
    // A file sent twice: every event is already stored, nothing is stored again.
    await send(3);

    const expectedEvents = CUSTOMERS.length * EVENTS_PER_CUSTOMER;
    await cluster.waitFor(
      'every event in Postgres',
      async () => {
        return (await count('SELECT count(*)::int AS n FROM usage_events')) === expectedEvents;
      },
      120_000,
    );

    // 2. Periods close: a billing worker dies and the Temporal server restarts meanwhile.
    await cluster.waitFor('every period open', async () => {
      return (
        (await count('SELECT count(*)::int AS n FROM customer_periods WHERE workflow_started_at IS NOT NULL')) ===
        CUSTOMERS.length
      );
    });
    await tally('close-a', ['period', 'close', CUSTOMERS[0] as string, PERIOD]);
    await cluster.kill('worker-1');
    await tally('close-b', ['period', 'close', CUSTOMERS[1] as string, PERIOD]);
    await cluster.kill('temporal-server');
    await cluster.startTemporal();
    for (const customerId of CUSTOMERS.slice(2))
      await tally(`close-${customerId}`, ['period', 'close', customerId, PERIOD]);

    await cluster.waitFor(
      'every period journaled',
      async () => {
        return (
          (await count(
            "SELECT count(DISTINCT invoice_id)::int AS n FROM journal_entries WHERE invoice_id LIKE 'inv:cluster-%'",
          )) === CUSTOMERS.length
        );
      },
      180_000,
    );

    // 3. Exactly once, in numbers.
    expect(await count('SELECT count(*)::int AS n FROM usage_events')).toBe(expectedEvents);
    expect(await count('SELECT count(*)::int AS n FROM usage_event_keys')).toBe(expectedEvents);
    expect(await count('SELECT count(*)::int AS n FROM rejected_events')).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM usage_events WHERE late')).toBe(0);
    expect(await count("SELECT count(*)::int AS n FROM invoices WHERE status = 'issued'")).toBe(CUSTOMERS.length);
    expect(await count('SELECT count(*)::int AS n FROM invoices')).toBe(CUSTOMERS.length);
    expect(await count('SELECT count(*)::int AS n FROM provider_ledger_invoices')).toBe(CUSTOMERS.length);
    expect(await count('SELECT count(*)::int AS n FROM provider_sync_records')).toBe(CUSTOMERS.length);
    const entriesPerInvoice = await owner.query<{ invoice_id: string; n: number }>(
      'SELECT invoice_id, count(*)::int AS n FROM journal_entries GROUP BY invoice_id ORDER BY invoice_id',
    );
    expect(entriesPerInvoice.rows.map((row) => row.invoice_id)).toEqual(
      CUSTOMERS.map((customerId) => `inv:${customerId}:${PERIOD}`),
    );
    // Same contract, same usage: the same entries for each, posted once.
    expect(new Set(entriesPerInvoice.rows.map((row) => row.n)).size).toBe(1);
    expect((await trialBalance(owner)).balanced).toBe(true);
    for (const customerId of CUSTOMERS) {
      const { rows } = await owner.query<{ document: IssuedInvoice }>(
        'SELECT document FROM invoices WHERE invoice_id = $1',
        [`inv:${customerId}:${PERIOD}`],
      );
      const usage = rows[0]?.document.lines.filter((line) => line.kind === 'usage') ?? [];
      const quantity = usage.reduce((sum, line) => sum.plus((line as { quantity: string }).quantity), new Decimal(0));
      expect(quantity.toFixed(), customerId).toBe(String(EVENTS_PER_CUSTOMER * QUANTITY));
    }

    // Every connection of the cluster's roles to Postgres is encrypted (Temporal's and Tally's).
    const connections = await owner.query<{ usename: string; ssl: boolean }>(
      `SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = ANY($1)`,
      [[cluster.names.appRole, cluster.names.temporalRole]],
    );
    expect(new Set(connections.rows.map((row) => row.usename))).toEqual(
      new Set([cluster.names.appRole, cluster.names.temporalRole]),
    );
    expect(connections.rows.filter((row) => !row.ssl)).toEqual([]);

    // The stream kept three copies through the failure, on the same connection settings as Tally's.
    const nats = await connectNats({
      natsUrl: env.NATS_URL as string,
      security: connectionSecurityFromEnv(parseServicesEnv(env)),
    });
    try {
      const info = await (await jetstreamManager(nats)).streams.info('USAGE_EVENTS');
      expect(info.config.num_replicas).toBe(3);
      expect(info.state.messages).toBeGreaterThanOrEqual(FILES);
      expect((info.cluster?.replicas ?? []).filter((replica) => replica.current).length).toBe(2);
    } finally {
      await nats.close();
    }
  }, 600_000);

  it('never writes a secret into any log of the run', async () => {
    const secrets = Object.values(cluster.secrets);
    const leaks: string[] = [];
    for (const [file, text] of await cluster.logs()) {
      for (const secret of secrets) if (text.includes(secret)) leaks.push(`${file} holds a secret`);
    }
    expect(leaks).toEqual([]);
    expect((await cluster.logs()).size).toBeGreaterThan(8);
  });
});
