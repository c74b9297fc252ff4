import { cp, mkdtemp, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTally } from './run-tally.ts';

/**
 * Bad input through the offline commands (`tally rate`, `tally ratecards validate`), as a careless
 * or hostile user gives it: each answer is a refusal that names the file, the line and the fault,
 * never a crash, a stack trace or a wrong invoice.
 */
const FIXTURE = 'test/fixtures/events/acme-2026-10.jsonl';
const CONTRACT = 'demo/samples/contracts/acme.yaml';

function rate(overrides: { events?: string; period?: string; contract?: string; ratecards?: string } = {}): string[] {
  return [
    'rate',
    '--ratecards',
    overrides.ratecards ?? 'ratecards',
    '--contract',
    overrides.contract ?? CONTRACT,
    '--events',
    overrides.events ?? FIXTURE,
    '--period',
    overrides.period ?? '2026-10',
  ];
}

async function scratch(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'tally-bad-input-'));
}

/** The fixture with its first line replaced by `bytes`. */
async function fixtureWithFirstLine(bytes: Buffer): Promise<string> {
  const lines = (await readFile(FIXTURE)).toString('utf8').split('\n');
  const file = path.join(await scratch(), 'events.jsonl');
  await writeFile(file, Buffer.concat([bytes, Buffer.from(`\n${lines.slice(1).join('\n')}`)]));
  return file;
}

async function firstFixtureLine(): Promise<string> {
  return (await readFile(FIXTURE, 'utf8')).split('\n')[0] as string;
}

function expectKnownRefusal(run: { code: number | null; stderr: string; stdout: string }): void {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).not.toContain('unexpected error');
  expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('tally rate refuses periods outside the years Tally bills', () => {
  it.each(['0000-01', '0026-10', '9999-12', '1999-12'])('--period %s', async (period) => {
    const run = await runTally(rate({ period }));
    expectKnownRefusal(run);
    expect(run.stderr).toContain(`period ${period} is outside the years Tally bills (2000–2199)`);
    expect(run.stderr).not.toContain('RFC 3339');
  });
});

