import { createReadStream, createWriteStream, openSync, closeSync, fstatSync, readSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { verifySignature } from '../contracts/event-signature.ts';
import type { RejectionReason } from '../contracts/rejection-reason.ts';
import { SourceKeysSchema, type SourceKeys } from '../contracts/source-keys.ts';
import { isPlainValidEvent, UsageEventSchema, type UsageEvent } from '../contracts/usage-event.ts';
import { CompactEventKeys, EventFileChangedError } from './compact-event-keys.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { decodeLine, MAX_LINE_BYTES, readTextLineBatches, type TextOrFileLine } from './line-reader.ts';
import { printableOneLine } from './terminal-text.ts';

/** A line of an event file that cannot be used, with the reason ingest would store it under. */
export interface EventLineProblem {
  readonly line: number;
  readonly reason: RejectionReason;
  /** The failing field, e.g. `quantity` or `metadata.sku`; `(line)` for the whole line. */
  readonly field: string;
  readonly message: string;
}

/** The failures of an event file: every bad line is listed, and nothing is rated. */
export class EventFileError extends TallyError {
  constructor(
    readonly file: string,
    readonly problems: readonly EventLineProblem[],
    /** Bad lines (a line with three bad fields counts once). */
    readonly badLines: number,
    /** Problems found on them, including those not kept in `problems`. */
    readonly problemCount: number = problems.length,
  ) {
    super(
      'invalid_events',
      `${file}: ${badLines} bad event line${badLines === 1 ? '' : 's'}; nothing was rated (fix or remove ${badLines === 1 ? 'it' : 'them'} and run again):\n${problems
        .map((problem) => `  ${formatEventProblem(file, problem)}`)
        .join('\n')}${problemCount > problems.length ? `\n  … and ${problemCount - problems.length} more` : ''}`,
      { permanent: true },
    );
  }
}

/** `file:line field: reason: message`, with anything from the input a terminal would act on escaped. */
export function formatEventProblem(file: string, problem: EventLineProblem): string {
  return printableOneLine(`${file}:${problem.line} ${problem.field}: ${problem.reason}: ${problem.message}`);
}

export interface EventFileScan {
  readonly lines: number;
  readonly problems: EventLineProblem[];
  /** Lines with at least one problem. */
  readonly badLines: number;
  /** All problems, including those not kept in `problems`. */
  readonly problemCount: number;
}

export interface ScanOptions {
  /** Verify each event's signature with its source's key; without keys signatures are not checked. */
  readonly keys?: SourceKeys;
  /** Called once per valid event whose (source, event_id) is new; `duplicate` for an exact repeat. */
  readonly onEvent: (event: UsageEvent, line: number, duplicate: boolean) => void;
  /** How many problems to keep for the report (all are counted). */
  readonly keepProblems?: number;
  /** The longest line read, in bytes (default MAX_LINE_BYTES); a longer one is a `malformed_json` problem. */
  readonly maxLineBytes?: number;
}

/**
 * Streams a JSON Lines event file line by line (memory: the compact key set, not the events) and
 * applies the checks of SPEC §1 that make sense offline: JSON, schema, signature (with `--keys`),
 * and (source, event_id) identity — an exact repeat is a duplicate, a repeat with another body is an
 * `id_conflict`. Blank lines are skipped. Receipt-time checks (the accept window) do not apply to a
 * file. Every problem is collected; the caller decides (the rate command refuses the whole file).
 * Lines are bytes decoded as strict UTF-8: bad bytes, a byte-order mark and a line over the limit
 * are `malformed_json` problems naming the line and what is wrong, as ingest would store them.
 */
export async function scanEventFile(file: string, options: ScanOptions): Promise<EventFileScan> {
  const keep = options.keepProblems ?? 50;
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  const problems: EventLineProblem[] = [];
  let problemCount = 0;
  let badLines = 0;
  let lastBadLine = 0;
  const report = (problem: EventLineProblem): void => {
    problemCount += 1;
    if (problem.line !== lastBadLine) {
      badLines += 1;
      lastBadLine = problem.line;
    }
    if (problems.length < keep) problems.push(problem);
  };
  let line = 0;
  let source: SeekableFile | undefined;
  let input: ReturnType<typeof createReadStream> | undefined;
  try {
    source = await seekable(file);
    const readable = source;
    // A key's first copy is read back from the file when the key comes again (compact-event-keys.ts).
    const seen = new CompactEventKeys({
      readBack: (offset, length) => readable.readBack(offset, length),
      parse: (text) => parseEventLine(text, 0, () => undefined),
    });
    // Reads of 128 KiB: a chunk's lines are decoded as one string, and a string of more than about
    // 1 MB (Node's EXTERN_APEX, 0xFBEE9 bytes) is made outside the heap, as external memory, whose growth
    // starts full mark-compact collections: reads of 1 MiB caused one every ten or so (35–50 over a million
    // lines, against 7 with these; docs/BENCHMARKS.md, offline rating, fourth pass).
    input = createReadStream(source.path, { highWaterMark: 1 << 17 });
    for await (const batch of readTextLineBatches(input, { maxLineBytes }))
      for (let index = 0; index < batch.lines.length; index += 1) {
        const read = batch.lines[index] as TextOrFileLine;
        line += 1;
        // Most lines come decoded (ASCII); the others as bytes, decoded strictly here.
        let text: string;
        let length: number;
        if (typeof read === 'string') {
          text = read;
          length = read.length;
        } else if (read.kind === 'too_long') {
          report({
            line,
            reason: 'malformed_json',
            field: '(line)',
            message: `the line is ${read.bytes} bytes, longer than the limit of ${maxLineBytes} bytes for one event; it was not read`,
          });
          continue;
        } else {
          const decoded = decodeLine(read.bytes);
          if (!decoded.ok) {
            report({
              line,
              reason: 'malformed_json',
              field: '(line)',
              message: `not valid UTF-8: byte ${decoded.offset + 1} of the line starts a bad sequence (${decoded.bytes})`,
            });
            continue;
          }
          text = decoded.text;
          length = read.bytes.length;
        }
        // A line that starts with `{` is not blank (most lines): trim() only for the others.
        if (text.charCodeAt(0) !== 0x7b && text.trim() === '') continue;
        if (text.startsWith('\ufeff')) {
          report({
            line,
            reason: 'malformed_json',
            field: '(line)',
            message: 'the line starts with a byte-order mark (BOM, U+FEFF); save the file as UTF-8 without a BOM',
          });
          continue;
        }
        const event = parseEventLine(text, line, report);
        if (event === undefined) continue;
        if (options.keys !== undefined) {
          const secret = options.keys[event.source];
          if (secret === undefined) {
            report({
              line,
              reason: 'unknown_source',
              field: 'source',
              message: `no signing key for source ${event.source} in the key file`,
            });
            continue;
          }
          if (!verifySignature(event, secret)) {
            report({
              line,
              reason: 'bad_signature',
              field: 'signature',
              message: "the signature does not match the event and its source's key",
            });
            continue;
          }
        }
        const check = seen.check(event, text, line, batch.offsets[index] as number, length);
        if (check.status === 'conflict') {
          report({
            line,
            reason: 'id_conflict',
            field: 'event_id',
            message: `(${event.source}, ${event.event_id}) was first seen at line ${check.firstLine} with a different body`,
          });
          continue;
        }
        options.onEvent(event, line, check.status === 'duplicate');
      }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      throw Object.assign(new Error(`${file}: cannot read the event file (${code})`), { code: 'unreadable_events' });
    }
    if (error instanceof EventFileChangedError)
      throw Object.assign(new Error(`${file}: ${error.message}`), { code: 'unreadable_events' });
    throw error;
  } finally {
    input?.destroy();
    await source?.close();
  }
  return { lines: line, problems, badLines, problemCount };
}

