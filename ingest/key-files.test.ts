import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyFileError, loadSourceKeys } from './key-files.ts';

describe('key files', () => {
  it('says where a key file is not JSON without quoting any of its text (it holds secrets)', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-keys-'));
    const file = path.join(directory, 'keys.json');
    await writeFile(file, '{\n  "api": supersecret-0123456789abcdef\n}\n');
    const error = await loadSourceKeys(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KeyFileError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON at line 2, column 10`),
    );
    expect((error as Error).message).not.toContain('supersecret');
  });

  it('names the source whose secret is too short, never the secret', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-keys-'));
    const file = path.join(directory, 'keys.json');
    await writeFile(file, JSON.stringify({ api: 'short-secret' }));
    const error = await loadSourceKeys(file).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain('api: a signing secret has at least 16 characters');
    expect((error as Error).message).not.toContain('short-secret');
  });
});
