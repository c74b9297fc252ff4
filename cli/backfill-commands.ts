import os from 'node:os';
import type { Command } from 'commander';
import type pg from 'pg';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createBackfillActivities } from '../activities/backfill-activities.ts';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import { createPool } from '../db/pool.ts';
import { recordAudit } from '../db/queries/audit-log.ts';
import {
  backfillRunTotals,
  countBackfillPlanItems,
  listBackfillPlans,
  loadBackfillPlan,
  loadBackfillPlanHeader,
  loadBackfillRun,
  type BackfillPlan,
} from '../db/queries/backfills.ts';
import { describeCause } from '../domain/backfill/index.ts';
import { describeAmountsByCurrency, displayMoney } from '../domain/money.ts';
import { publishedTerms } from '../terms/index.ts';
import {
  backfillProgressQuery,
  backfillWorkflowId,
  cancelBackfillSignal,
  pauseBackfillSignal,
  resumeBackfillSignal,
  type BackfillInput,
  type BackfillProgress,
} from '../workflows/backfill-definitions.ts';
import { connectTemporal, ensureServices, printTable, withDatabase } from './services.ts';

/** Recalculating closed periods (SPEC §5): plan, then run the plan as a workflow, and watch it. */
export function registerBackfillCommands(program: Command): void {
  const backfill = program.command('backfill');

  backfill
    .command('plan')
    .description(
      're-rate each closed customer-period in range under what is in force now; write only the plan and print it',
    )
    .requiredOption('--from <YYYY-MM>', 'first period')
    .requiredOption('--to <YYYY-MM>', 'last period')
    .requiredOption('--reason <text>', 'why (recorded with the plan)')
    .option('--customers <ids>', 'comma-separated customer ids (default: every customer)')
    .option('--calc-version <version>', 'calculation version to re-rate under (default: the one this Tally runs)')
    .option('--by <name>', 'who plans (default: the OS user)')
    .option('--concurrency <n>', 'customer-periods re-rated at once', '4')
    .option('--json', 'machine-readable output')
    .action(
      async (options: {
        from: string;
        to: string;
        reason: string;
        customers?: string;
        calcVersion?: string;
        by?: string;
        concurrency: string;
        json?: boolean;
      }) => {
        const { endpoints } = await ensureServices(undefined, ['postgres']);
        const concurrency = positiveInteger(options.concurrency, '--concurrency');
        const pool = createPool(endpoints, {
          max: concurrency + 1,
          applicationName: 'tally-backfill-plan',
        });
        try {
          const plan = await createBackfillActivities({ pool, terms: publishedTerms(pool) }).planBackfill({
            from: options.from,
            to: options.to,
            customers: options.customers
              ?.split(',')
              .map((id) => id.trim())
              .filter((id) => id !== ''),
            calculationVersion: options.calcVersion,
            reason: options.reason,
            createdBy: options.by ?? os.userInfo().username,
            now: new Date().toISOString(),
            concurrency,
          });
          await auditBackfill(pool, 'backfill_planned', plan.planId, {
            by: plan.createdBy,
            from: plan.from,
            to: plan.to,
            reason: plan.reason,
            calculation_version: plan.calculationVersion,
            items: String(plan.items.length),
            adjustment_totals: describeAmountsByCurrency(plan.adjustmentTotals),
          });
          if (options.json) process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
          else printPlan(plan);
        } finally {
          await pool.end();
        }
      },
    );

  backfill
    .command('run <planId>')
    .description('run a plan: workflow backfill:<id>, one child per customer-period; shows progress until it ends')
    .option('--concurrency <n>', 'customer-periods adjusted at once', '8')
    .option('--by <name>', 'who runs it (default: the OS user)')
    .option('--detach', 'start it and return (tally backfill status follows it)')
    .action(async (planId: string, options: { concurrency: string; by?: string; detach?: boolean }) => {
      const { endpoints } = await ensureServices();
      // Only the plan's size: the run reads its items a page at a time, so this process need not load them.
      const items = await withDatabase(async (pool) =>
        (await loadBackfillPlanHeader(pool, planId)) === undefined ? undefined : countBackfillPlanItems(pool, planId),
      );
      if (items === undefined) throw new Error(`no backfill plan ${planId} (tally backfill list)`);
      const temporal = await connectTemporal(endpoints);
      try {
        const input: BackfillInput = {
          backfillId: planId,
          planId,
          startedBy: options.by ?? os.userInfo().username,
          concurrency: positiveInteger(options.concurrency, '--concurrency'),
        };
        // One run per plan: a running one is joined; a finished one runs again and writes only what
        // it had not (each customer-period's result is written once).
        const handle = await temporal.client.workflow.start('backfillWorkflow', {
          taskQueue: parseBillingWorkerEnv().taskQueue,
          workflowId: backfillWorkflowId(planId),
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        });
        await withDatabase((pool) =>
          auditBackfill(pool, 'backfill_run', planId, {
            by: input.startedBy,
            workflow_id: handle.workflowId,
            items: String(items),
          }),
        );
        process.stdout.write(`backfill ${handle.workflowId} started for ${items} customer-periods\n`);
        if (options.detach) return;
        const progress = await follow(temporal.client, planId);
        process.stdout.write(`${describeProgress(progress)}\n`);
        if (progress.state === 'refused') process.exitCode = 1;
      } finally {
        await temporal.close();
      }
    });

  backfill
    .command('status <backfillId>')
    .description('progress: done / total, adjustments, Δ total, failures')
    .option('--json', 'machine-readable output')
    .option('--follow', 'keep showing progress until the run ends')
    .action(async (backfillId: string, options: { json?: boolean; follow?: boolean }) => {
      const { endpoints } = await ensureServices();
      const temporal = await connectTemporal(endpoints);
      try {
        const progress = options.follow
          ? await follow(temporal.client, backfillId)
          : await currentProgress(temporal.client, backfillId);
        if (options.json) process.stdout.write(`${JSON.stringify(progress, null, 2)}\n`);
        else process.stdout.write(`${describeProgress(progress)}\n`);
      } finally {
        await temporal.close();
      }
    });

  for (const [name, signal, what] of [
    ['pause', pauseBackfillSignal, 'stop starting customer-periods (those in flight finish)'],
    ['resume', resumeBackfillSignal, 'start customer-periods again'],
    ['cancel', cancelBackfillSignal, 'end the run: what it wrote stays written, the rest is not done'],
  ] as const) {
    backfill
      .command(`${name} <backfillId>`)
      .description(what)
      .action(async (backfillId: string) => {
        const { endpoints } = await ensureServices();
        const temporal = await connectTemporal(endpoints);
        try {
          await temporal.client.workflow.getHandle(backfillWorkflowId(backfillId)).signal(signal);
          await withDatabase((pool) =>
            auditBackfill(pool, AUDIT_ACTION_OF[name], backfillId, { by: os.userInfo().username }),
          );
          process.stdout.write(`${name} sent to ${backfillWorkflowId(backfillId)}\n`);
        } finally {
          await temporal.close();
        }
      });
  }

  backfill
    .command('list')
    .description('plans, newest first, with their run status')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const plans = await withDatabase((pool) => listBackfillPlans(pool));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(plans, null, 2)}\n`);
        return;
      }
      printTable(
        plans.map((plan) => ({
          plan: plan.planId,
          range: `${plan.from}..${plan.to}`,
          items: plan.items,
          adjustment: describeAmountsByCurrency(plan.adjustmentTotals),
          run: plan.run ?? 'not run',
          by: plan.createdBy,
          at: plan.createdAt,
          reason: plan.reason,
        })),
        ['plan', 'range', 'items', 'adjustment', 'run', 'by', 'at', 'reason'],
      );
    });

  backfill
    .command('show <planId>')
    .description(
      'the audit record: who, when, why, inputs (rate-card versions and hashes, calculation, event sets) and results',
    )
    .option('--json', 'machine-readable output')
    .action(async (planId: string, options: { json?: boolean }) => {
      const { plan, run } = await withDatabase(async (pool) => ({
        plan: await loadBackfillPlan(pool, planId),
        run: await loadBackfillRun(pool, planId),
      }));
      if (plan === undefined) throw new Error(`no backfill plan ${planId} (tally backfill list)`);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ plan, run }, null, 2)}\n`);
        return;
      }
      printPlan(plan);
      process.stdout.write('\ninputs\n');
      process.stdout.write(`  calculation version  ${plan.calculationVersion}\n`);
      process.stdout.write(`  inputs fingerprint   ${plan.inputsFingerprint}\n`);
      process.stdout.write(`  last correction      #${plan.inputs.lastCorrectionSeq}\n`);
      process.stdout.write(`  late events in range ${plan.inputs.lateEventCount}\n`);
      for (const [customerId, terms] of Object.entries(plan.inputs.terms)) {
        process.stdout.write(`  ${customerId}: contract ${terms.contractHash}\n`);
        for (const version of terms.ratecardVersions)
          process.stdout.write(`    ${version.ratecard} ${version.effective_from} ${version.content_hash}\n`);
      }
      for (const item of plan.items)
        process.stdout.write(`  ${item.customerId} ${item.period} event set ${item.eventFingerprint}\n`);
      process.stdout.write('\nrun\n');
      if (run === undefined) process.stdout.write('  not run (tally backfill run ' + plan.planId + ')\n');
      else {
        process.stdout.write(`  ${run.status}: started by ${run.startedBy} at ${run.startedAt}`);
        process.stdout.write(run.finishedAt === undefined ? '\n' : `, ended ${run.finishedAt}\n`);
        if (run.results !== undefined) process.stdout.write(`  results ${JSON.stringify(run.results)}\n`);
      }
    });
}

