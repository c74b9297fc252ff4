import { createHash } from 'node:crypto';
import type pg from 'pg';
import type * as Fastify from 'fastify';
import { deleteConsoleSession, findLiveConsoleSession, upsertConsoleSession } from '../db/queries/console-accounts.ts';

/** The session cookie: HttpOnly, SameSite=Strict (server.ts). */
export const SESSION_COOKIE = 'tally_session';

type Callback = (error?: unknown) => void;
type GetCallback = (error: unknown, session?: Fastify.Session | null) => void;

function sessionKey(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('hex');
}

/**
 * @fastify/session's store in Postgres: server-side sessions that every console replica sees,
 * keyed by the sha256 of the session id. A session is stored only once someone signed in (it then
 * has a username). Its expiry is fixed at sign-in (an absolute lifetime, never extended), and a
 * session of a user who was disabled since is not found.
 */
export class PostgresSessionStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ttlMs: number,
  ) {}

  set(sessionId: string, session: Fastify.Session, callback: Callback): void {
    const username = (session as { username?: unknown }).username;
    if (typeof username !== 'string') return void callback();
    const { cookie: _cookie, ...data } = session as unknown as Record<string, unknown>;
    upsertConsoleSession(this.pool, {
      sessionKey: sessionKey(sessionId),
      username,
      data,
      expiresAt: new Date(Date.now() + this.ttlMs).toISOString(),
    }).then(() => callback(), callback);
  }

  get(sessionId: string, callback: GetCallback): void {
    findLiveConsoleSession(this.pool, sessionKey(sessionId)).then(
      (found) =>
        callback(
          null,
          found === undefined
            ? null
            : ({
                ...found.data,
                cookie: { expires: found.expiresAt, originalMaxAge: null },
              } as unknown as Fastify.Session),
        ),
      (error: unknown) => callback(error),
    );
  }

  destroy(sessionId: string, callback: Callback): void {
    deleteConsoleSession(this.pool, sessionKey(sessionId)).then(() => callback(), callback);
  }
}
