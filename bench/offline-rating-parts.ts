// The parts of offline rating's inner loop, each alone in one process, CPU time (user + system):
//   npx tsx bench/offline-rating-parts.ts [--file .tally/bench/rate-1000000.jsonl] [--lines 200000] [--rounds 7]
// Reading: the baseline's readline + JSON.parse against the chunked reader (`readTextLineBatches`) +
// JSON.parse, then + the event check (`isPlainValidEvent`), over the whole file. Then, over the first
// --lines events parsed once and held: the duplicate set (`CompactEventKeys.check`) and the aggregator
// (`UsageAggregator.add`), the least of --rounds rounds after three warm-up rounds. Run `npm run
// bench:rate` first (it writes the file). Prints milliseconds and microseconds an event.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { repositoryRoot } from '../config/services.ts';
import { loadContractFile, loadRateCard } from '../config/config-files.ts';
import { readTextLineBatches } from '../cli/line-reader.ts';
import { CompactEventKeys } from '../cli/compact-event-keys.ts';
import { isPlainValidEvent, type UsageEvent } from '../contracts/usage-event.ts';
import { billingPeriod } from '../domain/period.ts';
import { UsageAggregator } from '../domain/rating/index.ts';

const args = new Map<string, string>();
for (let index = 2; index < process.argv.length; index += 2)
  args.set(process.argv[index] ?? '', process.argv[index + 1] ?? '');
const file = path.resolve(args.get('--file') ?? path.join(repositoryRoot, '.tally', 'bench', 'rate-1000000.jsonl'));
const heldLines = Number.parseInt(args.get('--lines') ?? '200000', 10);
const rounds = Math.max(1, Number.parseInt(args.get('--rounds') ?? '7', 10));

function cpuMs(started: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

function report(name: string, ms: number, events: number): void {
  process.stdout.write(
    `${name.padEnd(44)} ${ms.toFixed(0).padStart(7)} ms  ${((ms * 1000) / events).toFixed(2)} µs/event  (${events} events)\n`,
  );
}

async function readlineParse(): Promise<void> {
  const started = process.cpuUsage();
  let events = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY }))
    if (line !== '') {
      JSON.parse(line);
      events += 1;
    }
  report('readline + JSON.parse (the baseline)', cpuMs(started), events);
}

async function chunkedParse(check: boolean): Promise<void> {
  const started = process.cpuUsage();
  let events = 0;
  for await (const batch of readTextLineBatches(createReadStream(file, { highWaterMark: 1 << 17 })))
    for (const line of batch.lines) {
      // The few lines across two chunks come as bytes: decoded here as the scan would.
      const text = typeof line === 'string' ? line : line.kind === 'line' ? line.bytes.toString('utf8') : '';
      if (text === '') continue;
      const value: unknown = JSON.parse(text);
      if (check && !isPlainValidEvent(value)) throw new Error('an event the check refuses');
      events += 1;
    }
  report(check ? 'chunked reader + JSON.parse + event check' : 'chunked reader + JSON.parse', cpuMs(started), events);
}

/** The first --lines events parsed, each with its line and where it starts (the file's lines end in `\n`). */
async function heldEvents(): Promise<{ event: UsageEvent; text: string; offset: number }[]> {
  const events: { event: UsageEvent; text: string; offset: number }[] = [];
  let offset = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    if (events.length === heldLines) break;
    if (line !== '') events.push({ event: JSON.parse(line) as UsageEvent, text: line, offset });
    offset += Buffer.byteLength(line) + 1;
  }
  return events;
}

function leastOf(run: () => void): number {
  let least = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds + 3; round += 1) {
    const started = process.cpuUsage();
    run();
    if (round >= 3) least = Math.min(least, cpuMs(started));
  }
  return least;
}

await readlineParse();
await chunkedParse(false);
await chunkedParse(true);
const held = await heldEvents();
const events = held.map((entry) => entry.event);
// First copies read back from the file, as the scan does (the held lines are in the page cache).
const fd = openSync(file, 'r');
const readBackBuffer = Buffer.alloc(64 * 1024);
report(
  'duplicate set (CompactEventKeys.check)',
  leastOf(() => {
    const seen = new CompactEventKeys({
      readBack: (offset, length) => readBackBuffer.toString('utf8', 0, readSync(fd, readBackBuffer, 0, length, offset)),
      parse: (text) => JSON.parse(text) as UsageEvent,
    });
    held.forEach((entry, line) => seen.check(entry.event, entry.text, line + 1, entry.offset, entry.text.length));
  }),
  held.length,
);
closeSync(fd);
const contract = await loadContractFile(path.join(repositoryRoot, 'demo/samples/contracts/acme.yaml'));
const versions = await loadRateCard(path.join(repositoryRoot, 'ratecards'), contract.ratecard);
const period = billingPeriod('2026-10');
report(
  'aggregator (UsageAggregator.add)',
  leastOf(() => {
    const aggregator = new UsageAggregator(versions, period);
    for (const event of events) aggregator.add(event);
  }),
  events.length,
);