/** Bytes read at once when a line is read back. */
const READ_BACK_BLOCK = 64 * 1024;

/** The event file, open for reading back lines at their offsets. */
interface SeekableFile {
  /** What to stream: the file, or a copy of what a pipe gave. */
  readonly path: string;
  readBack(offset: number, length: number): string;
  close(): Promise<void>;
}

/**
 * The event file open for reads at an offset. A pipe or other stream (`--events <(zcat …)`) cannot
 * be read twice: what it gives is copied into a private temporary file first, read from there and
 * removed at the end.
 */
async function seekable(file: string): Promise<SeekableFile> {
  const fd = openSync(file, 'r');
  let regular: boolean;
  try {
    regular = fstatSync(fd).isFile();
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (regular) return blockReader(file, fd, async () => closeSync(fd));
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tally-events-'));
  const remove = (): Promise<void> => rm(folder, { recursive: true, force: true });
  const copy = path.join(folder, 'events.jsonl');
  try {
    // The stream closes the pipe's descriptor when it ends or fails.
    await pipeline(createReadStream('', { fd }), createWriteStream(copy, { mode: 0o600 }));
    const copyFd = openSync(copy, 'r');
    return blockReader(copy, copyFd, async () => {
      closeSync(copyFd);
      await remove();
    });
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * Lines read back through the last block read, from the offset asked for on: first copies are
 * mostly read in file order (a retried batch, a file sent twice), so one read serves the lines after
 * it too.
 */
function blockReader(filePath: string, fd: number, close: () => Promise<void>): SeekableFile {
  const block = Buffer.alloc(READ_BACK_BLOCK);
  let blockStart = 0;
  let blockLength = 0;
  return {
    path: filePath,
    readBack(offset, length) {
      if (offset < blockStart || offset + length > blockStart + blockLength) {
        if (length > READ_BACK_BLOCK) {
          const line = Buffer.alloc(length);
          return line.toString('utf8', 0, readSync(fd, line, 0, length, offset));
        }
        blockStart = offset;
        blockLength = readSync(fd, block, 0, READ_BACK_BLOCK, offset);
      }
      const from = offset - blockStart;
      return block.toString('utf8', from, Math.min(from + length, blockLength));
    },
    close,
  };
}

/**
 * One line's event: JSON.parse, the ingest worker's fast check (it accepts only what the schema
 * accepts unchanged, see usage-event-fast-path.test.ts), then, for anything else, the schema and its
 * messages. Undefined, with the problems reported, when the line is not a valid event.
 */
function parseEventLine(
  text: string,
  line: number,
  report: (problem: EventLineProblem) => void,
): UsageEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    report({
      line,
      reason: 'malformed_json',
      field: '(line)',
      message: error instanceof Error ? error.message : 'not JSON',
    });
    return undefined;
  }
  if (isPlainValidEvent(value)) return value;
  const parsed = UsageEventSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    // A key may be the empty string ("": 1): named so that the message still says where.
    const name = (key: PropertyKey): string => (String(key) === '' ? '""' : String(key));
    const field =
      issue.code === 'unrecognized_keys'
        ? issue.keys.map(name).join(', ')
        : issue.path.length > 0
          ? issue.path.map(name).join('.')
          : '(event)';
    report({
      line,
      reason: 'schema_violation',
      field,
      message: issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message,
    });
  }
  return undefined;
}

/** The producers' signing keys, from a JSON key file (`--keys`). */
export async function loadSourceKeys(file: string): Promise<SourceKeys> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw Object.assign(
      new Error(
        `${file}: cannot read the key file as JSON (${error instanceof Error ? error.message : String(error)})`,
      ),
      { code: 'invalid_keys' },
    );
  }
  const parsed = SourceKeysSchema.safeParse(value);
  if (!parsed.success) {
    throw Object.assign(
      new Error(
        `${file}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`).join('; ')}`,
      ),
      { code: 'invalid_keys' },
    );
  }
  return parsed.data;
}
