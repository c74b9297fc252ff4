import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { secretsInLogs, SUITE_SECRETS } from '../harness/secrets-in-logs.ts';

// The suite ends by grepping every log it wrote for its secrets (test/harness/global-setup.ts); this
// proves the grep finds a leak, names it by file and line, and leaves earlier runs' files alone.

const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-secret-logs-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('the suite-wide secret check', () => {
  it('names every log line of this run that holds a test secret, and nothing else', async () => {
    const since = Date.now() - 1000;
    await writeFile(path.join(directory, 'clean-1.log'), 'sync ok\nrejected: bad_signature (source api-gateway)\n');
    await writeFile(path.join(directory, 'leaky-2.log'), `started\nkey loaded: ${SUITE_SECRETS[0] ?? ''}\n`);
    const old = path.join(directory, 'old-3.log');
    await writeFile(old, `${SUITE_SECRETS[1] ?? ''}\n`);
    await utimes(old, new Date(since - 60_000), new Date(since - 60_000));
    expect(await secretsInLogs(since, SUITE_SECRETS, directory)).toEqual(['leaky-2.log:2']);
  });

  it('knows the signing keys and the console password', () => {
    expect(SUITE_SECRETS).toContain('correct horse battery staple');
    expect(SUITE_SECRETS.filter((secret) => secret.startsWith('test-secret-'))).toHaveLength(4);
  });
});
