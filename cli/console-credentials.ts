import type pg from 'pg';
import { AccessError, authenticatePassword, authenticateToken, type AuthenticatedUser } from '../access/index.ts';
import { parseConsoleCredentialsEnv } from '../config/console.ts';

/**
 * The CLI acts as a console user, never under a typed-in name: with a personal token in
 * TALLY_USER_TOKEN (`tally users token NAME`), or as `--as NAME` with that user's password (read from
 * stdin, or asked for without echo on a terminal). Throttling and lockout apply as in the console.
 */
export async function authenticateCliUser(pool: pg.Pool, options: { as?: string }): Promise<AuthenticatedUser> {
  const { token } = parseConsoleCredentialsEnv();
  if (options.as === undefined) {
    if (token === undefined)
      throw new AccessError(
        'unauthenticated',
        'decide as a console user: set TALLY_USER_TOKEN (from `tally users token NAME`) or pass --as NAME and give the password',
      );
    return authenticateToken(pool, token);
  }
  const password = await readSecret(`password for ${options.as}: `);
  return authenticatePassword(pool, { username: options.as, password, from: 'cli' });
}

/** A secret from stdin (piped: the first line), or typed on a terminal without echo. */
export async function readSecret(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of input) chunks.push(chunk as Buffer);
    return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trimEnd();
  }
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: Buffer) => {
        for (const character of chunk.toString('utf8')) {
          if (character === '\r' || character === '\n') {
            input.off('data', onData);
            process.stderr.write('\n');
            return resolve(typed);
          }
          if (character === '\u0003') {
            input.off('data', onData);
            return reject(new AccessError('bad_request', 'interrupted'));
          }
          if (character === '\u007f' || character === '\b') typed = typed.slice(0, -1);
          else typed += character;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}
