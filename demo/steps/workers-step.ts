import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { pino } from 'pino';
import { connectTemporal } from '../../cli/services.ts';
import { parseAnomalyEnv } from '../../config/anomalies.ts';
import { parseBillingWorkerEnv } from '../../config/billing-worker.ts';
import { parseIngestWorkerEnv } from '../../config/ingest-worker.ts';
import { createPool } from '../../db/pool.ts';
import { DEFAULT_PUBLISHER_OPTIONS, EventPublisher } from '../../ingest/event-publisher.ts';
import { runBillingWorker } from '../../workers/billing-worker.ts';
import { startIngestWorker } from '../../workers/ingest-worker.ts';
import { indent, out, REVIEW_TIMEOUT_MS, STEP_TIMEOUT_MS, type DemoRun } from '../demo-run.ts';
import { demoAcceptWindow, DemoError, demoGraceMs, demoRoutesFile } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

/**
 * 2. The ingest and billing workers, in-process, on the stack's stream, database and task queue: the
 * ingest worker with an accept window wide enough for the sample month, the billing worker with the
 * run's contracts and waits short enough for a demo.
 */
export const workersStep: DemoStep = {
  title: () => 'Workers (in-process)',
  async run(run: DemoRun) {
    const { workspace } = run;
    const { endpoints } = run.services;
    const logger = pino({ name: 'tally-demo', level: 'warn' }, pino.destination(2));
    const window = demoAcceptWindow(run.now);
    const ingestConfig = {
      ...parseIngestWorkerEnv({ ...process.env, TALLY_SOURCE_KEYS_FILE: workspace.sourceKeysFile }),
      acceptPastMs: window.pastMs,
      acceptFutureMs: window.futureMs,
      logLevel: 'warn',
    };
    const temporal = await reach('Temporal', endpoints.temporalAddress, () => connectTemporal(endpoints));
    run.opened.push(temporal);
    const ingest = await reach('NATS', endpoints.natsUrl, () =>
      startIngestWorker(ingestConfig, { natsUrl: endpoints.natsUrl, databaseUrl: workspace.databaseUrl }, logger),
    );
    run.opened.push({ close: () => ingest.stop() });
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // A runtime exists already in this process; its logger stays.
    }
    const graceMs = Math.ceil(demoGraceMs(run.now) / 60_000) * 60_000;
    const billingConfig = {
      ...parseBillingWorkerEnv(),
      periodOpenerIntervalMs: 500,
      openerOverrides: { graceMs, reviewTimeoutMs: REVIEW_TIMEOUT_MS, stepTimeoutMs: STEP_TIMEOUT_MS },
      logLevel: 'warn' as const,
    };
    // Bundling the workflows takes a few seconds: the worker starts now and polls by the time periods close.
    run.billingWorker = runBillingWorker({
      config: billingConfig,
      // The daily anomaly run's activities, routing by the run's own file (the FinOps step writes it); no schedule.
      anomalies: parseAnomalyEnv({
        ...process.env,
        TALLY_ANOMALY_SCHEDULE: 'off',
        TALLY_ANOMALY_ROUTES: demoRoutesFile(workspace),
      }),
      endpoints: { ...endpoints, databaseUrl: workspace.databaseUrl },
      signal: run.stopBillingWorker.signal,
      logger,
    }).catch((error: unknown) => {
      run.billingWorkerError = error ?? new Error('failed');
    });
    const pool = createPool(workspace.databaseUrl, { max: 4, applicationName: 'tally-demo' });
    run.opened.push({ close: () => pool.end() });
    const nats = await connect({
      servers: endpoints.natsUrl,
      name: 'tally-demo-producer',
      maxReconnectAttempts: -1,
      timeout: 5000,
    });
    run.opened.push({ close: () => nats.drain() });
    run.connected = {
      pool,
      temporal,
      nats,
      jsm: await jetstreamManager(nats),
      publisher: new EventPublisher(nats, { ...DEFAULT_PUBLISHER_OPTIONS, maxInFlight: 1000 }),
      ingest,
      consumerName: ingestConfig.consumerName,
      streamName: ingestConfig.streamName,
      taskQueue: billingConfig.taskQueue,
    };
    out(
      indent(
        [
          `ingest worker: consumer ${ingestConfig.consumerName} on ${ingestConfig.streamName}, ${ingestConfig.writers} writers × batches of ${ingestConfig.batchSize}; accept window ${Math.ceil(window.pastMs / 86_400_000)} days back, ${Math.ceil(window.futureMs / 86_400_000)} ahead (widened to take the sample months)`,
          `billing worker: task queue ${billingConfig.taskQueue}, period opener every 0.5 s; workflows wait for the demo's closeNow`,
        ].join('\n'),
      ),
    );
  },
};

/** A service the demo cannot reach is named with its address, not as a stack trace. */
async function reach<T>(service: string, address: string, connectTo: () => Promise<T>): Promise<T> {
  try {
    return await connectTo();
  } catch (error) {
    throw new DemoError(
      `cannot reach ${service} at ${address}: ${error instanceof Error ? error.message : String(error)} (is the stack up? tally stack status)`,
    );
  }
}
