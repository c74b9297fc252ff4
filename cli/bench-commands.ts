import type { Command } from 'commander';
import { runIngestBench } from '../bench/ingest-bench.ts';
import { parseServicesEnv } from '../config/services.ts';

export class BenchOptionError extends Error {
  readonly code = 'bench_option_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'BenchOptionError';
  }
}

function positive(name: string, text: string): number {
  if (!/^\d+$/.test(text) || Number.parseInt(text, 10) < 1) throw new BenchOptionError(`${name} must be a positive whole number, got ${text}`);
  return Number.parseInt(text, 10);
}

export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks on their own stack (own ports and data)');
  bench.command('ingest').description('JetStream → Postgres ingest throughput, latency and memory vs a raw COPY')
    .option('--events <n>', 'events to publish in the maximum-rate run', '1000000')
    .option('--writers <n>', 'the worker\'s concurrent batch writers', '2')
    .option('--batch-size <n>', 'the worker\'s batch size', '2000')
    .option('--paced-seconds <n>', 'length of the paced (half-rate) latency run', '20')
    .action(async (options: { events: string; writers: string; batchSize: string; pacedSeconds: string }) => {
      const portBase = positive('TALLY_BENCH_PORT_BASE', process.env.TALLY_BENCH_PORT_BASE ?? '54500');
      const result = await runIngestBench({
        events: positive('--events', options.events), writers: positive('--writers', options.writers),
        batchSize: positive('--batch-size', options.batchSize), pacedSeconds: positive('--paced-seconds', options.pacedSeconds),
        portBase, toolsDir: parseServicesEnv().TALLY_TOOLS_DIR, log: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(`ingest: ${Math.round(result.e2eEventsPerSecond)} events/s e2e (publisher alone ${Math.round(result.publishOnlyEventsPerSecond)}/s), ratio ${result.ratio.toFixed(2)} vs raw copy, `
        + `p99 ${result.pacedP99Ms} ms event->committed, rss ${result.peakRssMb} MB, `
        + `cpu/event worker ${result.cpuMicrosPerEvent.workerUs.toFixed(1)} µs + postgres ${result.cpuMicrosPerEvent.postgresUs.toFixed(1)} µs + nats ${result.cpuMicrosPerEvent.natsUs.toFixed(1)} µs\n`);
    });
}
