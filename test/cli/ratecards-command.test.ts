import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { testPool, testStack } from '../harness/services.ts';
import { runTally } from './run-tally.ts';

const V1 = 'ratecards/standard/2026-10-01.yaml';
const V2 = 'ratecards/standard/2026-10-16.yaml';

describe('tally ratecards validate', () => {
  it('accepts the sample rate cards (CI validates ratecards/ through this test)', async () => {
    const run = await runTally(['ratecards', 'validate']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('standard: 2 valid versions (2026-10-01T00:00:00.000Z, 2026-10-16T00:00:00.000Z)');
    expect(run.stdout).toContain('europe: 1 valid version');
  });

  it('lists every problem with file:line field and exits non-zero', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tally-validate-'));
    await cp('ratecards', dir, { recursive: true });
    const broken = path.join(dir, 'standard', '2026-10-16.yaml');
    await writeFile(
      broken,
      (await readFile(broken, 'utf8'))
        .replace('applies_to: [tokens-us, tokens-eu]', 'applies_to: [tokens-us, tokens-asia]')
        .replace(
          'unit: GB-month\n    dimensions: { region: us-east-1 }',
          'unit: GB\n    dimensions: { region: us-east-1 }',
        ),
    );
    await writeFile(
      path.join(dir, 'europe', '2026-11-01.yaml'),
      await readFile(path.join(dir, 'europe', '2026-10-01.yaml'), 'utf8'),
    );
    const run = await runTally(['ratecards', 'validate', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${broken}:87:101 discounts[0].applies_to[1]: unknown price id "tokens-asia"`);
    expect(run.stderr).toContain(
      `${broken}:41:11 prices[3].unit: sku storage.gb is priced in "GB" by prices[2] but in "GB-month" here; one sku has one unit`,
    );
    expect(run.stderr).toContain(
      `${path.join(dir, 'europe', '2026-11-01.yaml')}:2:17 effective_from: the file name says "2026-11-01" but effective_from is 2026-10-01T00:00:00.000Z`,
    );
    expect(run.stderr).toMatch(/tally: \d+ problems in /);
  });
});

describe('tally ratecards diff', () => {
  it('says in words what the mid-October version changes', async () => {
    const run = await runTally(['ratecards', 'diff', V1, V2]);
    expect(run.code).toBe(0);
    // Every price names its currency (each side its own version's), at least in its minor digits.
    expect(run.stdout).toMatch(
      /^standard in USD \(in force from 2026-10-01T00:00:00.000Z\) → standard in USD \(in force from 2026-10-16T00:00:00.000Z\)\n/,
    );
    expect(run.stdout).toContain('  price tokens-us:\n    tier 1 (up to 1000): unit price 0.01 USD → 0.009 USD');
    expect(run.stdout).toContain('  price jobs:\n    tier 1 (up to 100): unit price 0.50 USD → 0.45 USD');
    expect(run.stdout).not.toContain('price storage-us');
  });

  it('names the currency of a fee written as a whole amount, and shows it in the minor digits (450 → 450.00 USD)', async () => {
    const folder = path.join(await mkdtemp(path.join(os.tmpdir(), 'tally-diff-')), 'standard');
    await mkdir(folder);
    const proposed = path.join(folder, '2026-11-01.yaml');
    await writeFile(
      proposed,
      (await readFile(V2, 'utf8'))
        .replace('effective_from: 2026-10-16T00:00:00Z', 'effective_from: 2026-11-01T00:00:00Z')
        .replace('amount: "500.00"', 'amount: "450"'),
    );
    const run = await runTally(['ratecards', 'diff', V2, proposed]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('  fee platform:\n    amount 500.00 USD → 450.00 USD per period\n');
    const json = JSON.parse((await runTally(['ratecards', 'diff', V2, proposed, '--json'])).stdout) as {
      changes: { subject: string; change: string; text: string }[];
    };
    expect(json.changes).toContainEqual({
      subject: 'fee platform',
      change: 'changed',
      text: 'amount 500.00 USD → 450.00 USD per period',
    });
  });

  it("re-rates a customer's period with each version and prints the difference per line", async () => {
    const preview = [
      '--contract',
      'demo/samples/contracts/acme.yaml',
      '--events',
      'test/fixtures/events/acme-2026-10.jsonl',
      '--period',
      '2026-10',
    ];
    const run = await runTally(['ratecards', 'diff', V1, V2, ...preview, '--json']);
    expect(run.code).toBe(0);
    const diff = JSON.parse(run.stdout) as {
      invoice_difference: { lines: { line_key: string; before: string; after: string; difference: string }[] };
    };
    const tokens = diff.invoice_difference.lines.find((line) => line.line_key === 'usage:tokens-us');
    // 2000 packages: v1 all month 1000 × 0.010 + 1000 × 0.008 = 18.00; v2 all month 1000 × 0.009 + 1000 × 0.007 = 16.00
    expect(tokens).toEqual({ line_key: 'usage:tokens-us', before: '18.00', after: '16.00', difference: '-2.00' });
    expect(diff.invoice_difference.lines.find((line) => line.line_key === 'usage:jobs')).toEqual({
      line_key: 'usage:jobs',
      before: '1.50',
      after: '1.35',
      difference: '-0.15',
    });
    // As a table: one currency, named in each amount column's heading.
    const table = await runTally(['ratecards', 'diff', V1, V2, ...preview]);
    expect(table.stdout).toMatch(/\n\s*LINE\s+BEFORE USD\s+AFTER USD\s+CHANGE USD\n/);
    expect(table.stdout).toMatch(/\n\s*usage:tokens-us\s+18\.00\s+16\.00\s+-2\.00\n/);
  });
});

describe('tally ratecards publish and history (Postgres)', () => {
  const pool = testPool(1);
  afterAll(async () => {
    await pool.end();
  });
  const { endpoints } = testStack();
  const env = {
    DATABASE_URL: endpoints.databaseUrl,
    NATS_URL: endpoints.natsUrl,
    TEMPORAL_ADDRESS: endpoints.temporalAddress,
  };

  it('records each version once, is a no-op for the identical file, refuses a changed one, and lists the log', async () => {
    const name = `published-${process.pid}-${Date.now() % 1_000_000}`;
    const root = await mkdtemp(path.join(os.tmpdir(), 'tally-publish-'));
    const folder = path.join(root, name);
    await mkdir(folder);
    const first = path.join(folder, '2026-10-01.yaml');
    const second = path.join(folder, '2026-10-16.yaml');
    const rename = (text: string): string => text.replace('ratecard: standard', `ratecard: ${name}`);
    await writeFile(first, rename(await readFile(V1, 'utf8')));
    const firstHash = createHash('sha256')
      .update(await readFile(first))
      .digest('hex');

    const published = await runTally(['ratecards', 'publish', first, '--by', 'finance@example.com'], env);
    expect(published.stderr).toBe('');
    expect(published.code).toBe(0);
    expect(published.stdout).toContain(
      `published ${name} (in force from 2026-10-01T00:00:00.000Z) (sha256 ${firstHash}) by finance@example.com`,
    );

    const again = await runTally(['ratecards', 'publish', first], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('is already published with this content');

    await writeFile(first, rename(await readFile(V1, 'utf8')).replace('amount: "500.00"', 'amount: "550.00"'));
    const changed = await runTally(['ratecards', 'publish', first], env);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain(`was published on`);
    expect(changed.stderr).toContain(
      'A published version is never edited: put the change in a new file with a later effective_from.',
    );
    await writeFile(first, rename(await readFile(V1, 'utf8')));

    await writeFile(second, rename(await readFile(V2, 'utf8')));
    const superseded = await runTally(
      [
        'ratecards',
        'publish',
        second,
        '--note',
        'Mid-October cut, approved by the pricing committee',
        '--by',
        'finance@example.com',
      ],
      env,
    );
    expect(superseded.code).toBe(0);

    const history = await runTally(['ratecards', 'history', name, '--json'], env);
    expect(history.code).toBe(0);
    const rows = JSON.parse(history.stdout) as {
      ratecard: string;
      effectiveFrom: string;
      contentHash: string;
      note: string;
      publishedBy: string;
      fileName: string;
    }[];
    expect(rows.map((row) => [row.effectiveFrom, row.note, row.publishedBy, row.fileName])).toEqual([
      ['2026-10-01T00:00:00.000Z', 'Launch prices for Q4 2026', 'finance@example.com', `${name}/2026-10-01.yaml`],
      [
        '2026-10-16T00:00:00.000Z',
        'Mid-October cut, approved by the pricing committee',
        'finance@example.com',
        `${name}/2026-10-16.yaml`,
      ],
    ]);
    expect(rows[0]?.contentHash).toBe(firstHash);
    const table = await runTally(['ratecards', 'history', name], env);
    expect(table.stdout).toContain(
      `${name}  in force from 2026-10-16T00:00:00.000Z  sha256 ${rows[1]?.contentHash.slice(0, 12)}  by finance@example.com  — Mid-October cut`,
    );

    // Each publication (not the no-op repeat, not the refused change) is in the audit log.
    const audited = await pool.query<{ subject: string; details: { content_hash: string; published_by: string } }>(
      `SELECT subject, details FROM audit_log WHERE action = 'ratecard_published' AND subject LIKE $1 ORDER BY seq`,
      [`ratecard:${name}@%`],
    );
    expect(audited.rows).toEqual([
      {
        subject: `ratecard:${name}@2026-10-01T00:00:00.000Z`,
        details: expect.objectContaining({ content_hash: firstHash, published_by: 'finance@example.com' }),
      },
      {
        subject: `ratecard:${name}@2026-10-16T00:00:00.000Z`,
        details: expect.objectContaining({ published_by: 'finance@example.com' }),
      },
    ]);

    // The log is append-only in the database itself, not only in the command.
    await expect(
      pool.query('UPDATE ratecard_publications SET note = $1 WHERE ratecard = $2', ['edited', name]),
    ).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM ratecard_publications WHERE ratecard = $1', [name])).rejects.toThrow(
      /append-only/,
    );
    const { rows: stored } = await pool.query<{ content: string }>(
      'SELECT content FROM ratecard_publications WHERE ratecard = $1 ORDER BY effective_from',
      [name],
    );
    expect(
      createHash('sha256')
        .update(stored[0]?.content ?? '', 'utf8')
        .digest('hex'),
    ).toBe(firstHash);
  });

  it('publishes nothing from a folder with an invalid version', async () => {
    const name = `invalid-${process.pid}-${Date.now() % 1_000_000}`;
    const folder = path.join(await mkdtemp(path.join(os.tmpdir(), 'tally-publish-')), name);
    await mkdir(folder);
    const text = (await readFile(V1, 'utf8')).replace('ratecard: standard', `ratecard: ${name}`);
    await writeFile(path.join(folder, '2026-10-01.yaml'), text);
    await writeFile(
      path.join(folder, '2026-10-16.yaml'),
      text
        .replace('effective_from: 2026-10-01T00:00:00Z', 'effective_from: 2026-10-16T00:00:00Z')
        .replace('currency: USD', 'currency: EUR'),
    );
    const run = await runTally(['ratecards', 'publish', path.join(folder, '2026-10-01.yaml')], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`nothing published: rate card ${name} is invalid`);
    expect(run.stderr).toContain('currency: the currency of a rate card cannot change between versions');
    const { rows } = await pool.query('SELECT 1 FROM ratecard_publications WHERE ratecard = $1', [name]);
    expect(rows).toEqual([]);
  });
});
