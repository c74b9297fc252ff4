import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkUsageAlerts } from '../../activities/index.ts';
import { COMMIT_COLUMNS, commitRows } from '../../cli/commits-commands.ts';
import { forecastText } from '../../cli/forecast-commands.ts';
import { loadProductSignals, signalsFileFromEnv } from '../../config/signals.ts';
import { listAnomalies } from '../../db/queries/anomalies.ts';
import { commitReport } from '../../finops/commit-report.ts';
import { forecastReport } from '../../finops/forecast-report.ts';
import { createWebhookNotifier } from '../../providers/webhook-notifier.ts';
import { publishedTerms } from '../../terms/index.ts';
import { recordTable } from '../../views/text-table.ts';
import type { anomalyDayWorkflow } from '../../workflows/anomalies.ts';
import { anomalyDayWorkflowId, type AnomalyDaySummary } from '../../workflows/anomaly-definitions.ts';
import { indent, out, STEP_TIMEOUT_MS, type DemoRun } from '../demo-run.ts';
import {
  DEMO_ANOMALY,
  DEMO_COMMITS_AS_OF,
  DEMO_FORECAST_FROM,
  DEMO_PERIOD,
  DEMO_SCANNED_DAYS,
  DemoError,
  demoRoutesFile,
} from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

/** What the demo's webhook receiver was sent: one POST each. */
interface ReceivedAlert {
  readonly path: string;
  readonly idempotencyKey: string | undefined;
  readonly body: {
    readonly key?: string;
    readonly target?: string;
    readonly anomaly_kind?: string;
    readonly anomaly?: Record<string, unknown>;
  };
}

/** The forecast's horizon in the demo, as `tally forecast --horizon 90d`. */
const FORECAST_HORIZON_DAYS = 90;

/**
 * The FinOps loop over the run's history and billed month (SPEC §10): the daily anomaly workflow for
 * each scanned day (the one the daily Schedule's launcher starts, under the same id), its alert
 * delivered to a webhook receiver the demo's routing file names, then `tally commits` and `tally
 * forecast` as of the billed month's end, for the run's contracts.
 */