function positiveInteger(value: string, name: string): number {
  const parsed = Number.parseInt(value, 10);
  if (!Number.isInteger(parsed) || parsed < 1 || String(parsed) !== value.trim())
    throw new Error(`${name} must be a positive whole number, not ${value}`);
  return parsed;
}

function printPlan(plan: BackfillPlan): void {
  process.stdout.write(
    `plan ${plan.planId}: ${plan.from}..${plan.to}${plan.customers === undefined ? '' : ` for ${plan.customers.join(', ')}`} under ${plan.calculationVersion}, by ${plan.createdBy} at ${plan.createdAt}\nreason: ${plan.reason}\n\n`,
  );
  printTable(
    plan.items.map((item) => ({
      customer: item.customerId,
      period: item.period,
      invoice: item.correctedInvoiceId,
      issued: item.issuedTotal,
      rerated: item.reratedTotal,
      adjustment: item.adjustmentTotal,
      currency: item.currency,
      causes: item.causes.map(describeCause).join('; ') || (item.adjustmentTotal === '0' ? '' : 'calculation'),
    })),
    ['customer', 'period', 'invoice', 'issued', 'rerated', 'adjustment', 'currency', 'causes'],
  );
  const changing = plan.items.filter((item) => !/^-?0(\.0+)?$/.test(item.adjustmentTotal)).length;
  process.stdout.write(
    `\n${plan.items.length} customer-periods, ${changing} to adjust; issued ${describeAmountsByCurrency(plan.issuedTotals)}; ` +
      `re-rated ${describeAmountsByCurrency(plan.reratedTotals)}; adjustment ${describeAmountsByCurrency(plan.adjustmentTotals)}\n` +
      `nothing written but this plan; run it with: tally backfill run ${plan.planId}\n`,
  );
}

