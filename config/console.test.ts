import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './parse-env.ts';
import { parseConsoleEnv } from './console.ts';

// The console signs its session cookies with this secret: one read from a file is held to the same
// rule as one given in the environment (at least 32 characters), and its content is never printed.
const folder = mkdtempSync(path.join(tmpdir(), 'tally-console-secret-'));
function secretFile(name: string, content: string): string {
  const file = path.join(folder, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}
const base = { DATABASE_URL: 'postgres://tally@127.0.0.1:5432/tally' };

describe('the console session secret', () => {
  it('is read from a file of at least 32 characters', () => {
    const secret = 'x'.repeat(40);
    const settings = parseConsoleEnv({ ...base, TALLY_CONSOLE_SESSION_SECRET_FILE: secretFile('good', `${secret}\n`) });
    expect(settings.sessionSecret).toBe(secret);
  });

  it.each([
    ['an empty file', 'empty', '\n'],
    ['a short file', 'short', 'hunter2-hunter2'],
  ])('refuses %s, naming the variable and never the content', (_, name, content) => {
    const file = secretFile(name, content);
    let thrown: unknown;
    try {
      parseConsoleEnv({ ...base, TALLY_CONSOLE_SESSION_SECRET_FILE: file });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const message = (thrown as Error).message;
    expect(message).toContain('TALLY_CONSOLE_SESSION_SECRET_FILE');
    expect(message).toContain('at least 32 characters');
    if (content.trim() !== '') expect(message).not.toContain(content.trim());
  });
});
