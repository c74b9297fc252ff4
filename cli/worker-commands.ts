import type { Command } from 'commander';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import { parseMarketplaceEnv } from '../config/marketplace.ts';
import { parseStripeEnv } from '../config/stripe.ts';
import { runBillingWorker } from '../workers/billing-worker.ts';
import { ensureServices } from './services.ts';

export function registerWorkerCommands(program: Command): void {
  program.command('worker').action(async () => {
    const config = parseBillingWorkerEnv();
    const stripe = parseStripeEnv();
    const marketplace = parseMarketplaceEnv();
    const { endpoints } = await ensureServices();
    const controller = new AbortController();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => controller.abort());
    await runBillingWorker({
      config,
      endpoints,
      signal: controller.signal,
      marketplace,
      ...(stripe === undefined ? {} : { stripe }),
    });
  });
}
