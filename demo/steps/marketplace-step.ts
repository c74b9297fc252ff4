import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createMarketplaceActivities,
  marketplaceStatus,
  publishedMarketplaceCustomers,
} from '../../activities/index.ts';
import { textTable } from '../../views/text-table.ts';
import { marketplaceAdapterOptions, marketplaceSettings, parseMarketplaceEnv } from '../../config/marketplace.ts';
import { contractToYaml, type Contract } from '../../contracts/contract.ts';
import { Decimal } from '../../domain/money.ts';
import { findInvoice } from '../../db/queries/invoices.ts';
import { createMarketplaceAdapters } from '../../providers/marketplaces/index.ts';
import { AwsMeteringEmulator } from '../../sandboxes/marketplaces/aws-metering-emulator.ts';
import { publishContractFiles, publishedTerms } from '../../terms/index.ts';
import { count, indent, out, type DemoRun } from '../demo-run.ts';
import { closePeriodNow } from '../period-run.ts';
import { marketplaceUsage, publishBatch, waitForIngest } from '../usage-batches.ts';
import { DEMO_PERIOD, DemoError, type DemoCustomerTerms } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

/** The SKUs the sample listing (ratecards/marketplace) reports, each under its own dimension. */
const LISTED_SKUS = ['llm.tokens', 'batch.jobs', 'db.queries'] as const;
/** The buyer's (sample) AWS account. */
const BUYER_ACCOUNT = '210987654321';

/**
 * 5. One more customer, who buys through the AWS Marketplace: the marketplace bills them, so Tally
 * reports their usage hour by hour and exactly once, and keeps the rated invoice as the record the
 * marketplace's statement should add up to. The AWS Marketplace Metering sandbox runs in-process
 * (sandboxes/marketplaces), and the official AWS SDK client talks to it as it would to AWS.
 */
