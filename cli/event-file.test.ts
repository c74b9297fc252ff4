import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUsageEvent } from '../test/builders/rating.ts';
import { scanEventFile } from './event-file.ts';

/**
 * A file of about 400 KiB (several 128 KiB reads, lines across their edges) mixing ASCII lines,
 * lines with text beyond ASCII, CRLF endings and blank lines, with every kind of repeat: the same
 * bytes again, the same event written another way, and a conflicting body.
 */
function fileLines(): { text: string; expected: { duplicates: number[]; conflicts: [number, number][] } } {
  const lines: string[] = [];
  const duplicates: number[] = [];
  const conflicts: [number, number][] = [];
  const firstLineOf = new Map<string, number>();
  for (let index = 0; index < 1_500; index += 1) {
    const wide = index % 7 === 3;
    const event = buildUsageEvent({
      event_id: `evt-${index}`,
      metadata: { sku: 'llm.tokens', region: wide ? 'são-paulo-€' : 'us-east-1' },
    });
    const text = JSON.stringify(event);
    lines.push(index % 5 === 0 ? `${text}\r` : text);
    firstLineOf.set(event.event_id, lines.length);
    if (index % 11 === 0) lines.push('');
    if (index % 50 === 10) {
      lines.push(text); // the same bytes again
      duplicates.push(lines.length);
    }
    if (index % 50 === 20) {
      lines.push(
        JSON.stringify({ ...event, metadata: { region: event.metadata.region, sku: 'llm.tokens' } }, null, 1).replace(
          /\n/g,
          '',
        ),
      );
      duplicates.push(lines.length); // the same event, written another way
    }
    if (index % 50 === 30) {
      lines.push(JSON.stringify({ ...event, quantity: '999' }));
      conflicts.push([lines.length, firstLineOf.get(event.event_id) as number]);
    }
  }
  return { text: `${lines.join('\n')}\n`, expected: { duplicates, conflicts } };
}

describe('scanEventFile', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'tally-scan-test-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  async function scan(file: string) {
    const duplicates: number[] = [];
    let events = 0;
    const result = await scanEventFile(file, {
      keepProblems: 1_000,
      onEvent: (_event, line, duplicate) => {
        events += 1;
        if (duplicate) duplicates.push(line);
      },
    });
    const conflicts = result.problems.map((problem) => {
      expect(problem.reason).toBe('id_conflict');
      const first = /first seen at line (\d+)/.exec(problem.message)?.[1];
      return [problem.line, Number(first)] as [number, number];
    });
    return { events, duplicates, conflicts };
  }

  it('tells duplicates from conflicts by reading first copies back, wherever the lines fall in the reads', async () => {
    const { text, expected } = fileLines();
    expect(Buffer.byteLength(text)).toBeGreaterThan(3 * 128 * 1024);
    const file = path.join(folder, 'events.jsonl');
    await writeFile(file, text);
    const seen = await scan(file);
    expect(seen.duplicates).toEqual(expected.duplicates);
    expect(seen.conflicts).toEqual(expected.conflicts);
    expect(seen.events).toBe(1_500 + expected.duplicates.length);
  });

  it('reads back a first copy longer than one read-back block (a valid line padded with 100 KB of spaces)', async () => {
    const event = buildUsageEvent({ event_id: 'evt-padded' });
    const padded = JSON.stringify(event).replace('{', `{${' '.repeat(100_000)}`);
    const other = JSON.stringify(buildUsageEvent({ event_id: 'evt-other' }));
    const file = path.join(folder, 'padded.jsonl');
    await writeFile(
      file,
      [padded, other, padded, JSON.stringify(event), JSON.stringify({ ...event, quantity: '3' }), ''].join('\n'),
    );
    const seen = await scan(file);
    expect(seen.duplicates).toEqual([3, 4]);
    expect(seen.conflicts).toEqual([[5, 1]]);
  });

  it('reads a pipe once, through a private copy it removes', async () => {
    const { text, expected } = fileLines();
    const fifo = path.join(folder, 'events.fifo');
    execFileSync('mkfifo', [fifo]);
    const before = (await readdir(os.tmpdir())).filter((name) => name.startsWith('tally-events-'));
    // Another process writes the pipe, as a shell's `<(zcat events.gz)` does.
    const source = path.join(folder, 'source.jsonl');
    await writeFile(source, text);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', source, fifo], { stdio: 'ignore' });
    const exited = once(writer, 'close');
    const seen = await scan(fifo);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(seen.duplicates).toEqual(expected.duplicates);
    expect(seen.conflicts).toEqual(expected.conflicts);
    const after = (await readdir(os.tmpdir())).filter((name) => name.startsWith('tally-events-'));
    expect(after).toEqual(before);
  });
});
