import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { Command } from 'commander';
import { loadContractFile } from '../config/config-files.ts';
import { parseBillingWorkerEnv } from '../config/billing-worker.ts';
import { assertPeriodName } from '../contracts/period-name.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { legacyImportsOf } from '../db/queries/shadow.ts';
import { compareCustomerPeriod, parseLegacyCsv, shadowReport } from '../domain/shadow/index.ts';
import { cutOverCohort, listBillingAuthorities, rollBackCohort, type FlipOutcome } from '../shadow/cutover.ts';
import { importLegacyFile } from '../shadow/import-legacy-file.ts';
import { formatShadowReport } from '../shadow/report-table.ts';
import { loadReadiness, loadRunReport } from '../shadow/shadow-reports.ts';
import { addShadowSchedule, changeShadowSchedule, listShadowSchedules } from '../shadow/shadow-schedules.ts';
import {
  CALCULATION_VERSION,
  shadowRunProgressQuery,
  shadowRunWorkflowId,
  type ShadowRunInput,
} from '../workflows/definitions.ts';
import { rateOffline } from './offline-rating.ts';
import { connectTemporal, ensureServices, printTable, withDatabase } from './services.ts';

class BadOptionError extends TallyError {
  constructor(message: string) {
    super('bad_option', message, { permanent: true });
  }
}

function positiveInteger(text: string, option: string): number {
  if (!/^[1-9]\d{0,5}$/.test(text))
    throw new BadOptionError(`${option} is a positive whole number, not ${JSON.stringify(text)}`);
  return Number.parseInt(text, 10);
}

