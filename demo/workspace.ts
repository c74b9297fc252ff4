import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { z } from 'zod';
import { addUser } from '../access/index.ts';
import { contractToYaml, type Contract } from '../contracts/contract.ts';
import { SourceKeysSchema, type SourceKeys } from '../contracts/source-keys.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { billingPeriod } from '../domain/period.ts';
import { repositoryRoot } from '../config/paths.ts';
import { publishContractFiles, publishRateCardRoot } from '../terms/index.ts';
import { demoContract, demoCustomers, type DemoCustomer } from './samples/sample-customers.ts';
import { freshSourceKeys, SAMPLE_SOURCES } from './samples/sample-usage.ts';

/** The month the sample rate cards are for, and the month after it (late usage, adjustments). */
export const DEMO_PERIOD = '2026-10';
export const DEMO_NEXT_PERIOD = '2026-11';

/**
 * The weeks of usage before the billed month (docs/decisions/demo.md): July to September, thirteen
 * weeks (four of anomaly baseline before the scored days; the forecast's backtest holds out the last
 * four and still has eight to fit and to measure its band on), for the customers whose contract
 * starts with the billed month or later. Their history months are closed before October (periods
 * close in order) and, with nothing priced before the sample cards' first version and no contract
 * yet, skipped: nothing numbered, drawn, sent or journaled.
 */
export const DEMO_HISTORY = {
  periods: ['2026-07', '2026-08', '2026-09'],
  from: '2026-07-01',
  to: '2026-09-30',
} as const;
/** The anomaly injected into the history: a runaway workload, six ordinary days of tokens in one afternoon. */
export const DEMO_ANOMALY = { customerId: 'acme', sku: 'llm.tokens', day: '2026-09-30', factor: 6 } as const;
/** The days the demo's daily anomaly runs score: the history's last two (a quiet day, then the spike). */
export const DEMO_SCANNED_DAYS = ['2026-09-29', '2026-09-30'] as const;
/**
 * The FinOps reading: commits as of the billed month's last day; the forecast as it read on its first
 * day, learned from the history (whose working-week shape the backtest can hold out and check).
 */
export const DEMO_COMMITS_AS_OF = '2026-10-31';
export const DEMO_FORECAST_FROM = '2026-10-01';

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
 * One demo run. It bills on the stack's own database, stream and task queue, so every `tally`
 * command in the same shell shows what it did; a second run is a fresh month of its own because
 * its customer ids (and so its event ids, invoice numbers and workflow ids) carry the run id.
 */
export interface DemoWorkspace {
  readonly runId: string;
  readonly startedAt: Date;
  /** `<TALLY_STACK_DIR>/demo/<run id>`: the run's contracts and `run.json`. */
  readonly dir: string;
  readonly contractsDir: string;
  /** `<TALLY_STACK_DIR>/source-keys.json`: the sample sources' signing secrets, made once per stack. */
  readonly sourceKeysFile: string;
  readonly sourceKeys: SourceKeys;
  readonly databaseUrl: string;
  /** The usage stream's subject prefix: events go to `<prefix>.<source>`. */
  readonly subjectPrefix: string;
  readonly customers: readonly DemoCustomerTerms[];
  /**
   * The console account the demo decides as (role reviewer), made once per stack with a generated
   * password kept in `<TALLY_STACK_DIR>/demo-reviewer.json` (owner-readable only): sign in to the
   * console with it to see the demo's decisions under that name.
   */
  readonly reviewer: DemoReviewer;
}

const DemoReviewerSchema = z.strictObject({ username: z.string().min(1), password: z.string().min(1) });
type DemoReviewer = z.infer<typeof DemoReviewerSchema> & { readonly file: string };
/** The demo's reviewer account. */
const DEMO_REVIEWER = 'demo-reviewer';

/**
 * A run id from the clock: seconds since the epoch in base 36 (six lowercase characters, starting
 * with a letter until 2038), short enough for customer ids.
 */
function demoRunId(now: Date): string {
  return Math.floor(now.getTime() / 1000).toString(36);
}

/**
 * The contract a demo customer bills under: the sample terms, this run's customer id, the Postgres
 * ledger sink as provider, and no invoice for a month with nothing to bill (`invoice_when_zero:
 * false`: the history month before the contract starts).
 */
function demoCustomerTerms(sample: DemoCustomer, runId: string): DemoCustomerTerms {
  const customerId = `${sample.customerId}-${runId}`;
  const contract: Contract = {
    ...demoContract(sample),
    customer_id: customerId,
    provider: { kind: 'ledger', customer: customerId },
    invoice_when_zero: false,
  };
  return { sample, customerId, contract };
}

export interface DemoWorkspaceOptions {
  readonly stackDir: string;
  /** The database the run bills in (the stack's, or DATABASE_URL): migrated first. */
  readonly databaseUrl: string;
  readonly subjectPrefix: string;
  readonly customerCount: number;
  readonly now: Date;
}

