import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type pg from 'pg';
import {
  tallyActivityInterceptors,
  checkActivityContracts,
  createBackfillActivities,
  createBillingActivities,
  createRevenueActivities,
  createShadowRunActivities,
} from '../../activities/index.ts';
import { repositoryRoot } from '../../config/services.ts';
import type { Contract } from '../../contracts/contract.ts';
import type { ProductSignals } from '../../contracts/product-signals.ts';
import { canonicalEventBytes } from '../../contracts/event-signature.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { ADVISORY_LOCKS } from '../../db/advisory-locks.ts';
import { createPool, withTransaction } from '../../db/pool.ts';
import { ensureUsageEventPartitions, insertNewUsageEvents } from '../../db/queries/usage-events.ts';
import { createBillingProviders, type BillingProvidersOptions } from '../../providers/index.ts';
import { createWebhookNotifier } from '../../providers/webhook-notifier.ts';
import { contractToYaml } from '../../contracts/contract.ts';
import { publishContractTexts, publishRateCardRoot, publishedTerms } from '../../terms/index.ts';
import { readIngestWatermark } from '../../ingest/ingest-watermark.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { customerPeriodWorkflow } from '../../workflows/customer-period.ts';
import {
  CALCULATION_VERSION,
  closeNowSignal,
  customerPeriodWorkflowId,
  type CustomerPeriodInput,
} from '../../workflows/definitions.ts';
import { RateCardFiles } from '../builders/ratecard-files.ts';
import { createTestDatabase } from './test-database.ts';
import { testStack } from './services.ts';

const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/**
 * Everything a billing workflow test needs on the real stack: its own database and task queue,
 * a contracts folder, events stored through ingest's write path, a webhook that records what it
 * is sent, and the billing worker in-process or as a real `tally worker` child process.
 */
export class BillingTestbed {
  private readonly children = new Set<ChildProcess>();
  /** Folders made for this testbed alone (a test's own rate cards), removed on close. */
  private readonly ownFolders: string[] = [];

  private constructor(
    /** Finance's rate-card folder the workers see (the repository's, unless a test brings its own). */
    readonly ratecardsDir: string,
    readonly name: string,
    readonly databaseUrl: string,
    readonly pool: pg.Pool,
    readonly client: Client,
    private readonly connection: Connection,
    readonly taskQueue: string,
    private readonly webhook: http.Server,
    readonly webhookUrl: string,
    /** What the webhook received (escalations, usage alerts) and the status it answered. */
    readonly notifications: { key: string; body: Record<string, unknown>; status: number }[],
    private readonly webhookAnswer: { status: number },
  ) {}

  /** The status the webhook answers from now on (default 204; e.g. 500 to make deliveries fail). */
  answerWebhookWith(status: number): void {
    this.webhookAnswer.status = status;
  }

  static async create(name: string, options: { ratecardsDir?: string } = {}): Promise<BillingTestbed> {
    const databaseUrl = await createTestDatabase(name);
    const pool = createPool(databaseUrl, { max: 8, applicationName: `test-${name}` });
    // Finance has published the repository's sample rate cards, as the demo does.
    await publishRateCardRoot(pool, path.join(repositoryRoot, 'ratecards'), { publishedBy: 'test' });
    const connection = await Connection.connect({ address: testStack().endpoints.temporalAddress });
    const client = new Client({ connection, namespace: testStack().endpoints.temporalNamespace });
    const received: { key: string; body: Record<string, unknown>; status: number }[] = [];
    const answer = { status: 204 };
    const webhook = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const status = answer.status;
        received.push({
          key: String(request.headers['idempotency-key']),
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          status,
        });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const address = webhook.address() as { port: number };
    return new BillingTestbed(
      options.ratecardsDir ?? path.join(repositoryRoot, 'ratecards'),
      name,
      databaseUrl,
      pool,
      client,
      connection,
      `billing-test-${name}-${process.pid}`,
      webhook,
      `http://127.0.0.1:${address.port}/hooks`,
      received,
      answer,
    );
  }

