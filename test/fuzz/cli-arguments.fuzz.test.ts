import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runTally } from '../cli/run-tally.ts';
import { CLASSIC_PERIODS } from './classics.ts';
import { fuzzParameters, fuzzSecondsPerProperty, fuzzTestTimeoutMs } from './fuzz-budget.ts';

// The offline commands as a careless or hostile user types them: every run ends (no hang), with 0
// or a refusal that is a known error (no stack trace, no "unexpected error"), and names what is wrong.
const directory = mkdtempSync(path.join(os.tmpdir(), 'tally-fuzz-cli-'));
const junk = path.join(directory, 'junk.jsonl');
writeFileSync(junk, Buffer.from([0x7b, 0xff, 0x0a, 0x1b, 0x5b, 0x32, 0x4a, 0x0a]));

const period = fc.oneof(fc.constantFrom(...CLASSIC_PERIODS), fc.string({ maxLength: 9 }));
const filePath = fc.constantFrom(
  'test/fixtures/events/acme-2026-10.jsonl',
  junk,
  directory,
  '/dev/null',
  path.join(directory, 'missing.jsonl'),
  '',
  '-',
  '\u001b[2J',
  'ratecards',
);
const contract = fc.constantFrom('demo/samples/contracts/acme.yaml', junk, directory, '/dev/null', 'ratecards');

const commandLine = fc.oneof(
  fc
    .tuple(fc.constantFrom('ratecards', junk, directory, '/dev/null'), contract, filePath, period)
    .map(([ratecards, contractFile, events, month]) => [
      'rate',
      '--ratecards',
      ratecards,
      '--contract',
      contractFile,
      '--events',
      events,
      '--period',
      month,
    ]),
  fc.tuple(fc.constantFrom('validate'), filePath).map(([command, dir]) => ['ratecards', command, dir]),
  fc.tuple(fc.constantFrom('validate'), contract).map(([command, file]) => ['contracts', command, file]),
);

describe('the tally command line', () => {
  it(
    'offline commands with odd arguments end with a result or a known refusal',
    async () => {
      // Each run starts a process (about half a second): the budget bounds the count, not fast-check's default.
      const runs = Math.max(4, Math.round(fuzzSecondsPerProperty() * 1.5));
      await fc.assert(
        fc.asyncProperty(commandLine, async (args) => {
          const run = await runTally(args);
          expect([0, 1], `${args.join(' ')}\n${run.stderr}`).toContain(run.code);
          expect(run.stderr).not.toContain('unexpected error');
          expect(run.stderr).not.toMatch(/\n\s+at /);
          expect(run.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
          if (run.code === 1) expect(run.stderr.trim().length).toBeGreaterThan(0);
        }),
        fuzzParameters({ numRuns: runs, interruptAfterTimeLimit: undefined }),
      );
    },
    fuzzTestTimeoutMs(3),
  );
});
