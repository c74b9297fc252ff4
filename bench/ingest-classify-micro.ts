/**
 * The ingest worker's per-event CPU outside any I/O: the bench's generated events in messages of 100
 * (JSON Lines), split and classified (parse, schema, canonical JSON, HMAC, body sha256) as the read
 * loop does. On a shared machine the rate moves with the load; CPU per event moves much less, so
 * compare two versions by running each a few times in turn.
 *
 *   npx tsx bench/ingest-classify-micro.ts [rounds, default 5]
 */
import { generateMessage } from './event-generator.ts';
import { classifyMessage, DEFAULT_ACCEPT_WINDOW } from '../ingest/classify-message.ts';
import { joinBatchLines, splitBatchLines } from '../ingest/usage-batch.ts';

const SOURCES = ['api-gateway', 'batch-runner', 'search-edge', 'storage-meter', 'image-service', 'compute-agent'];
const EVENTS = 100_000;
const keys = Object.fromEntries(SOURCES.map((source) => [source, `bench-secret-${source}-0123456789`]));
const nowMs = Date.now();
const generator = {
  sources: SOURCES,
  keys,
  customers: 5000,
  subjectPrefix: 'usage',
  spreadMs: 20 * 86_400_000,
  nowMs,
  duplicateDistance: 25_000,
  runTag: 'micro',
};
const lines: Uint8Array[] = [];
for (let position = 0; position < EVENTS; position++) lines.push(generateMessage(position, generator).message.data);
const bodies: Buffer[] = [];
for (let start = 0; start < EVENTS; start += 100) bodies.push(joinBatchLines(lines.slice(start, start + 100)));
const receivedAtNanos = BigInt(nowMs) * 1_000_000n;

function pass(): number {
  let accepted = 0;
  bodies.forEach((body, index) => {
    for (const { line, data } of splitBatchLines(body)) {
      const classified = classifyMessage(
        { streamSeq: index + 1, batchLine: line, receivedAtNanos, data },
        keys,
        DEFAULT_ACCEPT_WINDOW,
      );
      if (classified.kind === 'accepted') accepted++;
    }
  });
  return accepted;
}

pass(); // warm-up
const rounds = Number(process.argv[2] ?? '5');
const before = process.cpuUsage();
let accepted = 0;
for (let round = 0; round < rounds; round++) accepted += pass();
const used = process.cpuUsage(before);
console.log(
  `classify: ${((used.user + used.system) / (rounds * EVENTS)).toFixed(2)} µs CPU/event over ${rounds} × ${EVENTS} events ` +
    `(${accepted / rounds} accepted per pass, duplicates included)`,
);
