import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { createBackfillActivities } from '../activities/backfill-activities.ts';
import { repositoryRoot } from '../config/paths.ts';
import { Decimal, describeAmountsByCurrency } from '../domain/money.ts';
import { billingPeriod } from '../domain/period.ts';
import { publishedTerms, publishRateCardRoot } from '../terms/index.ts';
import { backfillWorkflowId, type BackfillInput, type BackfillProgress } from '../workflows/backfill-definitions.ts';

export interface BackfillPhaseResult {
  readonly customerPeriods: number;
  readonly planMs: number;
  readonly runMs: number;
  /** Customer-periods per second over plan + run: what a backfill of the month costs end to end. */
  readonly perSecond: number;
  readonly adjusted: number;
  /** The run's Δ per currency, as `tally backfill status` prints it. */
  readonly adjustmentTotals: string;
}

/**
 * A price correction for the closed month, then a backfill over every customer-period of it:
 * Finance publishes each sample card again, in force from the 20th, with every unit price 10 %
 * lower; the plan re-rates every event of the month (corrections and late events included) under
 * the cards now in force; the run writes each customer-period's adjustment through its child
 * workflow. Measured on the close benchmark's stack and data, right after the close.
 */
export async function runBackfillPhase(input: {
  readonly pool: pg.Pool;
  readonly client: Client;
  readonly taskQueue: string;
  readonly period: string;
  readonly customerPeriods: number;
  readonly planConcurrency: number;
  readonly runConcurrency: number;
  readonly log: (line: string) => void;
}): Promise<BackfillPhaseResult> {
  const { pool, client, log } = input;
  const repriceFrom = `${input.period}-20T00:00:00Z`;
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tally-bench-backfill-'));
  try {
    const cardsRoot = path.join(repositoryRoot, 'ratecards');
    for (const card of await readdir(cardsRoot, { withFileTypes: true })) {
      if (!card.isDirectory()) continue;
      const versions = (await readdir(path.join(cardsRoot, card.name))).filter((name) => name.endsWith('.yaml')).sort();
      const latest = versions.at(-1);
      if (latest === undefined) continue;
      const text = await readFile(path.join(cardsRoot, card.name, latest), 'utf8');
      const repriced = text
        .replace(/^effective_from: .*$/m, `effective_from: ${repriceFrom}`)
        .replace(
          /unit_price: "([0-9.]+)"/g,
          (_match, price: string) => `unit_price: "${new Decimal(price).times('0.9').toString()}"`,
        );
      await mkdir(path.join(folder, card.name), { recursive: true });
      await writeFile(path.join(folder, card.name, `${repriceFrom.slice(0, 10)}.yaml`), repriced);
    }
    await publishRateCardRoot(pool, folder, { publishedBy: 'bench-backfill' });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  log(
    `backfill: every card repriced −10 % from ${repriceFrom}; plan and run over ${input.customerPeriods} customer-periods`,
  );

  const planStarted = performance.now();
  const plan = await createBackfillActivities({ pool, terms: publishedTerms(pool) }).planBackfill({
    from: billingPeriod(input.period).name,
    to: billingPeriod(input.period).name,
    reason: 'bench: price correction',
    createdBy: 'bench',
    now: new Date().toISOString(),
    concurrency: input.planConcurrency,
  });
  const planMs = performance.now() - planStarted;
  log(
    `  plan ${plan.planId}: ${plan.items.length} customer-periods in ${(planMs / 1000).toFixed(1)} s, adjustment ${describeAmountsByCurrency(plan.adjustmentTotals)}`,
  );

  const runStarted = performance.now();
  const args: BackfillInput = {
    backfillId: plan.planId,
    planId: plan.planId,
    startedBy: 'bench',
    concurrency: input.runConcurrency,
  };
  const handle = await client.workflow.start('backfillWorkflow', {
    taskQueue: input.taskQueue,
    workflowId: backfillWorkflowId(plan.planId),
    args: [args],
  });
  const progress = (await handle.result()) as BackfillProgress;
  const runMs = performance.now() - runStarted;
  if (progress.state !== 'completed' || progress.done !== plan.items.length || progress.failures.length > 0)
    throw new Error(`backfill incomplete: ${JSON.stringify(progress)}`);
  log(
    `  run: ${progress.done} customer-periods in ${(runMs / 1000).toFixed(1)} s, ${progress.adjusted} adjusted, Δ ${describeAmountsByCurrency(progress.adjustmentTotals)}`,
  );
  return {
    customerPeriods: plan.items.length,
    planMs,
    runMs,
    perSecond: plan.items.length / ((planMs + runMs) / 1000),
    adjusted: progress.adjusted,
    adjustmentTotals: describeAmountsByCurrency(progress.adjustmentTotals),
  };
}