export const finopsStep: DemoStep = {
  title: () =>
    `FinOps: daily anomaly runs for ${DEMO_SCANNED_DAYS.join(' and ')}, alert routing, commit burndown, forecast`,
  async run(run: DemoRun) {
    const { pool, temporal, taskQueue } = run.connected;
    const customers = run.workspace.customers.map((customer) => customer.customerId);
    const ours = new Set(customers);

    // A local HTTP receiver stands in for on-call's webhook; the demo's routing file sends high severities to it.
    const receiver = await startAlertReceiver();
    run.opened.push(receiver);
    const routesFile = demoRoutesFile(run.workspace);
    await writeFile(
      routesFile,
      [
        '# Where the demo run routes anomaly alerts (TALLY_ANOMALY_ROUTES of its billing worker).',
        'targets:',
        `  oncall: ${receiver.url}/oncall`,
        `  finance: ${receiver.url}/finance`,
        'routes:',
        '  - { target: oncall, severity: [high] }',
        '  - { target: finance, metric: [cogs] }',
        '',
      ].join('\n'),
    );
    out(
      `   routes (${routesFile}): severity high → oncall (${receiver.url}/oncall), COGS → finance; each anomaly alerts once per target`,
    );

    run.assertRunning();
    for (const day of DEMO_SCANNED_DAYS) {
      const summary: AnomalyDaySummary = await temporal.client.workflow.execute<typeof anomalyDayWorkflow>(
        'anomalyDayWorkflow',
        {
          taskQueue,
          workflowId: anomalyDayWorkflowId(taskQueue, day),
          args: [{ day, stepTimeoutMs: STEP_TIMEOUT_MS }],
        },
      );
      out(
        `   workflow ${anomalyDayWorkflowId(taskQueue, day)}: ${summary.series} series scored against their 28-day weekday baseline, ${summary.anomalies} anomal${summary.anomalies === 1 ? 'y' : 'ies'} (${summary.recorded} new, ${summary.routed} routed), ${summary.delivered} alert${summary.delivered === 1 ? '' : 's'} delivered${summary.undelivered ? ', some still pending' : ''}`,
      );
    }

    const found = (
      await listAnomalies(pool, { from: DEMO_SCANNED_DAYS[0], to: DEMO_SCANNED_DAYS.at(-1) as string })
    ).filter((anomaly) => anomaly.customerId !== null && ours.has(anomaly.customerId));
    out(
      indent(
        recordTable(
          found.map((anomaly) => ({
            day: anomaly.day,
            customer: anomaly.customerId ?? '(all)',
            sku: anomaly.sku,
            kind: anomaly.kind,
            value: anomaly.value,
            expected: anomaly.expected,
            range: `${anomaly.lower} – ${anomaly.upper}`,
            score: anomaly.score.toFixed(2),
            severity: anomaly.severity,
            alerts:
              anomaly.deliveries
                .map((delivery) => `${delivery.target} ${delivery.deliveredAt !== undefined ? 'sent' : 'pending'}`)
                .join(', ') || '—',
          })),
          ['day', 'customer', 'sku', 'kind', 'value', 'expected', 'range', 'score', 'severity', 'alerts'],
        ),
      ),
    );
    const injected = `${DEMO_ANOMALY.customerId}-${run.workspace.runId}`;
    const spike = found.find(
      (anomaly) =>
        anomaly.customerId === injected &&
        anomaly.sku === DEMO_ANOMALY.sku &&
        anomaly.day === DEMO_ANOMALY.day &&
        anomaly.kind === 'spike',
    );
    if (spike === undefined)
      throw new DemoError(
        `the daily run did not find the injected spike (${injected} ${DEMO_ANOMALY.sku} on ${DEMO_ANOMALY.day})`,
      );
    if (found.length !== 1)
      throw new DemoError(
        `expected the injected spike alone, the daily run found ${found.length} anomalies of the run: ${found.map((anomaly) => anomaly.anomalyId).join(', ')}`,
      );
    const alert = receiver.received.find((entry) => entry.body.key === `anomaly:${spike.anomalyId}:oncall`);
    if (alert === undefined)
      throw new DemoError(
        `the receiver got no alert for ${spike.anomalyId} (it got ${receiver.received.length} posts)`,
      );
    out(
      `   the receiver got POST ${alert.path} (Idempotency-Key ${alert.idempotencyKey ?? '—'}): ${JSON.stringify({ anomaly_kind: alert.body.anomaly_kind, ...alert.body.anomaly })}`,
    );
    out(`   tally anomalies list --customer ${injected} shows it; ack, snooze or annotate it there`);

    // The usage-alert loop's valuation of the billed month, brought up to date for every customer of the
    // run as the worker's next pass would (its notifications stay on record for the worker to send).
    const alertDeps = { pool, terms: publishedTerms(pool), notifier: createWebhookNotifier(undefined) };
    for (const customerId of customers) await checkUsageAlerts(alertDeps, { customerId, period: DEMO_PERIOD });
    const contracts = (await commitReport(pool, { asOf: `${DEMO_COMMITS_AS_OF}T00:00:00.000Z` })).filter((entry) =>
      ours.has(entry.customer_id),
    );
    out(
      `\n   tally commits --as-of ${DEMO_COMMITS_AS_OF} (the run's contracts with a commit, prepaid credit or ramp):`,
    );
    out(indent(recordTable(commitRows(contracts), COMMIT_COLUMNS)));
    const burning = contracts.filter((entry) => entry.prepaid?.burndown_on != null);
    if (burning.length === 0) throw new DemoError('no contract of the run has a prepaid burndown date');

    const forecasts = await forecastReport(pool, {
      today: DEMO_FORECAST_FROM,
      horizonDays: FORECAST_HORIZON_DAYS,
      signals: await loadProductSignals(signalsFileFromEnv()),
      customerIds: customers,
    });
    out(
      `\n   tally forecast --horizon ${FORECAST_HORIZON_DAYS}d --as-of ${DEMO_FORECAST_FROM} (the run's customers, as it read on the billed month's first day: learned from the weeks before, its backtest holding out their last 28 days):`,
    );
    out(indent(forecastText(forecasts, { from: DEMO_FORECAST_FROM, horizonDays: FORECAST_HORIZON_DAYS })));
    const ranges = forecasts.flatMap((forecast) => forecast.periods);
    if (ranges.length === 0) throw new DemoError('the forecast has no periods');
    for (const period of ranges) {
      const [p10, p50, p90] = [period.total.p10, period.total.p50, period.total.p90].map(Number);
      if (!((p10 ?? 0) <= (p50 ?? 0) && (p50 ?? 0) <= (p90 ?? 0)))
        throw new DemoError(`the forecast of ${period.period} is not a range: p10 ${p10}, p50 ${p50}, p90 ${p90}`);
    }
  },
};

/** An HTTP server on a free local port that answers 204 to every POST and keeps what it got. */
async function startAlertReceiver(): Promise<{
  url: string;
  received: ReceivedAlert[];
  close: () => Promise<void>;
}> {
  const received: ReceivedAlert[] = [];
  const server = createServer((request, response) => {
    void readBody(request).then(
      (text) => {
        let body: ReceivedAlert['body'] = {};
        try {
          body = JSON.parse(text) as ReceivedAlert['body'];
        } catch {
          // Kept as an empty body: the check names what arrived.
        }
        const key = request.headers['idempotency-key'];
        received.push({ path: request.url ?? '/', idempotencyKey: typeof key === 'string' ? key : undefined, body });
        response.writeHead(204).end();
      },
      () => response.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
