import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import {
  tallyActivityInterceptors,
  checkActivityContracts,
  createBillingActivities,
  createMarketplaceActivities,
  publishedMarketplaceCustomers,
  type MarketplaceActivities,
  type MarketplaceSettings,
} from '../../../activities/index.ts';
import type { Contract } from '../../../contracts/contract.ts';
import type { UsageEvent } from '../../../contracts/usage-event.ts';
import { DOCUMENTED_REPORT_WINDOWS } from '../../../domain/marketplace/index.ts';
import {
  AwsMeteringAdapter,
  AzureMeteringAdapter,
  GcpServiceControlAdapter,
  type MarketplaceAdapters,
} from '../../../providers/marketplaces/index.ts';
import { buildContract, buildUsageEvent } from '../../builders/rating.ts';
import { createBillingProviders } from '../../../providers/index.ts';
import { createWebhookNotifier } from '../../../providers/webhook-notifier.ts';
import { publishedTerms, publishRateCardFiles, type TermsSource } from '../../../terms/index.ts';
import { BillingTestbed } from '../billing-testbed.ts';
import { testStack } from '../services.ts';
import { AwsMeteringEmulator, type AwsEmulatorOptions } from '../../../sandboxes/marketplaces/aws-metering-emulator.ts';
import {
  AzureMeteringEmulator,
  type AzureEmulatorOptions,
} from '../../../sandboxes/marketplaces/azure-metering-emulator.ts';
import {
  GcpServiceControlEmulator,
  type GcpEmulatorOptions,
} from '../../../sandboxes/marketplaces/gcp-service-control-emulator.ts';

/**
 * A listing's rate card: tokens reported per 1,000 (so AWS and Google carry remainders), batch jobs
 * counted one by one, and storage that no marketplace dimension reports (unreported usage).
 */
export const LISTING_RATECARD = `ratecard: listing
effective_from: 2026-01-01T00:00:00Z
currency: USD
prices:
  - id: tokens
    sku: llm.tokens
    unit: tokens
    aggregation: sum
    model: per_unit
    unit_price: "0.002"
    marketplace_dimension: tokens
    marketplace_unit_size: "1000"
  - id: jobs
    sku: batch.jobs
    unit: jobs
    aggregation: count
    model: per_unit
    unit_price: "0.50"
    marketplace_dimension: jobs
  - id: storage
    sku: storage.gb
    unit: GB
    aggregation: sum
    model: per_unit
    unit_price: "0.02"
`;

export const SERVICE_NAME = 'tally-listing.example.com';

