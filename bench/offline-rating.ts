// Offline rating benchmark: `tally rate` over N generated events of one customer, against a
// baseline measured in the same run on the same file (stream the lines and JSON.parse each).
//   npx tsx bench/offline-rating.ts [--events 1000000] [--file .tally/bench/rate-1000000.jsonl] [--without-keys yes]
// (--without-keys yes: skip the `--keys` run, for quick rounds while profiling; --repeat N: run the
// baseline and `tally rate` N times each, alternately, and keep the least CPU time of each: on a
// machine shared with other jobs, the least is the run that waited least for caches and cores.)
// Prints a Markdown table for docs/BENCHMARKS.md.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { repositoryRoot } from '../config/services.ts';
import { demoCustomers } from '../demo/samples/sample-customers.ts';
import { freshSourceKeys, usageEventStream } from '../demo/samples/sample-usage.ts';

const args = new Map<string, string>();
for (let index = 2; index < process.argv.length; index += 2)
  args.set(process.argv[index] ?? '', process.argv[index + 1] ?? '');
const events = Number.parseInt(args.get('--events') ?? '1000000', 10);
const withKeys = args.get('--without-keys') !== 'yes';
const repeat = Math.max(1, Number.parseInt(args.get('--repeat') ?? '1', 10));
const file = path.resolve(args.get('--file') ?? path.join(repositoryRoot, '.tally', 'bench', `rate-${events}.jsonl`));
// The events are signed with keys made for the file, kept beside it for `tally rate --keys`.
const keysFile = `${file}.keys.json`;

async function generate(): Promise<void> {
  if (existsSync(file) && existsSync(keysFile)) return;
  await mkdir(path.dirname(file), { recursive: true });
  const keys = freshSourceKeys();
  await writeFile(keysFile, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  const [acme] = demoCustomers(1);
  if (acme === undefined) throw new Error('no customer');
  // A large customer emits about 770 events a month at scale 1 (plus 62 storage readings).
  const stream = usageEventStream({
    customers: [acme],
    period: '2026-10',
    seed: 7,
    scale: Math.ceil(events / 770) + 1,
    duplicateEvery: 100,
    unpricedPerCustomer: 50,
    keys,
  });
  const out = createWriteStream(file);
  let written = 0;
  for (const event of stream) {
    if (written === events) break;
    if (!out.write(`${JSON.stringify(event)}\n`)) await once(out, 'drain');
    written += 1;
  }
  out.end();
  await once(out, 'finish');
  if (written < events) throw new Error(`generated only ${written} events`);
}

/** Wall-clock and CPU (user + system) time: on a shared machine the CPU ratio is the steadier one. */
interface Timing {
  readonly ms: number;
  readonly cpuMs: number;
}

async function baseline(): Promise<Timing> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let parsed = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line !== '') {
      JSON.parse(line);
      parsed += 1;
    }
  }
  if (parsed !== events) throw new Error(`baseline read ${parsed} events`);
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

function timeTally(extra: string[]): Promise<{
  ms: number;
  cpuMs: number;
  peakRssMb: number;
  invoice: { total: string; events: { read: number; duplicates: number } };
}> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      '/usr/bin/time',
      [
        '-f',
        '%M %U %S',
        process.execPath,
        'bin/tally.mjs',
        'rate',
        '--ratecards',
        'ratecards',
        '--contract',
        'demo/samples/contracts/acme.yaml',
        '--events',
        file,
        '--period',
        '2026-10',
        '--json',
        ...extra,
      ],
      { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`tally rate exited ${code}: ${stderr}`));
      const [peakKb = '0', user = '0', system = '0'] = (stderr.trim().split('\n').at(-1) ?? '').split(' ');
      resolve({
        ms,
        cpuMs: (Number.parseFloat(user) + Number.parseFloat(system)) * 1000,
        peakRssMb: Math.round(Number.parseInt(peakKb, 10) / 1024),
        invoice: JSON.parse(stdout),
      });
    });
  });
}

/** `tally` rebuilds its bundle when a source changed (bin/cli-build.mjs): built here, so no timed run includes it. */
async function buildCli(): Promise<void> {
  const child = spawn(process.execPath, ['bin/tally.mjs', '--help'], { cwd: repositoryRoot, stdio: 'ignore' });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`tally --help exited ${code}`);
}

await generate();
await buildCli();
const size = (await stat(file)).size;
/** The run with the least CPU time. */
function least<T extends Timing>(runs: readonly T[]): T {
  return runs.reduce((best, run) => (run.cpuMs < best.cpuMs ? run : best));
}
const baseRuns: Timing[] = [];
const plainRuns: Awaited<ReturnType<typeof timeTally>>[] = [];
const signedRuns: Awaited<ReturnType<typeof timeTally>>[] = [];
for (let round = 0; round < repeat; round += 1) {
  baseRuns.push(await baseline());
  plainRuns.push(await timeTally([]));
  if (withKeys) signedRuns.push(await timeTally(['--keys', keysFile]));
}
const base = least(baseRuns);
const plain = least(plainRuns);
const signed = withKeys ? least(signedRuns) : undefined;
const totals = new Set(plainRuns.concat(signedRuns).map((run) => run.invoice.total));
if (totals.size !== 1) throw new Error(`the runs disagree on the invoice total: ${[...totals].join(', ')}`);
const load = (await readFile('/proc/loadavg', 'utf8').catch(() => '? ? ?')).split(' ').slice(0, 3).join(' ');
const rows: [string, Timing, number | undefined][] = [
  ['read + JSON.parse each line (baseline)', base, undefined],
  ['`tally rate … --json`', plain, plain.peakRssMb],
  ...(signed === undefined
    ? []
    : [['`tally rate … --json --keys` (HMAC verified)', signed, signed.peakRssMb] as [string, Timing, number]]),
];
const report = [
  `${events.toLocaleString('en-US')} events of one customer, ${(size / 1e6).toFixed(0)} MB, ${plain.invoice.events.duplicates} duplicates; invoice total ${plain.invoice.total}; load average ${load}${repeat > 1 ? `; least CPU of ${repeat} alternate runs each (CPU × baseline of every round: ${plainRuns.map((run, round) => (run.cpuMs / (baseRuns[round] as Timing).cpuMs).toFixed(1)).join(', ')})` : ''}.`,
  '',
  '| run | seconds | events/s | × baseline | CPU seconds | CPU × baseline | peak RSS |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    ([name, timing, rss]) =>
      `| ${name} | ${(timing.ms / 1000).toFixed(1)} | ${Math.round(events / (timing.ms / 1000)).toLocaleString('en-US')} | ${(timing.ms / base.ms).toFixed(1)} | ${(timing.cpuMs / 1000).toFixed(1)} | ${(timing.cpuMs / base.cpuMs).toFixed(1)} | ${rss === undefined ? '—' : `${rss} MB`} |`,
  ),
].join('\n');
process.stdout.write(`${report}\n`);
await writeFile(path.join(path.dirname(file), `rate-${events}.md`), `${report}\n`);
