import path from 'node:path';
import type { Command } from 'commander';
import { runIngestBench } from '../bench/ingest-bench.ts';
import { defaultActivityConcurrency } from '../config/billing-worker.ts';
import { parseServicesEnv } from '../config/services.ts';
import { billingPeriod } from '../domain/period.ts';
import { TallyError } from '../contracts/tally-error.ts';

export class BenchOptionError extends TallyError {
  constructor(message: string) {
    super('bench_option_invalid', message, { permanent: true });
  }
}

function positive(name: string, text: string): number {
  if (!/^\d+$/.test(text) || Number.parseInt(text, 10) < 1)
    throw new BenchOptionError(`${name} must be a positive whole number, got ${text}`);
  return Number.parseInt(text, 10);
}

export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench');
  bench
    .command('ingest')
    .description('JetStream → Postgres ingest throughput, latency and memory vs a raw COPY')
    .option('--events <n>', 'events to publish in the maximum-rate run', '1000000')
    .option('--writers <n>', "the worker's concurrent batch writers", '2')
    .option('--batch-size <n>', "the worker's batch size", '2000')
    .option('--paced-seconds <n>', 'length of the paced (half-rate) latency run', '20')
    .option('--message-batch <n>', 'events per message in the batched runs (SPEC §1, at most 1000)', '100')
    .action(
      async (options: {
        events: string;
        writers: string;
        batchSize: string;
        pacedSeconds: string;
        messageBatch: string;
      }) => {
        const messageBatch = positive('--message-batch', options.messageBatch);
        if (messageBatch > 1000) throw new BenchOptionError(`--message-batch is at most 1000, got ${messageBatch}`);
        const portBase = positive('TALLY_BENCH_PORT_BASE', process.env.TALLY_BENCH_PORT_BASE ?? '17600');
        const result = await runIngestBench({
          events: positive('--events', options.events),
          writers: positive('--writers', options.writers),
          batchSize: positive('--batch-size', options.batchSize),
          pacedSeconds: positive('--paced-seconds', options.pacedSeconds),
          messageBatch,
          portBase,
          toolsDir: parseServicesEnv().TALLY_TOOLS_DIR,
          log: (line) => process.stdout.write(`${line}\n`),
        });
        process.stdout.write(
          `ingest: ${Math.round(result.e2eEventsPerSecond)} events/s e2e, ratio ${result.ratio.toFixed(2)} vs raw copy, ` +
            `p99 ${result.pacedP99Ms} ms event->committed, rss ${result.peakRssMb} MB; ` +
            `raw copy ${Math.round(result.rawCopyRowsPerSecond)} rows/s, transport alone ${Math.round(result.transportOnlyEventsPerSecond)}/s (e2e = ${(result.e2eEventsPerSecond / result.transportOnlyEventsPerSecond).toFixed(2)}×), ` +
            `publisher alone ${Math.round(result.publishOnlyEventsPerSecond)}/s, cpu/event worker ${result.cpuMicrosPerEvent.workerUs.toFixed(1)} µs + postgres ${result.cpuMicrosPerEvent.postgresUs.toFixed(1)} µs + nats ${result.cpuMicrosPerEvent.natsUs.toFixed(1)} µs\n`,
        );
        // The last line is the batched run, in the same format.
        const batched = result.batched;
        process.stdout.write(
          `ingest (batches of ${batched.eventsPerMessage}): ${Math.round(batched.e2eEventsPerSecond)} events/s e2e, ratio ${batched.ratio.toFixed(2)} vs raw copy, ` +
            `p99 ${batched.pacedP99Ms} ms event->committed, rss ${batched.peakRssMb} MB; ` +
            `raw copy ${Math.round(result.rawCopyRowsPerSecond)} rows/s, transport alone ${Math.round(result.transportOnlyEventsPerSecond)}/s (e2e = ${(batched.e2eEventsPerSecond / result.transportOnlyEventsPerSecond).toFixed(2)}×), ` +
            `publisher alone ${Math.round(result.publishOnlyEventsPerSecond)}/s, cpu/event worker ${batched.cpuMicrosPerEvent.workerUs.toFixed(1)} µs + postgres ${batched.cpuMicrosPerEvent.postgresUs.toFixed(1)} µs + nats ${batched.cpuMicrosPerEvent.natsUs.toFixed(1)} µs\n`,
        );
      },
    );
  bench
    .command('console')
    .description('the console with N invoices and E open exceptions: p50/p95 per route vs GET /healthz in the same run')
    .option('--invoices <n>', 'invoices (over twelve periods)', '100000')
    .option('--exceptions <n>', 'open exceptions', '10000')
    .option('--events <n>', 'usage events per exception customer and month (four months charted)', '30')
    .option('--requests <n>', 'timed requests per route', '300')
    .option('--keep-stack', "leave the benchmark's Postgres running with its data")
    .action(
      async (options: {
        invoices: string;
        exceptions: string;
        events: string;
        requests: string;
        keepStack?: boolean;
      }) => {
        const portBase = positive(
          'TALLY_BENCH_CONSOLE_PORT_BASE',
          process.env.TALLY_BENCH_CONSOLE_PORT_BASE ?? '17580',
        );
        const { runConsoleBench } = await import('../bench/console-benchmark.ts');
        const timings = await runConsoleBench({
          invoices: positive('--invoices', options.invoices),
          exceptions: positive('--exceptions', options.exceptions),
          eventsPerCustomerMonth: positive('--events', options.events),
          requests: positive('--requests', options.requests),
          portBase,
          toolsDir: parseServicesEnv().TALLY_TOOLS_DIR,
          keepStack: options.keepStack === true,
          log: (line) => process.stdout.write(`${line}\n`),
        });
        for (const timing of timings)
          process.stdout.write(
            `${timing.route}: p50 ${timing.p50Ms.toFixed(1)} ms, p95 ${timing.p95Ms.toFixed(1)} ms, max ${timing.maxMs.toFixed(1)} ms (p95 ${timing.ratioToBaseline.toFixed(1)}x the baseline)\n`,
          );
      },
    );
  bench
    .command('close')
    .description('close N customer-periods through the billing worker: customer-periods/s, Postgres vs Temporal time')
    .option('--customers <n>', 'customer-periods to close', '1000')
    .option('--events <n>', 'events in the period, over all customers', '10000000')
    .option('--period <YYYY-MM>', 'the period (past, so it closes at once)', '2026-10')
    .option('--seed <n>', 'the generator seed', '1')
    .option(
      '--concurrency <n>',
      "the billing worker's TALLY_MAX_CONCURRENT_ACTIVITIES (default: its default, four per core)",
      String(defaultActivityConcurrency()),
    )
    .option('--in-flight <n>', 'customer-period workflows started and not finished, at most', '32')
    .option('--keep-stack', "leave the benchmark's stack running with its data")
    .option('--no-shadow', 'skip the shadow run of the same customer-periods after the close')
    .option('--cpu-profile <file>', 'write a CPU profile of the close phase (main thread)')
    .option('--no-backfill', 'skip the backfill measured after the close (a price correction, plan and run)')
    .action(
      async (options: {
        backfill: boolean;
        customers: string;
        events: string;
        period: string;
        seed: string;
        concurrency: string;
        inFlight: string;
        keepStack?: boolean;
        shadow: boolean;
        cpuProfile?: string;
      }) => {
        billingPeriod(options.period);
        const portBase = positive('TALLY_BENCH_CLOSE_PORT_BASE', process.env.TALLY_BENCH_CLOSE_PORT_BASE ?? '17520');
        // Loaded here, not at start-up: the benchmark pulls in the worker and the test data generator.
        const { runCloseBench } = await import('../bench/close-benchmark.ts');
        const result = await runCloseBench({
          customers: positive('--customers', options.customers),
          events: positive('--events', options.events),
          period: options.period,
          seed: positive('--seed', options.seed),
          concurrency: positive('--concurrency', options.concurrency),
          inFlight: positive('--in-flight', options.inFlight),
          keepStack: options.keepStack === true,
          backfill: options.backfill,
          shadow: options.shadow,
          ...(options.cpuProfile === undefined ? {} : { cpuProfileFile: path.resolve(options.cpuProfile) }),
          portBase,
          toolsDir: parseServicesEnv().TALLY_TOOLS_DIR,
          log: (line) => process.stdout.write(`${line}\n`),
        });
        const write = (line: string): void => {
          process.stdout.write(`${line}\n`);
        };
        const seconds = (ms: number): string => (ms / 1000).toFixed(1);
        const percent = (share: number): string => (share * 100).toFixed(0);
        write('');
        write(
          `load (not in the close figure): generate ${seconds(result.generateMs)} s (cached after the first run), load ${seconds(result.loadMs)} s`,
        );
        write(
          `close wall ${seconds(result.closeMs)} s; Σ customer-period lifetime ${seconds(result.lifetimeMs)} s, of which activities ${seconds(result.activityMs)} s, ` +
            `Postgres statements ${seconds(result.postgresMs)} s (${result.postgresCalls} calls)`,
        );
        write(
          `shares of the summed lifetime: Postgres ${percent(result.postgresShare)}%, Node in activities ${percent(result.nodeShare)}%, Temporal (outside activities) ${percent(result.temporalShare)}%`,
        );
        write(
          `CPU during the close: node ${result.cpuSeconds.node.toFixed(0)} s, temporal ${result.cpuSeconds.temporal.toFixed(0)} s, postgres ${result.cpuSeconds.postgres.toFixed(0)} s; ` +
            `machine busy ${result.cpuSeconds.machineBusy.toFixed(0)} of ${result.cpuSeconds.wallCores.toFixed(0)} core-seconds`,
        );
        write('');
        write('| step | runs | mean execute ms | mean wait to start ms |');
        write('| --- | ---: | ---: | ---: |');
        for (const step of result.steps) {
          write(
            `| ${step.activity} | ${step.count} | ${(step.executeMs / Math.max(1, step.count)).toFixed(1)} | ${(step.scheduleToStartMs / Math.max(1, step.count)).toFixed(1)} |`,
          );
        }
        write('');
        write('top statements by Postgres time:');
        for (const statement of result.topStatements) {
          write(
            `  ${seconds(statement.totalMs).padStart(7)} s  ${String(statement.calls).padStart(7)} calls  ${statement.meanMs.toFixed(2).padStart(8)} ms  ${statement.query}`,
          );
        }
        write('');
        write(
          `baselines: ${result.customerPeriods} skeleton workflows ${seconds(result.skeletonMs)} s (close ${(result.closeMs / result.skeletonMs).toFixed(2)}× that); ` +
            `count(*) per customer-period ${seconds(result.countBaselineMs)} s (close ${(result.closeMs / result.countBaselineMs).toFixed(1)}× that)`,
        );
        if (result.approvals > 0)
          write(`note: ${result.approvals} invoices stopped for review and were approved by the benchmark`);
        write(`snapshot query plan for ${result.plan}`);
        write('');
        write(
          `close: ${result.customerPeriods} customer-periods in ${seconds(result.closeMs)} s = ${result.perSecond.toFixed(1)} customer-periods/s (${result.events} events), ` +
            `postgres ${percent(result.postgresShare)}% / temporal ${percent(result.temporalShare)}% of activity time, rss ${result.peakRssMb} MB`,
        );
        if (result.backfill !== undefined)
          write(
            `backfill: ${result.backfill.customerPeriods} customer-periods, plan ${seconds(result.backfill.planMs)} s + run ${seconds(result.backfill.runMs)} s = ` +
              `${result.backfill.perSecond.toFixed(1)} customer-periods/s = ${(result.backfill.perSecond / result.perSecond).toFixed(2)}× the close rate of this run ` +
              `(${result.backfill.adjusted} adjusted, Δ ${result.backfill.adjustmentTotals})`,
          );
        if (result.shadow !== undefined)
          write(
            `shadow: ${result.shadow.customers} customer-periods in ${seconds(result.shadow.runMs)} s = ${result.shadow.perSecond.toFixed(1)} customer-periods/s, ` +
              `${(result.shadow.perSecond / result.perSecond).toFixed(2)}× the close in the same run (bar: 0.8×); ${result.shadow.matches} match the legacy lines`,
          );
      },
    );
}
