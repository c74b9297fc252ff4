import type { Command } from 'commander';
import { parseAnomalyEnv } from '../config/anomalies.ts';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import { parseMarketplaceEnv } from '../config/marketplace.ts';
import { parseStripeEnv } from '../config/stripe.ts';
import { runBillingWorker, shutdownBoundMs } from '../workers/billing-worker.ts';
import { ensureServices } from './services.ts';

export function registerWorkerCommands(program: Command): void {
  program.command('worker').action(async () => {
    const config = parseBillingWorkerEnv();
    const stripe = parseStripeEnv();
    const marketplace = parseMarketplaceEnv();
    const anomalies = parseAnomalyEnv();
    const { endpoints } = await ensureServices();
    const controller = new AbortController();
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      process.once(signal, () => {
        controller.abort();
        // The worker bounds its own stop; this is the backstop should anything still hang past it.
        setTimeout(
          () => {
            process.stderr.write(`tally: the worker did not stop within ${shutdownBoundMs(config)} ms; exiting\n`);
            process.exit(1);
          },
          shutdownBoundMs(config) + 1_000,
        ).unref();
      });
    try {
      await runBillingWorker({
        config,
        endpoints,
        signal: controller.signal,
        marketplace,
        anomalies,
        ...(stripe === undefined ? {} : { stripe }),
      });
    } finally {
      // Stopped as asked: a query abandoned at shutdown may still hold a socket open, and nothing is
      // left to wait for.
      if (controller.signal.aborted) process.exit(process.exitCode ?? 0);
    }
  });
}