/** Shadow billing before cutover (SPEC §6): import, compare, run, report, schedule, readiness, cutover by cohort. */
export function registerShadowCommands(program: Command): void {
  const shadow = program.command('shadow');

  shadow
    .command('import <file>')
    .description(
      'import a legacy biller CSV (customer_id,period,price_id,quantity,amount,currency) under a source name',
    )
    .requiredOption('--source <name>', 'the legacy biller this file comes from')
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: { source: string; json?: boolean }) => {
      const outcomes = await withDatabase((pool) =>
        importLegacyFile(pool, { file, source: options.source, importedBy: process.env.USER ?? 'cli' }),
      );
      if (options.json) {
        process.stdout.write(`${JSON.stringify(outcomes, null, 2)}\n`);
        return;
      }
      for (const outcome of outcomes) {
        const record = outcome.import;
        process.stdout.write(
          outcome.outcome === 'unchanged'
            ? `${options.source} ${outcome.period}: unchanged (version ${record.version} already holds these ${record.lineCount} lines)\n`
            : `${options.source} ${outcome.period}: version ${record.version} imported, ${record.lineCount} lines${outcome.supersedes === undefined ? '' : ` (supersedes version ${outcome.supersedes.version}, kept)`}\n`,
        );
      }
    });

  shadow
    .command('imports')
    .description("a source's legacy imports, every version")
    .requiredOption('--source <name>', 'the legacy biller')
    .option('--json', 'machine-readable output')
    .action(async (options: { source: string; json?: boolean }) => {
      const imports = await withDatabase((pool) => legacyImportsOf(pool, options.source));
      if (options.json) process.stdout.write(`${JSON.stringify(imports, null, 2)}\n`);
      else
        printTable(
          imports.map((record) => ({ ...record, version: String(record.version), lines: String(record.lineCount) })),
          ['importId', 'period', 'version', 'lines', 'fileName', 'importedAt'],
        );
    });

  shadow
    .command('compare')
    .description(
      'offline, no services: one contract rated from files and compared with a legacy file, as the shadow runs compare',
    )
    .requiredOption('--legacy <file>', 'the legacy CSV (lines of other customers and periods are skipped)')
    .requiredOption('--ratecards <dir>', 'the rate-card root folder')
    .requiredOption('--contract <file>', "the customer's contract (YAML)")
    .requiredOption('--events <file>', 'usage events, JSON Lines')
    .requiredOption('--period <YYYY-MM>', 'the billing period')
    .option('--keys <file>', "JSON file of source signing keys: verify every event's signature")
    .option('--json', 'print the SPEC §6 JSON')
    .action(
      async (options: {
        legacy: string;
        ratecards: string;
        contract: string;
        events: string;
        period: string;
        keys?: string;
        json?: boolean;
      }) => {
        assertPeriodName(options.period);
        const legacyLines = parseLegacyCsv(options.legacy, await readFile(options.legacy, 'utf8'));
        const { invoice, boundaryUsage } = await rateOffline({
          ratecardsDir: options.ratecards,
          contractFile: options.contract,
          eventsFile: options.events,
          period: options.period,
          ...(options.keys === undefined ? {} : { keysFile: options.keys }),
          boundaryUsage: true,
        });
        const contract = await loadContractFile(options.contract);
        const comparison = compareCustomerPeriod({
          customerId: contract.customer_id,
          legacy: legacyLines.filter(
            (line) => line.customer_id === contract.customer_id && line.period === options.period,
          ),
          invoice,
          thresholds: {
            variancePctAbove: contract.review?.shadow_variance_pct,
            varianceAbsAbove: contract.review?.shadow_variance_abs,
          },
          boundaryUsage,
        });
        const report = shadowReport(options.period, [comparison]);
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatShadowReport(report, true));
      },
    );

  shadow
    .command('run')
    .description('shadow one period of a legacy source: every customer closed in shadow mode, compared, recorded')
    .requiredOption('--source <name>', 'the legacy source to compare against')
    .requiredOption('--period <YYYY-MM>', 'the billing period')
    .option('--concurrency <n>', 'customers closed in shadow at once', '20')
    .option('--json', 'print the report as JSON when done')
    .action(async (options: { source: string; period: string; concurrency: string; json?: boolean }) => {
      assertPeriodName(options.period);
      const concurrency = positiveInteger(options.concurrency, '--concurrency');
      const { endpoints } = await ensureServices();
      const temporal = await connectTemporal(endpoints);
      try {
        const runId = `${options.source}:${options.period}:${new Date().toISOString().replace(/[-:.]/g, '')}`;
        const input: ShadowRunInput = {
          source: options.source,
          period: options.period,
          runId,
          calculationVersion: CALCULATION_VERSION,
          concurrency,
        };
        const handle = await temporal.client.workflow.start('shadowRunWorkflow', {
          taskQueue: parseBillingWorkerEnv().taskQueue,
          workflowId: shadowRunWorkflowId(runId),
          args: [input],
        });
        process.stderr.write(
          `shadow run ${runId} started (${handle.workflowId}); a billing worker runs it (tally worker)\n`,
        );
        const timer = setInterval(() => {
          handle
            .query(shadowRunProgressQuery)
            .then((progress) => {
              if (process.stderr.isTTY)
                process.stderr.write(
                  `\r${progress.stage}: ${progress.rated}/${progress.customers} rated, ${progress.compared}/${progress.customers} compared, ${progress.exceptions} exceptions   `,
                );
            })
            .catch(() => undefined);
        }, 1_000);
        // Done for this command once every customer is compared and recorded: exceptions then wait
        // for a person in the review queue, with the run's workflow still open to take the decisions.
        try {
          for (;;) {
            const progress = await handle.query(shadowRunProgressQuery).catch(() => undefined);
            if (progress?.stage === 'completed' || progress?.stage === 'awaiting_review') break;
            const finished = await Promise.race([
              handle.result().then(() => true),
              new Promise<false>((resolve) => setTimeout(() => resolve(false), 1_000)),
            ]);
            if (finished) break;
          }
        } finally {
          clearInterval(timer);
          if (process.stderr.isTTY) process.stderr.write('\n');
        }
        const result = { runId };
        const report = await withDatabase((pool) => loadRunReport(pool, { runId: result.runId }));
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatShadowReport(report, false));
        if (report.summary.exceptions > 0 && !options.json)
          process.stdout.write(
            `${report.summary.exceptions} shadow_variance exceptions wait in the review queue: tally review list; accept with tally review approve EXC --note WHY, or reject\n`,
          );
      } finally {
        await temporal.close();
      }
    });

  shadow
    .command('report')
    .description("a shadow run's results per customer (the newest run unless --run); --customer shows its line diff")
    .option('--run <id>', 'the run')
    .option('--source <name>', 'the newest run of this source')
    .option('--customer <id>', "one customer's line-by-line diff")
    .option('--json', 'the SPEC §6 JSON, with each exception state')
    .action(async (options: { run?: string; source?: string; customer?: string; json?: boolean }) => {
      const report = await withDatabase((pool) => loadRunReport(pool, { runId: options.run, source: options.source }));
      const customers =
        options.customer === undefined
          ? report.customers
          : report.customers.filter((customer) => customer.customer_id === options.customer);
      if (options.customer !== undefined && customers.length === 0)
        throw new BadOptionError(`run ${report.run.runId} has no customer ${options.customer}`);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ...report, customers }, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `run ${report.run.runId}: ${report.run.source} ${report.period}, ${report.run.status}, legacy ${report.run.legacyImportId ?? 'none'}\n`,
      );
      process.stdout.write(formatShadowReport({ ...report, customers }, options.customer !== undefined));
    });

  shadow
    .command('readiness')
    .description(
      'cutover readiness: each of the last N periods has a run where every customer matches, is within tolerance or was accepted',
    )
    .requiredOption('--source <name>', 'the legacy source')
    .requiredOption('--periods <n>', 'how many consecutive periods')
    .option('--through <YYYY-MM>', 'the last period (default: the newest with a completed run)')
    .option('--json', 'machine-readable output')
    .action(async (options: { source: string; periods: string; through?: string; json?: boolean }) => {
      const periods = positiveInteger(options.periods, '--periods');
      if (options.through !== undefined) assertPeriodName(options.through);
      const verdict = await withDatabase((pool) =>
        loadReadiness(pool, { source: options.source, periods, through: options.through }),
      );
      if (options.json) process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
      else {
        process.stdout.write(`${options.source}: ${verdict.ready ? 'READY for cutover' : 'NOT READY'}\n`);
        if (verdict.periods.length === 0) process.stdout.write('  no completed shadow run\n');
        for (const period of verdict.periods) {
          process.stdout.write(
            `  ${period.period}: ${period.ready ? 'ready' : 'not ready'}${period.runId === undefined ? '' : ` (run ${period.runId})`}\n`,
          );
          for (const reason of period.reasons)
            process.stdout.write(`    ${reason.customerId ?? '(period)'}: ${reason.reason}\n`);
        }
      }
      if (!verdict.ready) process.exitCode = 1;
    });

  shadow
    .command('cutover')
    .description(
      'give Tally the billing authority of a cohort of customers, refused unless each is ready (SPEC §6 readiness); audited',
    )
    .requiredOption('--customers <ids>', 'the cohort, comma-separated customer ids')
    .requiredOption('--reason <text>', 'why (recorded with the flip and in the audit log)')
    .requiredOption('--source <name>', 'the legacy source whose shadow runs must show the cohort ready')
    .requiredOption('--periods <n>', 'how many consecutive periods must be ready')
    .option('--through <YYYY-MM>', 'the last period (default: the newest with a completed run)')
    .option('--json', 'machine-readable output')
    .action(
      async (options: {
        customers: string;
        reason: string;
        source: string;
        periods: string;
        through?: string;
        json?: boolean;
      }) => {
        const periods = positiveInteger(options.periods, '--periods');
        if (options.through !== undefined) assertPeriodName(options.through);
        const outcome = await withDatabase((pool) =>
          cutOverCohort(pool, {
            customerIds: customerList(options.customers),
            reason: options.reason,
            operator: os.userInfo().username,
            source: options.source,
            periods,
            through: options.through,
          }),
        );
        printFlips(outcome.flips, options.json);
      },
    );

  shadow
    .command('rollback')
    .description('give the billing authority of a cohort of customers back to the legacy biller; audited')
    .requiredOption('--customers <ids>', 'the cohort, comma-separated customer ids')
    .requiredOption('--reason <text>', 'why (recorded with the flip and in the audit log)')
    .option('--json', 'machine-readable output')
    .action(async (options: { customers: string; reason: string; json?: boolean }) => {
      const flips = await withDatabase((pool) =>
        rollBackCohort(pool, {
          customerIds: customerList(options.customers),
          reason: options.reason,
          operator: os.userInfo().username,
        }),
      );
      printFlips(flips, options.json);
    });

  shadow
    .command('authority')
    .description('which biller invoices each customer (legacy or tally), why, and the last period each billed')
    .option('--customers <ids>', 'only these customers, comma-separated')
    .option('--json', 'machine-readable output')
    .action(async (options: { customers?: string; json?: boolean }) => {
      const authorities = await withDatabase((pool) =>
        listBillingAuthorities(pool, options.customers === undefined ? undefined : customerList(options.customers)),
      );
      if (options.json) {
        process.stdout.write(`${JSON.stringify(authorities, null, 2)}\n`);
        return;
      }
      printTable(
        authorities.map((entry) => ({
          customer: entry.customerId,
          authority: entry.authority,
          from: entry.decidedFrom,
          flipped: entry.lastFlip === undefined ? '' : `${entry.lastFlip.flippedAt} by ${entry.lastFlip.operator}`,
          reason: entry.lastFlip?.reason ?? '',
          legacyBilled: entry.lastLegacyPeriod ?? '',
          tallyBilled: entry.lastTallyPeriod ?? '',
        })),
        ['customer', 'authority', 'from', 'flipped', 'reason', 'legacyBilled', 'tallyBilled'],
      );
    });

  const schedule = shadow.command('schedule').description('scheduled shadow runs (Temporal Schedules)');
  schedule
    .command('add')
    .description('shadow the period that just closed on a cron schedule; an overlapping firing is skipped')
    .requiredOption('--source <name>', 'the legacy source')
    .requiredOption('--cron <expr>', 'when, e.g. "0 6 2 * *" (06:00 UTC on the 2nd)')
    .option('--concurrency <n>', 'customers closed in shadow at once', '20')
    .action(async (options: { source: string; cron: string; concurrency: string }) => {
      const concurrency = positiveInteger(options.concurrency, '--concurrency');
      await withTemporal(async (client) => {
        const id = await addShadowSchedule(client, {
          source: options.source,
          cron: options.cron,
          taskQueue: parseBillingWorkerEnv().taskQueue,
          run: { calculationVersion: CALCULATION_VERSION, concurrency },
        });
        process.stdout.write(`schedule ${id} created: ${options.cron}\n`);
      });
    });
  schedule
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      await withTemporal(async (client) => {
        const schedules = await listShadowSchedules(client);
        if (options.json) process.stdout.write(`${JSON.stringify(schedules, null, 2)}\n`);
        else
          printTable(
            schedules.map((entry) => ({
              source: entry.source,
              cron: entry.cron.join(' | '),
              paused: entry.paused ? 'paused' : 'active',
              next: entry.nextRuns[0] ?? '',
              runs: String(entry.recentRuns),
            })),
            ['source', 'cron', 'paused', 'next', 'runs'],
          );
      });
    });
  for (const verb of ['pause', 'unpause', 'delete'] as const) {
    schedule
      .command(verb)
      .requiredOption('--source <name>', 'the legacy source')
      .option('--note <text>', 'why', `${verb} from the command line`)
      .action(async (options: { source: string; note: string }) => {
        await withTemporal((client) =>
          changeShadowSchedule(
            client,
            options.source,
            verb === 'delete' ? { kind: verb } : { kind: verb, note: options.note },
          ),
        );
        process.stdout.write(`shadow schedule of ${options.source}: ${verb}d\n`);
      });
  }
}

/** `--customers a,b,c`: the ids, trimmed, empty entries refused by the flip's own checks. */
function customerList(text: string): string[] {
  return text.split(',').map((customerId) => customerId.trim());
}

function printFlips(flips: readonly FlipOutcome[], json: boolean | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(flips, null, 2)}\n`);
    return;
  }
  printTable(
    flips.map((flip) => ({
      customer: flip.customerId,
      from: flip.from,
      to: flip.to,
      flip: flip.changed ? `flip ${flip.flipId ?? ''}` : `already ${flip.to}: unchanged`,
    })),
    ['customer', 'from', 'to', 'flip'],
  );
  process.stdout.write(
    'a close decides its authority once, after rating: one already past that step keeps the biller it decided on\n',
  );
}

async function withTemporal<T>(work: (client: Awaited<ReturnType<typeof connectTemporal>>['client']) => Promise<T>) {
  const { endpoints } = await ensureServices(undefined, ['temporal']);
  const temporal = await connectTemporal(endpoints);
  try {
    return await work(temporal.client);
  } finally {
    await temporal.close();
  }
}
