import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContractFile, loadRateCard, ParsedTextCache } from './config-files.ts';
import { repositoryRoot } from './services.ts';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'tally-config-files-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('the parse cache of config files', () => {
  it('parses a text once, parses a changed file again, and hands out frozen results', async () => {
    const file = path.join(folder, 'acme.yaml');
    const contract = (commit: string): string =>
      `customer_id: acme\nratecard: standard\ncurrency: USD\ncommit: { amount: "${commit}" }\n`;
    const cache = new ParsedTextCache();
    await writeFile(file, contract('100.00'));
    const first = await loadContractFile(file, cache);
    expect(await loadContractFile(file, cache)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.commit)).toBe(true);
    expect(() => {
      (first.commit as { amount: string }).amount = '1.00';
    }).toThrow(TypeError);

    await writeFile(file, contract('250.00'));
    const changed = await loadContractFile(file, cache);
    expect(changed).not.toBe(first);
    expect(changed.commit?.amount).toBe('250.00');
    // Without a cache every call parses afresh.
    expect(await loadContractFile(file)).not.toBe(await loadContractFile(file));
  });

  it('gives the same rate-card versions with and without the cache', async () => {
    const cache = new ParsedTextCache();
    const root = path.join(repositoryRoot, 'ratecards');
    const cached = await loadRateCard(root, 'standard', cache);
    expect(await loadRateCard(root, 'standard', cache)).toEqual(cached);
    expect(await loadRateCard(root, 'standard')).toEqual(cached);
    expect((await loadRateCard(root, 'standard', cache))[0]).toBe(cached[0]);
  });
});
