import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readLineBatches, readTextLineBatches, type FileLine, type TextOrFileLine } from './line-reader.ts';

type Seen = { number: number; kind: 'line' | 'too_long'; bytes: string };

async function byteLines(chunks: Buffer[], maxLineBytes: number): Promise<Seen[]> {
  const seen: Seen[] = [];
  for await (const batch of readLineBatches(chunks, { maxLineBytes }))
    for (const line of batch) seen.push(seenLine(line));
  return seen;
}

async function textLines(chunks: Buffer[], maxLineBytes: number): Promise<Seen[]> {
  const seen: Seen[] = [];
  let number = 0;
  async function* source(): AsyncGenerator<Buffer> {
    yield* chunks;
  }
  const input = Buffer.concat(chunks);
  for await (const batch of readTextLineBatches(source(), { maxLineBytes }))
    batch.lines.forEach((line, index) => {
      number += 1;
      // Each line starts at its offset: the input's bytes there are the line's, then its ending.
      const offset = batch.offsets[index] as number;
      const startsLine = offset === 0 || input[offset - 1] === 0x0a;
      expect(startsLine).toBe(true);
      const lineBytes =
        typeof line === 'string' ? Buffer.from(line, 'latin1') : line.kind === 'line' ? line.bytes : undefined;
      if (lineBytes !== undefined) {
        expect(input.subarray(offset, offset + lineBytes.length).equals(lineBytes)).toBe(true);
        const after = input.subarray(offset + lineBytes.length, offset + lineBytes.length + 2).toString('latin1');
        expect(after === '' || after.startsWith('\n') || after.startsWith('\r')).toBe(true);
      }
      if (typeof line === 'string') {
        // A decoded line is ASCII: its bytes are its characters.
        expect(/^[\x00-\x7f]*$/.test(line)).toBe(true);
        seen.push({ number, kind: 'line', bytes: Buffer.from(line, 'latin1').toString('hex') });
      } else {
        expect(line.number).toBe(number);
        seen.push(seenLine(line));
      }
    });
  return seen;
}

function seenLine(line: FileLine): Seen {
  return line.kind === 'line'
    ? { number: line.number, kind: 'line', bytes: line.bytes.toString('hex') }
    : { number: line.number, kind: 'too_long', bytes: String(line.bytes) };
}

/** Bytes rich in what line splitting cares about: newlines, carriage returns, ASCII and not. */
const fileBytes = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
      { weight: 2, arbitrary: fc.constant(0x0a) },
      { weight: 1, arbitrary: fc.constant(0x0d) },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    ),
    { maxLength: 400 },
  )
  .map((bytes) => Buffer.from(bytes));

describe('readTextLineBatches', () => {
  it('gives the lines of readLineBatches, however the bytes are split into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fileBytes,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom(1, 4, 16, 64, 1024),
        async (bytes, cuts, maxLineBytes) => {
          const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let from = 0;
          for (const point of [...points, bytes.length]) {
            chunks.push(bytes.subarray(from, point));
            from = point;
          }
          expect(await textLines(chunks, maxLineBytes)).toEqual(await byteLines(chunks, maxLineBytes));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decodes the ASCII lines of a chunk as text and leaves the others as bytes', async () => {
    const chunk = Buffer.concat([
      Buffer.from('first\r\nsecond\n', 'latin1'),
      Buffer.from('caf\u00e9\n', 'utf8'),
      Buffer.from('tail', 'latin1'),
    ]);
    const batches: TextOrFileLine[][] = [];
    for await (const batch of readTextLineBatches([chunk], { maxLineBytes: 64 })) batches.push(batch.lines);
    expect(batches.flat().map((line) => (typeof line === 'string' ? line : line.kind))).toEqual([
      'line', // the first line of a chunk may continue the previous one: bytes
      'line', // the chunk's whole lines are not all ASCII: bytes
      'line',
      'line', // the last line, at the end of the input
    ]);
    const ascii = Buffer.from('first\nsecond\r\nthird\n\nlast', 'latin1');
    const lines: TextOrFileLine[] = [];
    for await (const batch of readTextLineBatches([ascii], { maxLineBytes: 64 })) lines.push(...batch.lines);
    expect(lines.map((line) => (typeof line === 'string' ? line : line.kind))).toEqual([
      'line',
      'second',
      'third',
      '',
      'line',
    ]);
  });
});