describe('tally rate: event lines that are not what they seem', () => {
  it('refuses invalid UTF-8 as malformed_json at its line and byte, instead of rating U+FFFD', async () => {
    const line = await firstFixtureLine();
    const bad = Buffer.from(line.replace('"region":"us-east-1"', '"region":"us-east-1\u0000"'), 'utf8');
    bad[bad.indexOf(0)] = 0xff; // one byte that is not UTF-8, inside a metadata value
    const events = await fixtureWithFirstLine(bad);
    const run = await runTally(rate({ events }));
    expectKnownRefusal(run);
    expect(run.stderr).toContain(`${events}: 1 bad event line; nothing was rated`);
    expect(run.stderr).toMatch(
      new RegExp(
        `${events}:1 \\(line\\): malformed_json: not valid UTF-8: byte \\d+ of the line starts a bad sequence \\(ff`,
      ),
    );
  });

  it('refuses a line over the limit with file, line and the limit, without reading it (a 600 MB line)', async () => {
    const dir = await scratch();
    const events = path.join(dir, 'huge.jsonl');
    await writeFile(events, `${await firstFixtureLine()}\n`);
    // A sparse file: 600 MB of zero bytes on line 2, no newline, no disk used.
    await truncate(events, 600 * 1024 * 1024);
    const run = await runTally(rate({ events }));
    expectKnownRefusal(run);
    expect(run.stderr).not.toContain('RangeError');
    expect(run.stderr).toMatch(
      new RegExp(
        `${events}:2 \\(line\\): malformed_json: the line is \\d+ bytes, longer than the limit of 1048576 bytes`,
      ),
    );
  }, 60_000);

  it('names a byte-order mark instead of reporting an invisible character', async () => {
    const events = await fixtureWithFirstLine(Buffer.from(`\ufeff${await firstFixtureLine()}`, 'utf8'));
    const run = await runTally(rate({ events }));
    expectKnownRefusal(run);
    expect(run.stderr).toContain(
      `${events}:1 (line): malformed_json: the line starts with a byte-order mark (BOM, U+FEFF)`,
    );
  });

  it('counts one bad line as one, however many of its fields are wrong', async () => {
    const events = await fixtureWithFirstLine(
      Buffer.from(
        JSON.stringify({
          schema_version: 2,
          event_id: '',
          source: 'A B',
          customer_id: '',
          timestamp: 'x',
          unit: '',
          quantity: 1,
          metadata: {},
          signature: 'x',
        }),
      ),
    );
    const run = await runTally(rate({ events }));
    expectKnownRefusal(run);
    expect(run.stderr).toContain(`${events}: 1 bad event line; nothing was rated`);
  });

  it('escapes terminal control sequences that come from the input', async () => {
    // Line 1: raw escape sequences (clear the screen, retitle the window) that JSON.parse echoes in
    // its message; line 2: valid JSON whose unknown field's name decodes to an escape sequence.
    const events = await fixtureWithFirstLine(
      Buffer.from(`\u001b[2J\u001b]0;owned\u0007 {\n${JSON.stringify({ '\u001b[31mred': 1 })}`, 'utf8'),
    );
    const run = await runTally(rate({ events }));
    expectKnownRefusal(run);
    expect(run.stderr).toContain(`${events}: 2 bad event lines`);
    expect(run.stderr).not.toContain('\u001b');
    expect(run.stderr).not.toContain('\u0007');
    expect(run.stderr).toContain(`${events}:1 (line): malformed_json: Unexpected token '\\u{1b}'`);
    expect(run.stderr).toContain(`${events}:2 \\u{1b}[31mred: schema_violation: unknown field`);
  });

  it('says what is wrong with a quantity, not only the rule', async () => {
    const line = await firstFixtureLine();
    const run = await runTally(
      rate({
        events: await fixtureWithFirstLine(Buffer.from(line.replace('"quantity":"600000"', '"quantity":"-600000"'))),
      }),
    );
    expectKnownRefusal(run);
    expect(run.stderr).toContain('quantity: schema_violation: quantity "-600000" has a sign');
    expect(run.stderr).not.toContain('quantity matches');
  });
});

describe('YAML anchors and aliases are refused with file, line and column', () => {
  it('in a rate card', async () => {
    const dir = await scratch();
    await cp('ratecards', path.join(dir, 'ratecards'), { recursive: true });
    const file = path.join(dir, 'ratecards', 'standard', '2026-10-01.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      text
        .replace('{ up_to: "1000", unit_price: "0.010" }', '&first { up_to: "1000", unit_price: "0.010" }')
        .replace('{ up_to: "1000", unit_price: "0.012" }', '*first'),
    );
    const run = await runTally(rate({ ratecards: path.join(dir, 'ratecards') }));
    expectKnownRefusal(run);
    expect(run.stderr).toMatch(new RegExp(`${file}:16:9 \\(yaml\\): anchors and aliases are not allowed`));
    expect(run.stderr).toMatch(new RegExp(`${file}:28:9 \\(yaml\\): anchors and aliases are not allowed`));
  });

  it('in a contract', async () => {
    const contract = path.join(await scratch(), 'acme.yaml');
    await writeFile(contract, (await readFile(CONTRACT, 'utf8')).replace('currency: USD', 'currency: &c USD\nx: *c'));
    const run = await runTally(rate({ contract }));
    expectKnownRefusal(run);
    expect(run.stderr).toMatch(new RegExp(`${contract}:5:11 \\(yaml\\): anchors and aliases are not allowed`));
  });
});