async function currentProgress(client: Client, backfillId: string): Promise<BackfillProgress> {
  const handle = client.workflow.getHandle(backfillWorkflowId(backfillId));
  try {
    const description = await handle.describe();
    if (description.status.name === 'RUNNING')
      return inMinorUnits(await withCurrencies(await handle.query(backfillProgressQuery)));
    return inMinorUnits(await withCurrencies((await handle.result()) as BackfillProgress));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new Error(`no backfill run ${backfillId} (tally backfill run)`);
    throw error;
  }
}

const CURRENCY_CODE = /^[A-Z]{3}$/;

/**
 * A run that was in flight when totals per currency were deployed (migration 0820) replays what its
 * startBackfillRun recorded then: items without their currency. Its progress sums every adjustment
 * under `undefined`, one number over all the plan's currencies that cannot be split again. Its Δ is
 * then read from what the run wrote, each customer-period's result in the currency of the plan's
 * stored item (what the console's backfill pages show for every run).
 */
async function withCurrencies(progress: BackfillProgress): Promise<BackfillProgress> {
  if (Object.keys(progress.adjustmentTotals).every((code) => CURRENCY_CODE.test(code))) return progress;
  const written = await withDatabase((pool) => backfillRunTotals(pool, progress.backfillId));
  return { ...progress, adjustmentTotals: written.adjustmentTotals };
}

