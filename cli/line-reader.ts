import { isAscii } from 'node:buffer';
import type { Readable } from 'node:stream';
import { MAX_LINE_BYTES } from '../contracts/input-limits.ts';

export { MAX_LINE_BYTES } from '../contracts/input-limits.ts';

export type FileLine =
  /** A whole line: its bytes as read, without the `\n` (or `\r\n`) that ended it. */
  | { readonly kind: 'line'; readonly number: number; readonly bytes: Buffer }
  /** A line longer than the limit: counted and skipped, never held in memory. */
  | { readonly kind: 'too_long'; readonly number: number; readonly bytes: number };

/**
 * Splits a byte stream into lines, as bytes: the caller decodes them strictly (`decodeLine`), so bad
 * bytes are reported instead of turning into U+FFFD. A line longer than `maxLineBytes` is not kept:
 * its bytes are counted up to the next newline and it comes back as `too_long`.
 */
export async function* readLines(
  input: Readable | AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  options: { readonly maxLineBytes?: number } = {},
): AsyncGenerator<FileLine> {
  for await (const batch of readLineBatches(input, options)) yield* batch;
}

/**
 * The lines of `readLines`, a chunk's worth at a time: one await per chunk read instead of one per
 * line, for a caller that goes through millions of lines (the offline rating's scan).
 */
export async function* readLineBatches(
  input: Readable | AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  options: { readonly maxLineBytes?: number } = {},
): AsyncGenerator<FileLine[]> {
  const line = new LineAssembler(options.maxLineBytes ?? MAX_LINE_BYTES);
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const batch: FileLine[] = [];
    let start = 0;
    for (;;) {
      const newline = buffer.indexOf(0x0a, start);
      if (newline === -1) {
        line.take(buffer.subarray(start));
        break;
      }
      line.take(buffer.subarray(start, newline));
      batch.push(line.finish());
      start = newline + 1;
    }
    if (batch.length > 0) yield batch;
  }
  if (line.pending) yield [line.finish()];
}

/**
 * A line of `readTextLineBatches`: ASCII text already decoded (its number is one more than the
 * previous line's), or a line as `readLineBatches` gives it (the caller decodes it).
 */
export type TextOrFileLine = string | FileLine;

/** A chunk's worth of `readTextLineBatches`: the lines, and where each starts in the input. */
export interface TextLineBatch {
  readonly lines: TextOrFileLine[];
  /**
   * The byte offset in the input of each line's first byte (`offsets[i]` is `lines[i]`'s): with the
   * line's length in bytes (a decoded line's length, a `line`'s bytes), where to read it again.
   */
  readonly offsets: number[];
}

/**
 * The lines of `readLineBatches`, with the ASCII ones already decoded: a chunk's whole lines are
 * checked (`isAscii`) and decoded in one call, then cut into strings, instead of a buffer, a check
 * and a decoding per line (the offline rating's scan of a million lines). The lines, their numbers,
 * the `too_long` ones and the bytes of any other line are exactly those of `readLineBatches`
 * (proven in line-reader.test.ts): ASCII text is valid UTF-8 decoded byte for byte. Each line comes
 * with its byte offset in the input, so that a caller can read it again from the file.
 */
export async function* readTextLineBatches(
  input: Readable | AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  options: { readonly maxLineBytes?: number } = {},
): AsyncGenerator<TextLineBatch> {
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  const line = new LineAssembler(maxLineBytes);
  /** Bytes of the input before the current chunk. */
  let consumed = 0;
  /** Where the line being assembled (across chunks) started. */
  let partStart = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const first = buffer.indexOf(0x0a);
    if (first === -1) {
      line.take(buffer);
      consumed += buffer.length;
      continue;
    }
    const lines: TextOrFileLine[] = [];
    const offsets: number[] = [];
    // The line the previous chunk started ends here.
    line.take(buffer.subarray(0, first));
    lines.push(line.finish());
    offsets.push(partStart);
    const last = buffer.lastIndexOf(0x0a);
    const whole = buffer.subarray(first + 1, last + 1);
    /** The offset of `whole`'s first byte in the input. */
    const base = consumed + first + 1;
    if (isAscii(whole)) {
      const text = whole.toString('latin1');
      let start = 0;
      for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
        const rawLength = newline - start;
        const end = rawLength > 0 && text.charCodeAt(newline - 1) === 0x0d ? newline - 1 : newline;
        const number = line.countLine();
        if (rawLength > maxLineBytes + 1) lines.push({ kind: 'too_long', number, bytes: rawLength });
        else if (end - start > maxLineBytes) lines.push({ kind: 'too_long', number, bytes: end - start });
        else lines.push(text.slice(start, end));
        offsets.push(base + start);
        start = newline + 1;
      }
    } else {
      let start = 0;
      for (let newline = whole.indexOf(0x0a); newline !== -1; newline = whole.indexOf(0x0a, start)) {
        line.take(whole.subarray(start, newline));
        lines.push(line.finish());
        offsets.push(base + start);
        start = newline + 1;
      }
    }
    line.take(buffer.subarray(last + 1));
    partStart = consumed + last + 1;
    consumed += buffer.length;
    yield { lines, offsets };
  }
  if (line.pending) yield { lines: [line.finish()], offsets: [partStart] };
}

