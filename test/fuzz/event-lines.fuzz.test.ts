import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REJECTION_REASONS } from '../../contracts/rejection-reason.ts';
import { parseUsageEvent } from '../../contracts/usage-event.ts';
import { formatEventProblem, scanEventFile } from '../../cli/event-file.ts';
import { decodeLine, firstInvalidUtf8Byte, readLines } from '../../cli/line-reader.ts';
import { unsignedEventArbitrary } from '../builders/usage-event-arbitraries.ts';
import { CLASSIC_BYTES, CLASSIC_LINES } from './classics.ts';
import { fuzzParameters, fuzzTestTimeoutMs } from './fuzz-budget.ts';

// Event files as `tally rate` reads them: whatever the bytes, the scan finishes, every line is
// accounted for exactly once (an event, a blank line or a refusal naming its line and reason), and
// it agrees with the parser ingest uses on every line both can read.
const directory = mkdtempSync(path.join(os.tmpdir(), 'tally-fuzz-events-'));
let fileNumber = 0;

const validLine = unsignedEventArbitrary.chain((event) =>
  fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => JSON.stringify({ ...event, signature: `v1=${hex}` })),
);

/** A valid line broken one way: a cut, an insertion, a field replaced by any JSON value. */
const mutatedLine = fc.oneof(
  fc.tuple(validLine, fc.nat(), fc.nat()).map(([line, from, length]) => {
    const start = from % (line.length + 1);
    return line.slice(0, start) + line.slice(start + (length % 20));
  }),
  fc.tuple(validLine, fc.nat(), fc.string({ maxLength: 8, unit: 'binary' })).map(([line, at, text]) => {
    const index = at % (line.length + 1);
    return line.slice(0, index) + text + line.slice(index);
  }),
  fc
    .tuple(
      validLine,
      fc.constantFrom('quantity', 'timestamp', 'event_id', 'metadata', 'unit', 'schema_version'),
      fc.jsonValue(),
    )
    .map(([line, field, value]) => JSON.stringify({ ...(JSON.parse(line) as object), [field]: value })),
);

const lineBytes: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: validLine.map((line) => Buffer.from(line, 'utf8')) },
  { weight: 4, arbitrary: mutatedLine.map((line) => Buffer.from(line, 'utf8')) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 2, arbitrary: fc.constantFrom(...CLASSIC_LINES, ...CLASSIC_BYTES) },
);

const eventFile = fc.record({
  lines: fc.array(lineBytes, { maxLength: 12 }),
  crlf: fc.boolean(),
  trailingNewline: fc.boolean(),
  /** A repeat of an earlier line (an exact duplicate) or of its id with another body (a conflict). */
  repeats: fc.array(fc.nat(), { maxLength: 3 }),
  maxLineBytes: fc.constantFrom(256, 4096, 1024 * 1024),
});

