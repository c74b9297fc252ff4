import type pg from 'pg';
import type { Role } from '../../contracts/console-api.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export interface ConsoleUserRecord {
  readonly username: string;
  readonly role: Role;
  readonly passwordHash: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly disabledAt: string | undefined;
  readonly failedLogins: number;
  readonly lastFailedAt: string | undefined;
  readonly lockedUntil: string | undefined;
  readonly lastLoginAt: string | undefined;
}

interface UserRow {
  username: string;
  role: Role;
  password_hash: string;
  created_at: Date;
  created_by: string;
  disabled_at: Date | null;
  failed_logins: number;
  last_failed_at: Date | null;
  locked_until: Date | null;
  last_login_at: Date | null;
}

function userRowToRecord(row: UserRow): ConsoleUserRecord {
  return {
    username: row.username,
    role: row.role,
    passwordHash: row.password_hash,
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    disabledAt: row.disabled_at?.toISOString(),
    failedLogins: row.failed_logins,
    lastFailedAt: row.last_failed_at?.toISOString(),
    lockedUntil: row.locked_until?.toISOString(),
    lastLoginAt: row.last_login_at?.toISOString(),
  };
}

/** Inserts a user; false when the name is taken. */
export async function insertConsoleUser(
  db: Queryable,
  user: { username: string; role: Role; passwordHash: string; createdBy: string },
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO console_users (username, role, password_hash, created_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (username) DO NOTHING`,
    [user.username, user.role, user.passwordHash, user.createdBy],
  );
  return result.rowCount === 1;
}

export async function findConsoleUser(db: Queryable, username: string): Promise<ConsoleUserRecord | undefined> {
  const { rows } = await db.query<UserRow>('SELECT * FROM console_users WHERE username = $1', [username]);
  return rows[0] === undefined ? undefined : userRowToRecord(rows[0]);
}

/** The user row locked for the caller's transaction (login bookkeeping). */
export async function lockConsoleUser(client: pg.PoolClient, username: string): Promise<ConsoleUserRecord | undefined> {
  const { rows } = await client.query<UserRow>('SELECT * FROM console_users WHERE username = $1 FOR UPDATE', [
    username,
  ]);
  return rows[0] === undefined ? undefined : userRowToRecord(rows[0]);
}

export async function listConsoleUsers(db: Queryable): Promise<ConsoleUserRecord[]> {
  const { rows } = await db.query<UserRow>('SELECT * FROM console_users ORDER BY username');
  return rows.map(userRowToRecord);
}

export async function recordLoginFailure(
  db: Queryable,
  username: string,
  state: { failedLogins: number; lastFailedAt: string; lockedUntil: string | undefined },
): Promise<void> {
  await db.query(
    'UPDATE console_users SET failed_logins = $2, last_failed_at = $3, locked_until = $4 WHERE username = $1',
    [username, state.failedLogins, state.lastFailedAt, state.lockedUntil ?? null],
  );
}

export async function recordLoginSuccess(db: Queryable, username: string, at: string): Promise<void> {
  await db.query(
    'UPDATE console_users SET failed_logins = 0, last_failed_at = NULL, locked_until = NULL, last_login_at = $2 WHERE username = $1',
    [username, at],
  );
}

/** Disables a user (never deleted: decisions and the audit log name them); false when unknown or already disabled. */
export async function disableConsoleUser(db: Queryable, username: string, by: string): Promise<boolean> {
  const result = await db.query(
    'UPDATE console_users SET disabled_at = now(), disabled_by = $2 WHERE username = $1 AND disabled_at IS NULL',
    [username, by],
  );
  return result.rowCount === 1;
}

export async function unlockConsoleUser(db: Queryable, username: string): Promise<boolean> {
  const result = await db.query(
    'UPDATE console_users SET failed_logins = 0, last_failed_at = NULL, locked_until = NULL WHERE username = $1',
    [username],
  );
  return result.rowCount === 1;
}

export interface ConsoleSessionRecord {
  readonly username: string;
  readonly data: Record<string, unknown>;
  readonly expiresAt: string;
}

/** Stores a session; a later save changes its data, never its expiry (fixed when it was first stored). */
export async function upsertConsoleSession(
  db: Queryable,
  session: { sessionKey: string; username: string; data: Record<string, unknown>; expiresAt: string },
): Promise<void> {
  await db.query(
    `INSERT INTO console_sessions (session_key, username, data, expires_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (session_key) DO UPDATE SET data = EXCLUDED.data`,
    [session.sessionKey, session.username, JSON.stringify(session.data), session.expiresAt],
  );
}

/** A session that has not expired, of a user who is not disabled. */
export async function findLiveConsoleSession(
  db: Queryable,
  sessionKey: string,
): Promise<ConsoleSessionRecord | undefined> {
  const { rows } = await db.query<{ username: string; data: Record<string, unknown>; expires_at: Date }>(
    `SELECT s.username, s.data, s.expires_at FROM console_sessions s JOIN console_users u USING (username)
      WHERE s.session_key = $1 AND s.expires_at > now() AND u.disabled_at IS NULL`,
    [sessionKey],
  );
  const row = rows[0];
  return row === undefined
    ? undefined
    : { username: row.username, data: row.data, expiresAt: row.expires_at.toISOString() };
}

export async function deleteConsoleSession(db: Queryable, sessionKey: string): Promise<void> {
  await db.query('DELETE FROM console_sessions WHERE session_key = $1', [sessionKey]);
}

export async function deleteSessionsOfUser(db: Queryable, username: string): Promise<number> {
  const result = await db.query('DELETE FROM console_sessions WHERE username = $1', [username]);
  return result.rowCount ?? 0;
}

export async function deleteExpiredConsoleSessions(db: Queryable): Promise<number> {
  const result = await db.query('DELETE FROM console_sessions WHERE expires_at <= now()');
  return result.rowCount ?? 0;
}

export async function insertConsoleToken(
  db: Queryable,
  token: { tokenHash: string; tokenId: string; username: string; expiresAt: string },
): Promise<void> {
  await db.query('INSERT INTO console_tokens (token_hash, token_id, username, expires_at) VALUES ($1, $2, $3, $4)', [
    token.tokenHash,
    token.tokenId,
    token.username,
    token.expiresAt,
  ]);
}

/** The user a live token belongs to (not expired, not revoked, user not disabled); marks it used. */
export async function useConsoleToken(
  db: Queryable,
  tokenHash: string,
): Promise<{ tokenId: string; user: ConsoleUserRecord } | undefined> {
  const { rows } = await db.query<UserRow & { token_id: string }>(
    `WITH used AS (
       UPDATE console_tokens SET last_used_at = now()
        WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
        RETURNING token_id, username)
     SELECT used.token_id, u.* FROM used JOIN console_users u USING (username) WHERE u.disabled_at IS NULL`,
    [tokenHash],
  );
  const row = rows[0];
  return row === undefined ? undefined : { tokenId: row.token_id, user: userRowToRecord(row) };
}

export async function revokeTokensOfUser(db: Queryable, username: string): Promise<number> {
  const result = await db.query(
    'UPDATE console_tokens SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL',
    [username],
  );
  return result.rowCount ?? 0;
}

/** A setting shared by the console's replicas: the first writer's value stands. */
export async function settingOrInsert(db: Queryable, name: string, value: string): Promise<string> {
  await db.query('INSERT INTO console_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
    name,
    value,
  ]);
  const { rows } = await db.query<{ value: string }>('SELECT value FROM console_settings WHERE name = $1', [name]);
  if (rows[0] === undefined) throw new Error(`console setting ${name} vanished after insert`);
  return rows[0].value;
}
