import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Contract } from '../contracts/contract.ts';
import type { SourceKeys } from '../contracts/source-keys.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { billingPeriod } from '../domain/period.ts';
import { contractToYaml, demoContract, demoCustomers, type DemoCustomer } from '../test/builders/usage-events.ts';
import { TallyError } from '../contracts/tally-error.ts';

/** The month the sample rate cards are for, and the month after it (late usage, adjustments). */
export const DEMO_PERIOD = '2026-10';
export const DEMO_NEXT_PERIOD = '2026-11';

/** The sources of the sample usage; each run signs with fresh secrets. */
export const DEMO_SOURCES = ['api-gateway', 'storage-meter', 'job-runner', 'auth-service'] as const;

/** The customer whose October crosses its review threshold (its contract reviews any invoice above EUR 100). */
export const DEMO_REVIEWED_CUSTOMER = 'soylent';
/** The customers that report usage late: one USD without a commit, one EUR with a commit; neither has a change threshold. */
export const DEMO_LATE_CUSTOMERS = ['globex', 'initech'] as const;
/** The customer with a mix of credits (a promotional and a prepaid one). */
export const DEMO_MIXED_CREDITS_CUSTOMER = 'acme';

export class DemoError extends TallyError {
  constructor(message: string) {
    super('demo_failed', message, { permanent: true });
  }
}

export interface DemoCustomerTerms {
  /** The sample customer (its id without the run suffix: the seed of its usage). */
  readonly sample: DemoCustomer;
  /** The id this run bills: `<sample id>-<run id>`. */
  readonly customerId: string;
  readonly contract: Contract;
}

/**
 * One demo run: its own database, task queue, JetStream stream, contracts and signing keys, so a
 * second `tally demo` is a fresh month and never meets the invoices of the first (issued invoices are
 * immutable, and workflow ids are unique in the Temporal namespace: the customer ids carry the run id).
 */
export interface DemoWorkspace {
  readonly runId: string;
  readonly startedAt: Date;
  /** `<TALLY_STACK_DIR>/demo/<run id>`. */
  readonly dir: string;
  readonly contractsDir: string;
  readonly sourceKeysFile: string;
  readonly sourceKeys: SourceKeys;
  readonly databaseName: string;
  readonly databaseUrl: string;
  readonly taskQueue: string;
  readonly streamName: string;
  readonly subjectPrefix: string;
  readonly customers: readonly DemoCustomerTerms[];
  /** Environment variables that point every `tally` command at this run (also written to `demo.env`). */
  readonly env: Readonly<Record<string, string>>;
  readonly envFile: string;
}

/**
 * A run id from the clock: seconds since the epoch in base 36 (six lowercase characters, starting
 * with a letter until 2038), short enough for customer ids and usable in database and stream names.
 */
export function demoRunId(now: Date): string {
  return Math.floor(now.getTime() / 1000).toString(36);
}

/** Creates the run's database (refusing one that exists) and migrates it; returns its URL. */
export async function createDemoDatabase(serverUrl: string, databaseName: string): Promise<string> {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(databaseName)) throw new DemoError(`not a database name: ${databaseName}`);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${databaseName}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '42P04')
      throw new DemoError(
        `database ${databaseName} exists already (another demo started this second?); run the demo again`,
      );
    if (code === '42501')
      throw new DemoError(
        `the database user may not create databases; the demo needs its own database per run (${error instanceof Error ? error.message : String(error)})`,
      );
    throw error;
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  const pool = createPool(url.toString(), { max: 1, applicationName: 'tally-demo' });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return url.toString();
}

/** The contract a demo customer bills under: the sample terms, this run's customer id, the Postgres ledger sink as provider. */
export function demoCustomerTerms(sample: DemoCustomer, runId: string): DemoCustomerTerms {
  const customerId = `${sample.customerId}-${runId}`;
  const contract: Contract = {
    ...demoContract(sample),
    customer_id: customerId,
    provider: { kind: 'ledger', customer: customerId },
  };
  return { sample, customerId, contract };
}

export interface DemoWorkspaceOptions {
  readonly stackDir: string;
  /** Where the run's database is created: the server of this URL. */
  readonly serverDatabaseUrl: string;
  readonly customerCount: number;
  readonly now: Date;
  /** The services the workers use (NATS, Temporal), written to demo.env with the run's database. */
  readonly natsUrl: string;
  readonly temporalAddress: string;
  readonly temporalNamespace: string;
}

