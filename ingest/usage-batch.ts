/**
 * Batched usage messages (SPEC §1): one JetStream message carries up to 1,000 events as JSON Lines
 * when it has the header `Tally-Batch: ndjson`. Each line is an event of its own for validation,
 * signature, dedupe and rejection; its line number (0-based, blank lines counted) names it within
 * the message, so a redelivered batch stores each of its rejections once.
 */
export const BATCH_HEADER = 'Tally-Batch';
export const BATCH_FORMAT = 'ndjson';
/** The most events a producer puts in one message (SPEC §1). The worker still processes every line of a longer one. */
export const MAX_BATCH_EVENTS = 1000;

export interface BatchLine {
  /** 0-based line number in the message. */
  readonly line: number;
  /** The line's exact bytes, without its `\n` (and a `\r` before it). */
  readonly data: Uint8Array;
}

/** The non-blank lines of a batched message's body, each with its line number. */
export function splitBatchLines(data: Uint8Array): BatchLine[] {
  const lines: BatchLine[] = [];
  let start = 0;
  let line = 0;
  while (start <= data.length) {
    let end = data.indexOf(0x0a, start);
    if (end === -1) end = data.length;
    let stop = end;
    if (stop > start && data[stop - 1] === 0x0d) stop--;
    if (!isBlank(data, start, stop)) lines.push({ line, data: data.subarray(start, stop) });
    line++;
    start = end + 1;
  }
  return lines;
}

function isBlank(data: Uint8Array, start: number, stop: number): boolean {
  for (let index = start; index < stop; index++) {
    const byte = data[index];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}

/** One message body of JSON Lines from events' bytes (none of which may contain a newline). */
export function joinBatchLines(events: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  events.forEach((event, index) => {
    if (index > 0) parts.push(NEWLINE);
    parts.push(Buffer.from(event.buffer, event.byteOffset, event.byteLength));
  });
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from('\n');