/**
 * The workflow sums its Δ exactly and prints it without trailing zeros (`-400`, `12.5`); its recorded
 * histories replay that, so the workflow keeps doing it. People read money in the currency's minor
 * units, as plan, list, show and the console print it: the read side formats each total here
 * (`-400.00`, `12.50`, domain/money.ts `displayMoney`), for `--json` as for the text. Nothing is
 * rounded: the sums are money already.
 */
function inMinorUnits(progress: BackfillProgress): BackfillProgress {
  return {
    ...progress,
    adjustmentTotals: Object.fromEntries(
      Object.entries(progress.adjustmentTotals).map(([currency, amount]) => [currency, displayMoney(amount, currency)]),
    ),
  };
}

/** Shows progress until the run ends: one line rewritten on a terminal, a line per change otherwise. */
async function follow(client: Client, backfillId: string): Promise<BackfillProgress> {
  const terminal = process.stdout.isTTY === true;
  let last = '';
  for (;;) {
    const progress = await currentProgress(client, backfillId);
    const line = describeProgress(progress);
    const ended = ['completed', 'cancelled', 'refused'].includes(progress.state);
    if (ended) {
      if (terminal) process.stdout.write('\n');
      return progress;
    }
    if (line !== last) process.stdout.write(terminal ? `\r${line}` : `${line}\n`);
    last = line;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** `[#####-----] 412/1000 running, 37 adjusted, Δ 12.50 EUR, -120.40 USD, 0 failed` (Δ per currency). */
export function describeProgress(progress: BackfillProgress): string {
  const width = 30;
  const filled = progress.total === 0 ? width : Math.round((progress.done / progress.total) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const base = `${bar} ${progress.done}/${progress.total} ${progress.state}, ${progress.adjusted} adjusted, Δ ${describeAmountsByCurrency(progress.adjustmentTotals)}, ${progress.failed ?? progress.failures.length} failed`;
  const failures = progress.failures.map(
    (failure) => `\n  failed ${failure.customerId} ${failure.period}: ${failure.error}`,
  );
  // A paged run lists its first failures only.
  if (progress.failed !== undefined && progress.failed > progress.failures.length)
    failures.push(`\n  … and ${progress.failed - progress.failures.length} more`);
  const refused =
    progress.refusedBecause === undefined ? '' : `\n  plan refused, plan again: ${progress.refusedBecause.join('; ')}`;
  const cancelled =
    progress.state === 'cancelled'
      ? `\n  cancelled: the ${progress.done} customer-periods done keep their adjustments; ${progress.total - progress.done} were not done`
      : '';
  return `${base}${failures.join('')}${refused}${cancelled}`;
}

const AUDIT_ACTION_OF = {
  pause: 'backfill_paused',
  resume: 'backfill_resumed',
  cancel: 'backfill_cancelled',
} as const;

/**
 * A backfill changes what customers are billed: its plan, its run and every pause, resume and cancel
 * go to the hash-chained audit log (SPEC §9), under the operator who holds the database's
 * credentials (`cli:<name>`, as account management at the CLI is recorded).
 */
async function auditBackfill(
  pool: pg.Pool,
  action: 'backfill_planned' | 'backfill_run' | 'backfill_paused' | 'backfill_resumed' | 'backfill_cancelled',
  backfillId: string,
  details: Record<string, string> & { readonly by: string },
): Promise<void> {
  const { by, ...rest } = details;
  await recordAudit(pool, {
    actor: { kind: 'process', name: `cli:${by}` },
    action,
    subject: `backfill:${backfillId}`,
    details: rest,
  });
}