/**
 * Prepares a run: the database, `contracts/<customer>.yaml` (as a person would write them),
 * `source-keys.json` (fresh secrets, readable by the owner only), `demo.env` and `run.json`.
 */
export async function prepareDemoWorkspace(options: DemoWorkspaceOptions): Promise<DemoWorkspace> {
  const runId = demoRunId(options.now);
  const dir = path.join(options.stackDir, 'demo', runId);
  const contractsDir = path.join(dir, 'contracts');
  await mkdir(contractsDir, { recursive: true });

  const customers = demoCustomers(options.customerCount).map((sample) => demoCustomerTerms(sample, runId));
  for (const required of [DEMO_REVIEWED_CUSTOMER, DEMO_MIXED_CREDITS_CUSTOMER, ...DEMO_LATE_CUSTOMERS]) {
    if (!customers.some((customer) => customer.sample.customerId === required))
      throw new DemoError(`the demo needs the sample customer ${required}: use at least 6 customers`);
  }
  for (const customer of customers) {
    await writeFile(path.join(contractsDir, `${customer.customerId}.yaml`), contractToYaml(customer.contract));
  }

  const sourceKeys: SourceKeys = Object.fromEntries(
    DEMO_SOURCES.map((source) => [source, randomBytes(24).toString('hex')]),
  );
  const sourceKeysFile = path.join(dir, 'source-keys.json');
  await writeFile(sourceKeysFile, `${JSON.stringify(sourceKeys, null, 2)}\n`, { mode: 0o600 });

  const databaseName = `tally_demo_${runId}`;
  const databaseUrl = await createDemoDatabase(options.serverDatabaseUrl, databaseName);
  const taskQueue = `demo-${runId}`;
  const streamName = `TALLY_DEMO_${runId.toUpperCase()}`;
  const subjectPrefix = `demo-${runId}`;
  const env = {
    DATABASE_URL: databaseUrl,
    NATS_URL: options.natsUrl,
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_NAMESPACE: options.temporalNamespace,
    TALLY_TASK_QUEUE: taskQueue,
    TALLY_CONTRACTS_DIR: contractsDir,
    TALLY_SOURCE_KEYS_FILE: sourceKeysFile,
    TALLY_INGEST_STREAM: streamName,
    TALLY_INGEST_SUBJECT_PREFIX: subjectPrefix,
  };
  const envFile = path.join(dir, 'demo.env');
  await writeFile(
    envFile,
    `# tally demo run ${runId}: \`set -a; . ${envFile}; set +a\` points tally commands at it\n${Object.entries(env)
      .map(([name, value]) => `${name}=${value}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  await writeFile(
    path.join(dir, 'run.json'),
    `${JSON.stringify(
      {
        runId,
        startedAt: options.now.toISOString(),
        databaseName,
        taskQueue,
        streamName,
        subjectPrefix,
        period: DEMO_PERIOD,
        customers: customers.map((customer) => customer.customerId),
      },
      null,
      2,
    )}\n`,
  );

  return {
    runId,
    startedAt: options.now,
    dir,
    contractsDir,
    sourceKeysFile,
    sourceKeys,
    databaseName,
    databaseUrl,
    taskQueue,
    streamName,
    subjectPrefix,
    customers,
    env,
    envFile,
  };
}

/**
 * The accept window of the demo's ingest worker. The sample month is historical (or, on a clock set
 * earlier, still to come), so the default window (35 days back, 5 minutes ahead of receipt) would
 * refuse it: the demo widens it to cover both demo months from now, and never narrows the default.
 */
export function demoAcceptWindow(now: Date): { pastMs: number; futureMs: number } {
  const dayMs = 86_400_000;
  const earliest = Date.parse(billingPeriod(DEMO_PERIOD).start);
  const latest = Date.parse(billingPeriod(DEMO_NEXT_PERIOD).end);
  return {
    pastMs: Math.max(35 * dayMs, now.getTime() - earliest + dayMs),
    futureMs: Math.max(5 * 60_000, latest - now.getTime() + dayMs),
  };
}

/**
 * The grace the demo's workflows get: far enough that no period of the demo closes on the clock.
 * The demo closes each period itself (closeNow) once its usage is in; the period opener starts the
 * workflows as usage arrives, and they must wait for that rather than close half-way through it.
 */
export function demoGraceMs(now: Date): number {
  const dayMs = 86_400_000;
  return Math.max(0, now.getTime() - Date.parse(billingPeriod(DEMO_PERIOD).end)) + 7 * dayMs;
}
