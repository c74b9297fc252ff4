// Anomaly scan benchmark (issue 19: 10,000 customers × 90 days in under 30 s): `tally anomalies scan`
// over a generated file, against a baseline measured in the same run on the same file (stream the
// lines and JSON.parse each).
//   npx tsx bench/anomaly-scan.ts [--customers 10000] [--days 90]
// Prints a Markdown table for docs/BENCHMARKS.md.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { repositoryRoot } from '../config/services.ts';
import { generatedEventLines, generateUsage } from '../domain/anomalies/generated-series.ts';

const args = new Map<string, string>();
for (let index = 2; index < process.argv.length; index += 2)
  args.set(process.argv[index] ?? '', process.argv[index + 1] ?? '');
const customers = Number.parseInt(args.get('--customers') ?? '10000', 10);
const days = Number.parseInt(args.get('--days') ?? '90', 10);
const file = path.join(repositoryRoot, '.tally', 'bench', `anomalies-${customers}x${days}.jsonl`);

async function generate(): Promise<void> {
  if (existsSync(file)) return;
  await mkdir(path.dirname(file), { recursive: true });
  const { series } = generateUsage({ customers, days, seed: 19, inject: true });
  const out = createWriteStream(file);
  for (const line of generatedEventLines(series, { sku: 'db.queries', unit: 'queries' }))
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

async function baseline(): Promise<{ ms: number; lines: number }> {
  const started = performance.now();
  let lines = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    JSON.parse(line);
    lines += 1;
  }
  return { ms: performance.now() - started, lines };
}

function scan(): Promise<{ ms: number; anomalies: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['bin/tally.mjs', 'anomalies', 'scan', '--events', file, '--costs', 'costs', '--json'],
      { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`tally anomalies scan exited ${code}`));
      resolve({ ms: performance.now() - started, anomalies: (JSON.parse(output) as unknown[]).length });
    });
  });
}

await generate();
const size = (await stat(file)).size;
const base = await baseline();
const result = await scan();
process.stdout.write(
  [
    `| what | time | ratio to baseline |`,
    `| --- | --- | --- |`,
    `| read + JSON.parse ${base.lines} lines (${(size / 1e6).toFixed(0)} MB), baseline | ${(base.ms / 1000).toFixed(1)} s | 1.0 |`,
    `| \`tally anomalies scan --costs costs --json\`, ${customers} customers × ${days} days (${result.anomalies} anomalies) | ${(result.ms / 1000).toFixed(1)} s | ${(result.ms / base.ms).toFixed(1)} |`,
    '',
  ].join('\n'),
);