/**
 * The line being read, as both readers assemble it from the pieces of the chunks it spans: its bytes
 * kept up to the limit (one byte over is allowed for the `\r` of a CRLF ending), then only counted up
 * to the newline that ends it; and the number of the lines finished so far.
 */
class LineAssembler {
  private parts: Buffer[] = [];
  /** The line's bytes so far, kept or not. */
  private held = 0;
  /** Past the limit: the line's bytes are counted, no longer kept. */
  private skipping = false;
  private number = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** Whether a line has begun that no newline has ended yet (the input's last line, at its end). */
  get pending(): boolean {
    return this.held > 0 || this.skipping;
  }

  /** Adds the next piece of the line (the bytes up to a newline, or a chunk's last, unended ones). */
  take(piece: Buffer): void {
    this.held += piece.length;
    if (this.skipping) return;
    if (this.held > this.maxLineBytes + 1) {
      this.skipping = true;
      this.parts = [];
    } else if (piece.length > 0) this.parts.push(piece);
  }

  /** Ends the line: its bytes without the `\r` of a CRLF ending, or `too_long` past the limit. */
  finish(): FileLine {
    const number = this.countLine();
    if (this.skipping) {
      const line: FileLine = { kind: 'too_long', number, bytes: this.held };
      this.skipping = false;
      this.held = 0;
      return line;
    }
    const parts = this.parts;
    let bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, this.held);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    this.parts = [];
    this.held = 0;
    // A CRLF line of exactly the limit plus its `\r` fits; a longer one does not.
    return bytes.length > this.maxLineBytes
      ? { kind: 'too_long', number, bytes: bytes.length }
      : { kind: 'line', number, bytes };
  }

  /** Numbers a line: one the assembler finishes, or one a caller cut from a chunk itself. */
  countLine(): number {
    this.number += 1;
    return this.number;
  }
}

export type DecodedLine =
  | { readonly ok: true; readonly text: string }
  /** `offset`: the first bad byte, counted from 0 in the line; `bytes`: it and up to three after, in hex. */
  | { readonly ok: false; readonly offset: number; readonly bytes: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes a line as strict UTF-8 (a byte-order mark is kept, so the caller can name it). */
export function decodeLine(bytes: Buffer): DecodedLine {
  // Most lines are ASCII, which is valid UTF-8 decoded byte for byte: checked and decoded natively.
  if (isAscii(bytes)) return { ok: true, text: bytes.toString('latin1') };
  try {
    return { ok: true, text: strictUtf8.decode(bytes) };
  } catch {
    const offset = firstInvalidUtf8Byte(bytes);
    return {
      ok: false,
      offset,
      bytes: [...bytes.subarray(offset, offset + 4)].map((byte) => byte.toString(16).padStart(2, '0')).join(' '),
    };
  }
}

/** Where strict UTF-8 decoding of `bytes` fails (bytes.length when it does not). */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index] as number;
    if (lead < 0x80) {
      index += 1;
      continue;
    }
    let length: number;
    let min: number;
    let max = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
      min = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      // No overlong forms (E0 80–9F) and no surrogates (ED A0–BF).
      min = lead === 0xe0 ? 0xa0 : 0x80;
      if (lead === 0xed) max = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      min = lead === 0xf0 ? 0x90 : 0x80;
      if (lead === 0xf4) max = 0x8f;
    } else {
      return index;
    }
    if (index + length > bytes.length) return index;
    const second = bytes[index + 1] as number;
    if (second < min || second > max) return index;
    for (let next = 2; next < length; next++) {
      const continuation = bytes[index + next] as number;
      if (continuation < 0x80 || continuation > 0xbf) return index;
    }
    index += length;
  }
  return index;
}