  /**
   * A testbed whose workers read the rate cards the test writes and publishes (`files`: a folder of
   * its own, which `close` removes).
   */
  static async createWithRateCardFiles(name: string): Promise<{ testbed: BillingTestbed; files: RateCardFiles }> {
    const files = await RateCardFiles.create();
    try {
      const testbed = await BillingTestbed.create(name, { ratecardsDir: files.root });
      testbed.ownFolders.push(files.root);
      return { testbed, files };
    } catch (error) {
      await rm(files.root, { recursive: true, force: true });
      throw error;
    }
  }

  /** Publishes a contract as `tally contracts publish` does: from then on it is the customer's terms in force. */
  async publishContract(contract: Contract): Promise<void> {
    await publishContractTexts(this.pool, [{ file: `${contract.customer_id}.yaml`, text: contractToYaml(contract) }], {
      publishedBy: 'test',
    });
  }

  /** Stores events as the ingest worker does (same statement, same commit lock), received at `receivedAt`. */
  async storeEvents(
    events: readonly UsageEvent[],
    receivedAt: string = new Date().toISOString(),
  ): Promise<{ stored: number; late: number }> {
    // Like the batch writer: each key once per statement, in key order.
    const unique = new Map(events.map((event) => [`${event.source}\u0000${event.event_id}`, event]));
    const sorted = [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, event]) => event);
    return withTransaction(this.pool, async (client) => {
      await ensureUsageEventPartitions(
        client,
        sorted.map((event) => event.timestamp),
      );
      await client.query('SELECT pg_advisory_xact_lock_shared($1)', [ADVISORY_LOCKS.INGEST_COMMIT]);
      const stored = await insertNewUsageEvents(
        client,
        sorted.map((event, index) => ({
          source: event.source,
          eventId: event.event_id,
          customerId: event.customer_id,
          eventTime: event.timestamp,
          receivedAt,
          unit: event.unit,
          sku: event.metadata.sku as string,
          quantity: event.quantity,
          metadataJson: JSON.stringify(event.metadata),
          schemaVersion: event.schema_version,
          signature: event.signature,
          bodySha256Hex: createHash('sha256').update(canonicalEventBytes(event), 'utf8').digest('hex'),
          streamSeq: index + 1,
          periodKnown: false,
        })),
      );
      return { stored: stored.length, late: stored.filter((row) => row.late).length };
    });
  }

  periodInput(customerId: string, period: string, overrides: Partial<CustomerPeriodInput> = {}): CustomerPeriodInput {
    return {
      customerId,
      period,
      mode: 'live',
      calculationVersion: CALCULATION_VERSION,
      graceMs: 0,
      reviewTimeoutMs: 60_000,
      stepTimeoutMs: 5_000,
      recheckMs: 500,
      ...overrides,
    };
  }

  /** Starts the workflow and, like `tally period close`, asks it to close now (periods still running close at once). */
  async startPeriod(
    input: CustomerPeriodInput,
    options: { closeNow?: boolean } = { closeNow: true },
  ): Promise<WorkflowHandle<typeof customerPeriodWorkflow>> {
    const start = {
      taskQueue: this.taskQueue,
      workflowId: `${this.name}:${customerPeriodWorkflowId(input)}`,
      args: [input] as [CustomerPeriodInput],
      workflowIdConflictPolicy: 'USE_EXISTING' as const,
    };
    if (options.closeNow === false)
      return this.client.workflow.start<typeof customerPeriodWorkflow>('customerPeriodWorkflow', start);
    return this.client.workflow.signalWithStart<typeof customerPeriodWorkflow, []>('customerPeriodWorkflow', {
      ...start,
      signal: closeNowSignal,
      signalArgs: [],
    });
  }

  /** Runs `work` while an in-process billing worker (this testbed's queue and database) polls. */
  async withWorker<T>(
    work: () => Promise<T>,
    providers: Omit<BillingProvidersOptions, 'pool'> = {},
    /** The usage stream whose consumer the close waits for (default: none; events are stored directly). */
    options: {
      usageStream?: { streamName: string; consumerName: string };
      /** The product-signal SKUs the worker knows (default: none, as a worker without the file). */
      productSignals?: ProductSignals;
    } = {},
  ): Promise<T> {
    const connection = await NativeConnection.connect({ address: testStack().endpoints.temporalAddress });
    const nats =
      options.usageStream === undefined ? undefined : await connect({ servers: testStack().endpoints.natsUrl });
    const jsm = nats === undefined ? undefined : await jetstreamManager(nats);
    const stream = options.usageStream;
    const watermark =
      jsm === undefined || stream === undefined
        ? undefined
        : () => readIngestWatermark(jsm, stream.streamName, stream.consumerName);
    try {
      const worker = await Worker.create({
        connection,
        namespace: testStack().endpoints.temporalNamespace,
        taskQueue: this.taskQueue,
        workflowsPath: WORKFLOWS_PATH,
        interceptors: { activity: tallyActivityInterceptors },
        activities: checkActivityContracts({
          ...createBillingActivities({
            pool: this.pool,
            terms: publishedTerms(this.pool, { ratecardsDir: this.ratecardsDir }),
            ...(watermark === undefined ? {} : { ingestWatermark: watermark }),
            ...(options.productSignals === undefined ? {} : { productSignals: options.productSignals }),
            providers: createBillingProviders({ pool: this.pool, ...providers }),
            notifier: createWebhookNotifier(this.webhookUrl),
          }),
          ...createBackfillActivities({ pool: this.pool, terms: publishedTerms(this.pool) }),
          ...createShadowRunActivities({
            pool: this.pool,
            terms: publishedTerms(this.pool, { ratecardsDir: this.ratecardsDir }),
          }),
          ...createRevenueActivities({ pool: this.pool, terms: publishedTerms(this.pool) }),
        }),
      });
      return await worker.runUntil(work());
    } finally {
      await connection.close();
      await nats?.close();
    }
  }

  /** Starts `tally worker` as a child process on this testbed's database and queue (for kill -9 tests). */
  async spawnWorker(extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
    const { endpoints } = testStack();
    const child = spawn(process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), 'worker'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: this.databaseUrl,
        NATS_URL: endpoints.natsUrl,
        TEMPORAL_ADDRESS: endpoints.temporalAddress,
        TEMPORAL_NAMESPACE: endpoints.temporalNamespace,
        TALLY_TASK_QUEUE: this.taskQueue,
        TALLY_OPENER_RECHECK: '500ms',
        // The daily schedules are triggered by their own tests, never left on the shared server.
        TALLY_REVENUE_SCHEDULE: 'off',
        TALLY_ANOMALY_SCHEDULE: 'off',
        TALLY_MARKETPLACE_SCHEDULE: 'off',
        // A stream no test publishes to: the close has no ingest consumer to wait for.
        TALLY_INGEST_STREAM: 'NO_INGEST_HERE',
        TALLY_RATECARDS_DIR: this.ratecardsDir,
        TALLY_WEBHOOK_URL: this.webhookUrl,
        TALLY_OPENER_GRACE: '0ms',
        TALLY_OPENER_STEP_TIMEOUT: '5s',
        TALLY_LOG_LEVEL: 'info',
        TALLY_PERIOD_OPENER_INTERVAL: '500ms',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', () => this.children.delete(child));
    // Ready when the Temporal worker polls: its workflow bundle is built by then.
    const deadline = Date.now() + 60_000;
    while (!output.includes('billing worker running')) {
      if (child.exitCode !== null) throw new Error(`tally worker exited ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`tally worker did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return child;
  }

  /**
   * The history length of every run of a workflow, following continue-as-new from its first run (a
   * paged workflow's runs must each stay under their history budget).
   */
  async runHistoryLengths(workflowId: string, firstRunId: string): Promise<number[]> {
    const lengths: number[] = [];
    let runId: string | undefined = firstRunId;
    while (runId !== undefined) {
      const history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> = await this.client.workflow
        .getHandle(workflowId, runId)
        .fetchHistory();
      const events = history.events ?? [];
      lengths.push(events.length);
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    return lengths;
  }

  async close(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    await this.connection.close();
    await this.pool.end();
    await new Promise<void>((resolve) => this.webhook.close(() => resolve()));
    for (const folder of this.ownFolders) await rm(folder, { recursive: true, force: true });
  }
}
