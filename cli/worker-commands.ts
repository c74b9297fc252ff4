import type { Command } from 'commander';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import { durationMs } from '../contracts/config-fields.ts';
import { parseStripeEnv } from '../config/stripe.ts';
import { runBillingWorker } from '../workers/billing-worker.ts';
import { ensureServices } from './services.ts';

export function registerWorkerCommands(program: Command): void {
  program.command('worker').description('run the billing worker: period workflows, their activities and the period opener (drains on SIGTERM)')
    .option('--grace <duration>', "override every contract's grace for workflows this worker opens (e.g. 5s; default: the contract's)")
    .option('--review-timeout <duration>', "override the contracts' review timeout for workflows this worker opens")
    .action(async (options: { grace?: string; reviewTimeout?: string }) => {
      const env = parseBillingWorkerEnv();
      const stripe = parseStripeEnv();
      const { endpoints } = await ensureServices();
      const controller = new AbortController();
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => controller.abort());
      await runBillingWorker({
        env, endpoints, signal: controller.signal,
        ...(stripe === undefined ? {} : { stripe }),
        ...(options.grace === undefined ? {} : { graceMs: durationMs(options.grace) }),
        ...(options.reviewTimeout === undefined ? {} : { reviewTimeoutMs: durationMs(options.reviewTimeout) }),
      });
    });
}