export const MARKETPLACE_BLOCKS = {
  aws: {
    kind: 'aws',
    customer_account: '123456789012',
    license_arn: 'arn:aws:license-manager::123456789012:license/l-acme',
  },
  azure: { kind: 'azure', resource_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7', plan_id: 'gold' },
  gcp: { kind: 'gcp', consumer_id: 'project_number:4242', service_name: SERVICE_NAME },
} as const;

/**
 * Everything a marketplace-metering test needs on the real stack: a database of its own, the
 * contracts and the listing's rate card as files, events stored through ingest's write path, the
 * three marketplace emulators, and the activities wired to adapters pointed at them.
 */
export class MarketplaceTestbed {
  private constructor(
    readonly billing: BillingTestbed,
    readonly ratecardsDir: string,
    readonly aws: AwsMeteringEmulator,
    readonly azure: AzureMeteringEmulator,
    readonly gcp: GcpServiceControlEmulator,
  ) {}

  /** What billing and the sender read: the published contracts and rate cards. */
  get terms(): TermsSource {
    return publishedTerms(this.pool, { ratecardsDir: this.ratecardsDir });
  }

  static async create(
    name: string,
    options: { aws?: AwsEmulatorOptions; azure?: AzureEmulatorOptions; gcp?: GcpEmulatorOptions } = {},
  ): Promise<MarketplaceTestbed> {
    const billing = await BillingTestbed.create(name);
    const ratecardsDir = await mkdtemp(path.join(os.tmpdir(), `tally-${name}-ratecards-`));
    await mkdir(path.join(ratecardsDir, 'listing'));
    await writeFile(path.join(ratecardsDir, 'listing', '2026-01-01.yaml'), LISTING_RATECARD);
    await publishRateCardFiles(billing.pool, [path.join(ratecardsDir, 'listing', '2026-01-01.yaml')], {
      publishedBy: 'test',
    });
    return new MarketplaceTestbed(
      billing,
      ratecardsDir,
      await AwsMeteringEmulator.start(options.aws),
      await AzureMeteringEmulator.start(options.azure),
      await GcpServiceControlEmulator.start(options.gcp),
    );
  }

  get pool() {
    return this.billing.pool;
  }

  /** Sets the three marketplaces' clocks (the sender's is the `asOf` it is given). */
  setNow(instant: string | undefined): void {
    for (const emulator of [this.aws, this.azure, this.gcp]) emulator.server.setNow(instant);
  }

  /** Writes a version of the listing's rate card and publishes it, as Finance would. */
  async writeRateCardVersion(effectiveFrom: string, text: string): Promise<void> {
    const file = path.join(this.ratecardsDir, 'listing', `${effectiveFrom}.yaml`);
    await writeFile(file, text);
    await publishRateCardFiles(this.pool, [file], { publishedBy: 'test' });
  }

  async addCustomer(
    customerId: string,
    marketplace: keyof typeof MARKETPLACE_BLOCKS,
    overrides: Partial<Contract> = {},
  ): Promise<void> {
    await this.billing.publishContract(
      buildContract({
        customer_id: customerId,
        ratecard: 'listing',
        currency: 'USD',
        marketplace: { ...MARKETPLACE_BLOCKS[marketplace] },
        ...overrides,
      }),
    );
  }

  /** Usage of one customer: `[hour ISO, sku, quantity]`; tokens and storage carry their quantity, jobs count. */
  events(
    customerId: string,
    usage: readonly [string, 'llm.tokens' | 'batch.jobs' | 'storage.gb', string][],
  ): UsageEvent[] {
    return usage.map(([timestamp, sku, quantity]) =>
      buildUsageEvent({
        customer_id: customerId,
        timestamp,
        unit: sku === 'llm.tokens' ? 'tokens' : sku === 'batch.jobs' ? 'jobs' : 'GB',
        quantity,
        metadata: { sku },
      }),
    );
  }

  adapters(which: readonly ('aws' | 'azure' | 'gcp')[] = ['aws', 'azure', 'gcp']): MarketplaceAdapters {
    return {
      ...(which.includes('aws')
        ? {
            aws: new AwsMeteringAdapter({
              endpoint: this.aws.endpoint,
              region: 'us-east-1',
              credentials: async () => ({
                accessKeyId: this.aws.accessKeyId,
                secretAccessKey: this.aws.secretAccessKey,
              }),
              maxAttempts: 1,
              requestTimeoutMs: 5_000,
            }),
          }
        : {}),
      ...(which.includes('azure')
        ? {
            azure: new AzureMeteringAdapter({
              endpoint: this.azure.endpoint,
              token: async () => this.azure.token,
              requestTimeoutMs: 5_000,
            }),
          }
        : {}),
      ...(which.includes('gcp')
        ? {
            gcp: new GcpServiceControlAdapter({
              endpoint: this.gcp.endpoint,
              token: async () => this.gcp.token,
              requestTimeoutMs: 5_000,
            }),
          }
        : {}),
    };
  }

  settings(overrides: Partial<MarketplaceSettings> = {}): MarketplaceSettings {
    return {
      windows: DOCUMENTED_REPORT_WINDOWS,
      settleMs: 5 * 60_000,
      restatementMs: 36 * 86_400_000,
      azureQuantityScale: 6,
      defaults: {},
      throttleRetries: 3,
      unprocessedRounds: 2,
      ...overrides,
    };
  }

  activities(
    options: { adapters?: MarketplaceAdapters; settings?: Partial<MarketplaceSettings> } = {},
  ): MarketplaceActivities {
    return createMarketplaceActivities({
      pool: this.pool,
      listMarketplaceCustomers: publishedMarketplaceCustomers(this.pool),
      loadTerms: (customerId) => this.terms.current(customerId),
      adapters: options.adapters ?? this.adapters(),
      settings: this.settings(options.settings),
      sleep: async () => undefined,
    });
  }

  /**
   * Runs `work` while an in-process billing worker polls this testbed's task queue with the period
   * and the marketplace activities, the adapters pointed at the emulators.
   */
  async withWorker<T>(work: () => Promise<T>, settings: Partial<MarketplaceSettings> = {}): Promise<T> {
    const connection = await NativeConnection.connect({ address: testStack().endpoints.temporalAddress });
    const loadTerms = (customerId: string) => this.terms.current(customerId);
    try {
      const worker = await Worker.create({
        connection,
        namespace: testStack().endpoints.temporalNamespace,
        taskQueue: this.billing.taskQueue,
        workflowsPath: fileURLToPath(new URL('../../../workflows/index.ts', import.meta.url)),
        interceptors: { activity: tallyActivityInterceptors },
        activities: checkActivityContracts({
          ...createBillingActivities({
            pool: this.pool,
            terms: this.terms,
            providers: createBillingProviders({ pool: this.pool }),
            notifier: createWebhookNotifier(this.billing.webhookUrl),
          }),
          ...createMarketplaceActivities({
            pool: this.pool,
            listMarketplaceCustomers: publishedMarketplaceCustomers(this.pool),
            loadTerms,
            adapters: this.adapters(),
            settings: this.settings(settings),
            temporal: { client: this.billing.client, taskQueue: this.billing.taskQueue },
            sleep: async () => undefined,
          }),
        }),
      });
      return await worker.runUntil(work());
    } finally {
      await connection.close();
    }
  }

  /** The environment a `tally worker` child process needs to report to the emulators. */
  workerEnv(): Record<string, string> {
    return {
      TALLY_RATECARDS_DIR: this.ratecardsDir,
      TALLY_MARKETPLACE_AWS_ENDPOINT: this.aws.endpoint,
      TALLY_MARKETPLACE_AWS_ACCESS_KEY_ID: this.aws.accessKeyId,
      TALLY_MARKETPLACE_AWS_SECRET_ACCESS_KEY: this.aws.secretAccessKey,
      TALLY_MARKETPLACE_AWS_MAX_ATTEMPTS: '1',
      TALLY_MARKETPLACE_AZURE_ENDPOINT: this.azure.endpoint,
      TALLY_MARKETPLACE_AZURE_TOKEN: this.azure.token,
      TALLY_MARKETPLACE_GCP_ENDPOINT: this.gcp.endpoint,
      TALLY_MARKETPLACE_GCP_TOKEN: this.gcp.token,
      TALLY_MARKETPLACE_SETTLE: '0ms',
      TALLY_MARKETPLACE_SCHEDULE: 'off',
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.aws.close(), this.azure.close(), this.gcp.close()]);
    await this.billing.close();
    await rm(this.ratecardsDir, { recursive: true, force: true });
  }
}
