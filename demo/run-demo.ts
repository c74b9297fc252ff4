import { parseStripeEnv } from '../config/stripe.ts';
import { ensureServices } from '../cli/services.ts';
import { DemoRun, out, type DemoOptions } from './demo-run.ts';
import { DEMO_COMMITS_AS_OF, DEMO_FORECAST_FROM } from './workspace.ts';
import { backfillBilledStep, correctionsBackfillStep } from './steps/backfill-step.ts';
import { closeOctoberStep } from './steps/close-october-step.ts';
import type { DemoStep } from './steps/demo-step.ts';
import { finopsStep } from './steps/finops-step.ts';
import { historyStep } from './steps/history-step.ts';
import { lateUsageStep } from './steps/late-usage-step.ts';
import { shadowStep } from './steps/shadow-step.ts';
import { marketplaceStep } from './steps/marketplace-step.ts';
import { octoberUsageStep } from './steps/october-usage-step.ts';
import { revenueRecognitionStep } from './steps/revenue-recognition-step.ts';
import { summaryStep } from './steps/summary-step.ts';
import { workersStep } from './steps/workers-step.ts';
import { workspaceStep } from './steps/workspace-step.ts';

/** The demo, step by step. The summary checks the books and stays last. */
const DEMO_STEPS: readonly DemoStep[] = [
  workspaceStep,
  workersStep,
  historyStep,
  octoberUsageStep,
  revenueRecognitionStep,
  closeOctoberStep,
  shadowStep,
  correctionsBackfillStep,
  lateUsageStep,
  backfillBilledStep,
  marketplaceStep,
  finopsStep,
  summaryStep,
];

/**
 * `tally demo`: the whole pipeline on the embedded stack, in one process. The ingest and billing
 * workers run in-process on the stack's database, stream and task queue; the demo publishes the weeks
 * before its month (closed with nothing to bill) and a month of signed usage through JetStream, closes the period for every customer, approves the one
 * exception through the `decide` update, corrects two closed October events and backfills October,
 * sends late usage and bills it and the backfill as adjustments on November, runs the FinOps loop (the daily anomaly run over the history, its alert routed to a local webhook, commit burndown, the forecast), and checks the books (trial balance, usage tie-out). Fails, non-zero, when any of it does not add
 * up. Everything it leaves is what `tally invoice list`, `tally review list` and the console show.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const run = new DemoRun(options, new Date(), await ensureServices());
  if (parseStripeEnv() !== undefined) {
    out(
      "note: STRIPE_API_KEY is set, but the demo's customers exist only in this run (Tally never creates Stripe customers): the demo syncs to the ledger sink.",
    );
  }
  const interrupt = (): void => {
    run.interrupted = true;
    run.stopBillingWorker.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    for (const [index, step] of DEMO_STEPS.entries()) {
      const startedMs = Date.now();
      out(`\n${index + 1}. ${step.title(run)}`);
      await step.run(run);
      out(`   (${((Date.now() - startedMs) / 1000).toFixed(1)} s)`);
    }
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await run.close();
  }
  out(
    `\nexplore it: tally invoice list · tally invoice show <invoice> --lineage · tally review list · tally journal trial-balance · tally anomalies list · tally commits --as-of ${DEMO_COMMITS_AS_OF} · tally forecast --as-of ${DEMO_FORECAST_FROM}`,
  );
  out(`demo finished in ${((Date.now() - run.startedMs) / 1000).toFixed(1)} s`);
}