describe('tally ratecards validate reports a bad entry alone', () => {
  it('a dangling symlink among the cards leaves the valid cards valid, in text and --json', async () => {
    const dir = await scratch();
    const root = path.join(dir, 'ratecards');
    await cp('ratecards', root, { recursive: true });
    await symlink(path.join(dir, 'nowhere'), path.join(root, 'broken'));
    const text = await runTally(['ratecards', 'validate', root]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('standard: 2 valid versions');
    expect(text.stdout).toContain('europe: 1 valid version');
    expect(`${text.stdout}${text.stderr}`).toContain(`${path.join(root, 'broken')}:1:1 (file): cannot read: ENOENT`);
    expect(`${text.stdout}${text.stderr}`).not.toContain('not an <effective_from>.yaml');
    expect(`${text.stdout}${text.stderr}`).not.toContain('only <effective_from>.yaml files');
    const json = await runTally(['ratecards', 'validate', root, '--json']);
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      ratecards: { ratecard: string; versions: unknown[] }[];
      problems: { file: string; message: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.ratecards.map((card) => [card.ratecard, card.versions.length])).toEqual(
      expect.arrayContaining([
        ['europe', 1],
        ['standard', 2],
      ]),
    );
    expect(report.problems).toEqual([expect.objectContaining({ file: path.join(root, 'broken') })]);
  });
});

describe('rate cards and contracts have the line limit too', () => {
  it('refuses a contract with a 2 MB line, naming file, line and the limit', async () => {
    const contract = path.join(await scratch(), 'acme.yaml');
    await writeFile(contract, `${await readFile(CONTRACT, 'utf8')}# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    const run = await runTally(rate({ contract }));
    expectKnownRefusal(run);
    expect(run.stderr).toMatch(
      new RegExp(`${contract}:\\d+:1 \\(file\\): the line is \\d+ bytes, longer than the limit of 1048576 bytes`),
    );
  });
});

describe('a malformed amount in a contract is a problem, not a crash (found by the fuzz suite)', () => {
  it('refuses "2.inf000.00" as a credit amount with file, line and field', async () => {
    const contract = path.join(await scratch(), 'acme.yaml');
    await writeFile(contract, (await readFile(CONTRACT, 'utf8')).replace('amount: "2000.00"', 'amount: "2.inf000.00"'));
    const run = await runTally(rate({ contract }));
    expectKnownRefusal(run);
    expect(run.stderr).toMatch(
      new RegExp(`${contract}:\\d+:\\d+ credits\\[1\\]\\.amount: amount must be a non-negative decimal`),
    );
    expect(run.stderr).not.toContain('DecimalError');
    expect(run.stderr).not.toContain('more decimals');
  });
});

describe('tally events amend reads its file like every other input', () => {
  it('refuses a correction file with bad bytes or an over-long line by file and line, before recording anything', async () => {
    const keys = path.join(import.meta.dirname, '..', 'fixtures', 'source-keys.json');
    const dir = await scratch();
    const badBytes = path.join(dir, 'bad-bytes.jsonl');
    await writeFile(
      badBytes,
      Buffer.concat([Buffer.from('{"kind":"void"}\n{"kind":"v'), Buffer.from([0xff]), Buffer.from('"}\n')]),
    );
    // No database is reachable here: the refusal comes before any connection.
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const bytes = await runTally(['events', 'amend', badBytes, '--keys', keys], env);
    expect(bytes.code).not.toBe(0);
    expect(bytes.stderr).toContain(`${badBytes}:2: not valid UTF-8`);
    expect(bytes.stderr).toContain('nothing recorded');

    const long = path.join(dir, 'long.jsonl');
    await writeFile(long, '{"kind":"void"}\n');
    await truncate(long, 16 + 2 * 1024 * 1024);
    const tooLong = await runTally(['events', 'amend', long, '--keys', keys], env);
    expect(tooLong.code).not.toBe(0);
    expect(tooLong.stderr).toMatch(new RegExp(`${long}:2: the line is \\d+ bytes, longer than the limit of \\d+`));
    expect(tooLong.stderr).not.toContain('RangeError');
  });
});