/**
 * Prepares a run: migrates the database, writes `contracts/<customer>.yaml` (as a person would
 * write them) and `run.json`, and makes the stack's source keys when it has none yet.
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

  const sourceKeysFile = path.join(options.stackDir, 'source-keys.json');
  const sourceKeys = await stackSourceKeys(sourceKeysFile);

  // Finance's part, as Finance does it: the sample rate cards and the run's contracts are published,
  // and billing reads them from the publication logs, never from these files.
  const pool = createPool(options.databaseUrl, { max: 1, applicationName: 'tally-demo' });
  let reviewer: DemoReviewer;
  try {
    await migrate(pool);
    reviewer = await demoReviewer(pool, path.join(options.stackDir, 'demo-reviewer.json'));
    await publishRateCardRoot(pool, path.join(repositoryRoot, 'ratecards'), { publishedBy: 'demo' });
    await publishContractFiles(
      pool,
      customers.map((customer) => path.join(contractsDir, `${customer.customerId}.yaml`)),
      { publishedBy: 'demo', note: `demo run ${runId}` },
    );
  } finally {
    await pool.end();
  }
  await writeFile(
    path.join(dir, 'run.json'),
    `${JSON.stringify(
      {
        runId,
        startedAt: options.now.toISOString(),
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
    databaseUrl: options.databaseUrl,
    subjectPrefix: options.subjectPrefix,
    customers,
    reviewer,
  };
}

/**
 * The demo's reviewer account on this stack: read from its file when both exist, made (with a
 * generated password, written owner-readable only) when neither does. A file without its account,
 * or an account without its file, is a mistake the demo will not paper over.
 */
async function demoReviewer(pool: pg.Pool, file: string): Promise<DemoReviewer> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { rows } = await pool.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM console_users WHERE username = $1',
    [DEMO_REVIEWER],
  );
  const exists = rows[0]?.n === '1';
  if (text !== undefined) {
    const parsed = DemoReviewerSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new DemoError(`${file} is not the demo reviewer's account file`);
    if (!exists)
      throw new DemoError(`${file} names ${parsed.data.username}, who is not a console user here: remove the file`);
    return { ...parsed.data, file };
  }
  if (exists)
    throw new DemoError(
      `the console user ${DEMO_REVIEWER} exists but ${file} is gone: run 'tally users disable ${DEMO_REVIEWER}' and use a new stack folder, or restore the file`,
    );
  const added = await addUser(pool, { operator: 'tally-demo' }, { username: DEMO_REVIEWER, role: 'reviewer' });
  const account = { username: added.username, password: added.generatedPassword ?? '' };
  await writeFile(file, `${JSON.stringify(account, null, 2)}\n`, { mode: 0o600 });
  return { ...account, file };
}

/** The sample sources' secrets of this stack: read when the file exists, made (owner-readable only) when not. */
async function stackSourceKeys(file: string): Promise<SourceKeys> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    const parsed = SourceKeysSchema.safeParse(JSON.parse(text));
    if (parsed.success && SAMPLE_SOURCES.every((source) => parsed.data[source] !== undefined)) return parsed.data;
    throw new DemoError(`${file} is not a source-keys file with the sample sources (${SAMPLE_SOURCES.join(', ')})`);
  }
  const keys = freshSourceKeys();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}

/** The demo's routing of anomaly alerts (TALLY_ANOMALY_ROUTES of its billing worker), written by the FinOps step. */
export function demoRoutesFile(workspace: Pick<DemoWorkspace, 'dir'>): string {
  return path.join(workspace.dir, 'anomaly-routes.yaml');
}

/**
 * The customers with weeks of usage before the billed month: those whose contract starts with it or
 * later (a contract in force before would bill September, which no sample rate card prices).
 */
export function historyCustomers(workspace: Pick<DemoWorkspace, 'customers'>): DemoCustomerTerms[] {
  const billedFrom = Date.parse(billingPeriod(DEMO_PERIOD).start);
  return workspace.customers.filter(
    (customer) => customer.contract.starts_at !== undefined && Date.parse(customer.contract.starts_at) >= billedFrom,
  );
}

/**
 * The accept window of the demo's ingest worker. The sample months are historical (or, on a clock set
 * earlier, still to come), so the default window (35 days back, 5 minutes ahead of receipt) would
 * refuse them: the demo widens it to cover its history and both billed months from now, and never
 * narrows the default.
 */
export function demoAcceptWindow(now: Date): { pastMs: number; futureMs: number } {
  const dayMs = 86_400_000;
  const earliest = Date.parse(`${DEMO_HISTORY.from}T00:00:00Z`);
  const latest = Date.parse(billingPeriod(DEMO_NEXT_PERIOD).end);
  return {
    pastMs: Math.max(35 * dayMs, now.getTime() - earliest + dayMs),
    futureMs: Math.max(5 * 60_000, latest - now.getTime() + dayMs),
  };
}

/**
 * The grace the demo's workflows get: far enough that no period of the demo (its history months
 * included) closes on the clock.
 * The demo closes each period itself (closeNow) once its usage is in; the period opener starts the
 * workflows as usage arrives, and they must wait for that rather than close half-way through it.
 */
export function demoGraceMs(now: Date): number {
  const dayMs = 86_400_000;
  // From the earliest month the demo sends usage for (its history), so that one too waits for closeNow.
  return Math.max(0, now.getTime() - Date.parse(billingPeriod(DEMO_HISTORY.periods[0]).end)) + 7 * dayMs;
}