export const marketplaceStep: DemoStep = {
  title: () => `AWS Marketplace: a buyer billed by the marketplace, its usage reported hourly, exactly once`,
  async run(run: DemoRun) {
    const { workspace } = run;
    const { pool, temporal, taskQueue, publisher, ingest, jsm, streamName, consumerName } = run.connected;
    const sample = workspace.customers.find(
      (customer) => customer.sample.currency === 'USD' && customer.sample.size !== 'small',
    )?.sample;
    if (sample === undefined) throw new DemoError('the demo needs a USD sample customer for the marketplace buyer');
    const customerId = `aws-${sample.customerId}-${workspace.runId}`;
    const contract: Contract = {
      customer_id: customerId,
      ratecard: 'marketplace',
      currency: 'USD',
      starts_at: '2026-10-01T00:00:00Z',
      grace: '1h',
      // One license per buyer: AWS keys a record by account, license, dimension and hour.
      marketplace: {
        kind: 'aws',
        customer_account: BUYER_ACCOUNT,
        license_arn: `arn:aws:license-manager::${BUYER_ACCOUNT}:license/l-${workspace.runId}`,
      },
    } as Contract;
    const file = path.join(workspace.contractsDir, `${customerId}.yaml`);
    await writeFile(file, contractToYaml(contract));
    await publishContractFiles(pool, [file], { publishedBy: 'demo', note: `demo run ${workspace.runId}` });
    const buyer: DemoCustomerTerms = { sample, customerId, contract };

    // Its October usage, through the same pipeline as everyone's.
    const batch = marketplaceUsage(workspace, buyer, { scale: run.options.scale, skus: LISTED_SKUS });
    await publishBatch(publisher, batch, () => ingest.consumer.totals.messages, 'Marketplace');
    await waitForIngest(jsm, streamName, consumerName);
    out(`   ${customerId}: ${count(batch.events)} events of ${LISTED_SKUS.join(', ')} stored`);

    // Its close rates and issues Tally's invoice as for anyone; the "sync" records that AWS bills it.
    const handle = await closePeriodNow(temporal.client, taskQueue, run.periodInput(customerId, DEMO_PERIOD));
    const closed = await handle.result();
    if (closed.stage !== 'completed') throw new DemoError(`${customerId} ${DEMO_PERIOD} ended ${closed.stage}`);
    const invoice = await findInvoice(pool, closed.invoiceId);
    const sync = await pool.query<{ status: string; external_customer_id: string }>(
      'SELECT status, external_customer_id FROM provider_sync_records WHERE invoice_id = $1',
      [closed.invoiceId],
    );
    out(
      `   invoice ${invoice?.invoiceNumber ?? closed.invoiceId} ${invoice?.document.total ?? '?'} USD issued as the record; provider sync: ${sync.rows[0]?.status ?? 'none'} (${sync.rows[0]?.external_customer_id ?? '?'})`,
    );

    // The hourly send, now: seal every hour that is due, send the records, check the windows.
    const aws = await AwsMeteringEmulator.start();
    try {
      const config = parseMarketplaceEnv({
        TALLY_MARKETPLACE_AWS_ENDPOINT: aws.endpoint,
        TALLY_MARKETPLACE_AWS_ACCESS_KEY_ID: aws.accessKeyId,
        TALLY_MARKETPLACE_AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
        TALLY_MARKETPLACE_SETTLE: '0ms',
      });
      const terms = publishedTerms(pool);
      const deps = {
        pool,
        listMarketplaceCustomers: publishedMarketplaceCustomers(pool),
        loadTerms: (id: string) => terms.current(id),
        settings: marketplaceSettings(config),
      };
      const activities = createMarketplaceActivities({
        ...deps,
        adapters: createMarketplaceAdapters(marketplaceAdapterOptions(config)),
      });
      const asOf = new Date().toISOString();
      // A pass seals a bounded number of hours (the schedule's catch-up): pass again until none is due.
      const sealed = { sealed: 0 };
      for (let pass = await activities.sealMarketplaceHours({ asOf }); pass.sealed > 0;) {
        sealed.sealed += pass.sealed;
        pass = await activities.sealMarketplaceHours({ asOf });
      }
      const sent = await activities.sendMarketplaceRecords({ asOf, marketplace: 'aws' });
      // The same hour again: a second pass (the schedule's next run, a retry) reports nothing twice.
      const again = await activities.sendMarketplaceRecords({ asOf, marketplace: 'aws' });
      out(
        `   sealed ${count(sealed.sealed)} hourly buckets; AWS BatchMeterUsage: ${count(sent.calls)} calls, ${count(sent.accepted)} records accepted, ${count(sent.pending)} pending; a second pass sent ${count(again.accepted + again.duplicate)} records again`,
      );
      const status = await marketplaceStatus(deps, { period: DEMO_PERIOD, customerId, asOf });
      out(
        `   ${DEMO_PERIOD}'s hours are past AWS's 24-hour window, so their usage rides on the first hour still open (carried, never lost):`,
      );
      out(
        indent(
          textTable(
            ['dimension', 'rated', 'carried', 'sent', 'balanced'],
            status.parity.map((row) => [row.dimension, row.rated, row.carried, row.sent, row.balanced ? 'yes' : 'NO']),
            { rightAligned: [1, 2, 3] },
          ),
        ),
      );
      const license = contract.marketplace?.kind === 'aws' ? contract.marketplace.license_arn : '';
      const held = new Map<string, Decimal>();
      for (const record of aws.records.values())
        if (record.licenseArn === license)
          held.set(record.dimension, (held.get(record.dimension) ?? new Decimal(0)).plus(record.quantity));
      out(
        `   what AWS now holds for the buyer (whole listing units; the fraction waits for the next hour): ${[...held]
          .map(([dimension, quantity]) => `${dimension} ${quantity.toFixed()}`)
          .join(', ')}`,
      );
      if (status.parity.some((row) => !row.balanced))
        throw new DemoError(`the marketplace parity of ${customerId} does not balance`);
      if (again.accepted + again.duplicate > 0) throw new DemoError('a second pass reported records again');
    } finally {
      await aws.close();
    }
  },
};