describe('event files (tally rate)', () => {
  it(
    'never crash, and account for every line exactly once',
    async () => {
      await fc.assert(
        fc.asyncProperty(eventFile, async ({ lines, crlf, trailingNewline, repeats, maxLineBytes }) => {
          const all = [...lines];
          for (const index of repeats) if (lines.length > 0) all.push(lines[index % lines.length] as Buffer);
          // Lines must not contain the separator themselves for the accounting below.
          const parts = all.flatMap((bytes) => splitOnNewline(bytes));
          const separator = Buffer.from(crlf ? '\r\n' : '\n');
          const body = Buffer.concat(parts.flatMap((part, index) => (index === 0 ? [part] : [separator, part])));
          const bytes = trailingNewline && parts.length > 0 ? Buffer.concat([body, separator]) : body;
          const file = path.join(directory, `events-${fileNumber++}.jsonl`);
          writeFileSync(file, bytes);

          const eventLines = new Set<number>();
          const scan = await scanEventFile(file, {
            keepProblems: Number.MAX_SAFE_INTEGER,
            maxLineBytes,
            onEvent: (_event, line) => {
              expect(eventLines.has(line)).toBe(false);
              eventLines.add(line);
            },
          });
          const problemLines = new Set(scan.problems.map((problem) => problem.line));
          expect(scan.badLines).toBe(problemLines.size);
          for (const problem of scan.problems) {
            expect(REJECTION_REASONS).toContain(problem.reason);
            expect(problem.field.length).toBeGreaterThan(0);
            expect(problem.message.length).toBeGreaterThan(0);
            expect(problem.line).toBeGreaterThanOrEqual(1);
            expect(formatEventProblem(file, problem)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
            expect(eventLines.has(problem.line)).toBe(false);
          }
          // Every line of the file: an event, a refusal, or blank; and the parser agrees.
          const expected = splitLines(bytes);
          expect(scan.lines).toBe(expected.length);
          for (const [index, raw] of expected.entries()) {
            const line = index + 1;
            const decoded = raw.length > maxLineBytes ? undefined : decodeLine(raw);
            const text = decoded?.ok === true ? decoded.text : undefined;
            if (text !== undefined && text.trim() === '') {
              expect(eventLines.has(line) || problemLines.has(line)).toBe(false);
              continue;
            }
            expect(eventLines.has(line) !== problemLines.has(line), `line ${line} accounted once`).toBe(true);
            if (text === undefined || text.startsWith('\ufeff')) {
              expect(problemLines.has(line)).toBe(true);
              continue;
            }
            const parsed = parseUsageEvent(text);
            if (!parsed.ok) {
              expect(scan.problems.find((problem) => problem.line === line)?.reason).toBe(parsed.reason);
            } else if (problemLines.has(line)) {
              expect(scan.problems.find((problem) => problem.line === line)?.reason).toBe('id_conflict');
            }
          }
        }),
        fuzzParameters(),
      );
    },
    fuzzTestTimeoutMs(),
  );
});

describe('the line reader', () => {
  it(
    'splits any bytes, in any chunks, into the same lines, and never holds a line over the limit',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc
            .uint8Array({ maxLength: 600 })
            .map((bytes) => Buffer.from(bytes.map((byte) => (byte % 7 === 0 ? 0x0a : byte)))),
          fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
          fc.integer({ min: 1, max: 80 }),
          async (bytes, chunkSizes, maxLineBytes) => {
            const chunks: Buffer[] = [];
            for (let offset = 0, index = 0; offset < bytes.length; index++) {
              const size = chunkSizes[index % chunkSizes.length] as number;
              chunks.push(bytes.subarray(offset, offset + size));
              offset += size;
            }
            const read = [];
            for await (const line of readLines(chunks, { maxLineBytes })) read.push(line);
            const expected = splitLines(bytes);
            expect(read.map((line) => line.number)).toEqual(expected.map((_line, index) => index + 1));
            for (const [index, line] of read.entries()) {
              const raw = expected[index] as Buffer;
              if (raw.length > maxLineBytes)
                expect(line).toEqual({ kind: 'too_long', number: index + 1, bytes: expect.any(Number) });
              else expect(line).toEqual({ kind: 'line', number: index + 1, bytes: raw });
            }
          },
        ),
        fuzzParameters(),
      );
    },
    fuzzTestTimeoutMs(),
  );

  it(
    'finds the first bad UTF-8 byte where a strict decoder fails',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 40 }),
            fc.string({ unit: 'binary', maxLength: 20 }).map((text) => new TextEncoder().encode(text)),
          ),
          (bytes) => {
            const offset = firstInvalidUtf8Byte(bytes);
            const strict = new TextDecoder('utf-8', { fatal: true });
            if (offset === bytes.length) expect(() => strict.decode(bytes)).not.toThrow();
            else {
              expect(() => strict.decode(bytes)).toThrow();
              expect(() => strict.decode(bytes.subarray(0, offset))).not.toThrow();
            }
          },
        ),
        fuzzParameters(),
      );
    },
    fuzzTestTimeoutMs(),
  );
});

function splitOnNewline(bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let index = bytes.indexOf(0x0a); index !== -1; index = bytes.indexOf(0x0a, start)) {
    parts.push(bytes.subarray(start, index));
    start = index + 1;
  }
  parts.push(bytes.subarray(start));
  return parts;
}

/** The lines a reader should see: split on `\n`, a trailing `\r` dropped, no line after a final `\n`. */
function splitLines(bytes: Buffer): Buffer[] {
  if (bytes.length === 0) return [];
  const parts = splitOnNewline(bytes);
  if (parts.at(-1)?.length === 0) parts.pop();
  return parts.map((part) => (part.at(-1) === 0x0d ? part.subarray(0, part.length - 1) : part));
}
