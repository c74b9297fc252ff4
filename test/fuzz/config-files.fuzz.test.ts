import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseContractText } from '../../contracts/contract.ts';
import { parseRateCardText } from '../../contracts/ratecard.ts';
import type { ConfigProblem } from '../../contracts/yaml-config.ts';
import { fuzzParameters, fuzzTestTimeoutMs } from './fuzz-budget.ts';

// Rate cards and contracts as finance edits them, broken every way a hand or a tool can break YAML:
// the parser never throws, and every refusal names the file, a line and column inside it, and why.
const RATECARD = readFileSync('ratecards/standard/2026-10-01.yaml', 'utf8');
const CONTRACT = readFileSync('demo/samples/contracts/acme.yaml', 'utf8');

const snippet = fc.oneof(
  fc.string({ maxLength: 12, unit: 'binary' }),
  fc.constantFrom(
    '&a ',
    '*a',
    '<<: *a\n',
    '!!binary ',
    '!!js/function ',
    '? ',
    '- ',
    ': ',
    '\t',
    '\ufeff',
    '\u0000',
    '\u001b[2J',
    '"',
    "'",
    '{',
    '[',
    '|\n',
    '>-\n',
    '---\n',
    '...\n',
    '%YAML 1.1\n',
    '1e400',
    '-0',
    '0x10',
    '.inf',
    '~',
    'null',
    '2026-13-45T99:99:99Z',
    '9999-12-31T23:59:59Z',
    '0026-10-01T00:00:00Z',
    '"-1.00"',
    '"1e3"',
    '['.repeat(3000) + ']'.repeat(3000),
    '{a: '.repeat(2000) + '1' + '}'.repeat(2000),
  ),
);

/** A real file with a few edits: cuts, insertions, a line duplicated (a duplicate key), a line swapped. */
function edited(base: string): fc.Arbitrary<string> {
  const edit = fc.oneof(
    fc.tuple(fc.constant('insert' as const), fc.nat(), snippet),
    fc.tuple(fc.constant('cut' as const), fc.nat(), fc.nat({ max: 40 })),
    fc.tuple(fc.constant('duplicate-line' as const), fc.nat(), fc.constant('')),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let text = base;
    for (const [kind, at, argument] of edits) {
      const index = at % (text.length + 1);
      if (kind === 'insert') text = text.slice(0, index) + argument + text.slice(index);
      else if (kind === 'cut') text = text.slice(0, index) + text.slice(index + Number(argument));
      else {
        const lines = text.split('\n');
        const line = at % lines.length;
        lines.splice(line, 0, lines[line] ?? '');
        text = lines.join('\n');
      }
    }
    return text;
  });
}

function expectPlaceableProblems(problems: readonly ConfigProblem[], file: string, text: string): void {
  expect(problems.length).toBeGreaterThan(0);
  const lines = text.split('\n').length;
  for (const problem of problems) {
    expect(problem.file).toBe(file);
    expect(problem.line).toBeGreaterThanOrEqual(1);
    expect(problem.line).toBeLessThanOrEqual(lines + 1);
    expect(problem.column).toBeGreaterThanOrEqual(1);
    expect(problem.field.length).toBeGreaterThan(0);
    expect(problem.message.trim().length).toBeGreaterThan(0);
  }
}

describe('rate cards and contracts', () => {
  it(
    'a rate card, edited at random: valid, or refused with file, line, column and reason',
    () => {
      fc.assert(
        fc.property(fc.oneof(edited(RATECARD), fc.string({ maxLength: 300 })), (text) => {
          const parsed = parseRateCardText(text, 'ratecards/standard/2026-10-01.yaml');
          if (!parsed.ok) expectPlaceableProblems(parsed.problems, 'ratecards/standard/2026-10-01.yaml', text);
        }),
        // Found by this property: a key with no name was reported with an empty field.
        fuzzParameters({ examples: [[':'], ['?']] }),
      );
    },
    fuzzTestTimeoutMs(),
  );

  it(
    'a contract, edited at random: valid, or refused with file, line, column and reason',
    () => {
      fc.assert(
        fc.property(fc.oneof(edited(CONTRACT), fc.string({ maxLength: 300 })), (text) => {
          const parsed = parseContractText(text, 'contracts/acme.yaml');
          if (!parsed.ok) expectPlaceableProblems(parsed.problems, 'contracts/acme.yaml', text);
        }),
        // Found by this property: "2.inf000.00" as an amount threw a DecimalError; a nameless key.
        fuzzParameters({
          examples: [[':'], [CONTRACT.replace('amount: "2000.00"', 'amount: "2.inf000.00"')]],
        }),
      );
    },
    fuzzTestTimeoutMs(),
  );

  it(
    'refuses anchors and aliases wherever they are written',
    () => {
      fc.assert(
        fc.property(fc.nat(), fc.stringMatching(/^[a-z]{1,8}$/), (at, name) => {
          const lines = CONTRACT.split('\n');
          const index = at % lines.length;
          const line = lines[index] as string;
          const colon = line.indexOf(': ');
          fc.pre(colon > 0 && !line.trimStart().startsWith('#') && !line.trimStart().startsWith('-'));
          lines[index] = `${line.slice(0, colon + 2)}&${name} ${line.slice(colon + 2)}`;
          const text = lines.join('\n');
          const parsed = parseContractText(text, 'contracts/acme.yaml');
          expect(parsed.ok).toBe(false);
          if (parsed.ok) return;
          expect(parsed.problems).toContainEqual(
            expect.objectContaining({
              line: index + 1,
              column: colon + 3,
              message: expect.stringContaining('anchors and aliases are not allowed'),
            }),
          );
        }),
        fuzzParameters(),
      );
    },
    fuzzTestTimeoutMs(),
  );
});
