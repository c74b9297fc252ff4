import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { PasswordSchema, RoleSchema, UsernameSchema, type Role } from '../contracts/console-api.ts';
import type { AuditActor } from '../contracts/audit-entry.ts';
import { withTransaction } from '../db/pool.ts';
import { appendAuditEntry, recordAudit } from '../db/queries/audit-log.ts';
import {
  deleteSessionsOfUser,
  disableConsoleUser,
  findConsoleUser,
  insertConsoleToken,
  insertConsoleUser,
  listConsoleUsers,
  lockConsoleUser,
  recordLoginFailure,
  recordLoginSuccess,
  revokeTokensOfUser,
  unlockConsoleUser,
  useConsoleToken,
  type ConsoleUserRecord,
} from '../db/queries/console-accounts.ts';
import {
  afterFailedLogin,
  DEFAULT_LOGIN_THROTTLE,
  loginGate,
  type LoginThrottlePolicy,
} from '../domain/access/login-throttle.ts';
import { leastRoleFor, mayAct, type Permission } from '../domain/access/roles.ts';
import { AccessError } from './access-errors.ts';
import { generatePassword, hashPassword, spendVerification, verifyPassword } from './passwords.ts';

const AUTHENTICATED: unique symbol = Symbol('authenticated');

/**
 * A person the console or the CLI has authenticated (password, session or personal token). Only
 * this module makes one, so every decision and audit entry names someone who proved who they are:
 * there is no way to type a name in.
 */
export interface AuthenticatedUser {
  readonly username: string;
  readonly role: Role;
  readonly via: 'password' | 'session' | 'token';
  readonly [AUTHENTICATED]: true;
}

function authenticated(
  user: Pick<ConsoleUserRecord, 'username' | 'role'>,
  via: AuthenticatedUser['via'],
): AuthenticatedUser {
  return { username: user.username, role: user.role, via, [AUTHENTICATED]: true };
}

export function auditActorOf(user: AuthenticatedUser): AuditActor {
  return { kind: 'user', name: user.username };
}

/** Refuses (403) a user whose role may not do this; names the least role that may. */
export function requirePermission(user: AuthenticatedUser, permission: Permission, what: string): void {
  if (!mayAct(user.role, permission))
    throw new AccessError(
      'forbidden',
      `${user.username} (${user.role}) may not ${what}: that needs the ${leastRoleFor(permission)} role`,
    );
}

/** A session's user, re-read on every request so that a disabled user or a changed role applies at once. */
export async function userOfSession(pool: pg.Pool, username: string): Promise<AuthenticatedUser | undefined> {
  const user = await findConsoleUser(pool, username);
  if (user === undefined || user.disabledAt !== undefined) return undefined;
  return authenticated(user, 'session');
}

/**
 * Checks a password with throttling (domain/access/login-throttle.ts): attempts that come too soon
 * after failures are refused before the hash is even checked (429), and the account locks after
 * repeated failures (423). Every outcome is audited. The failure bookkeeping commits even though
 * the login fails.
 */
export async function authenticatePassword(
  pool: pg.Pool,
  attempt: { username: string; password: string; from?: string },
  policy: LoginThrottlePolicy = DEFAULT_LOGIN_THROTTLE,
): Promise<AuthenticatedUser> {
  const outcome = await withTransaction(pool, async (client) => {
    const named = UsernameSchema.safeParse(attempt.username);
    const user = named.success ? await lockConsoleUser(client, named.data) : undefined;
    const audit = (action: string, details: Record<string, string | number | boolean>) =>
      appendAuditEntry(client, {
        actor: { kind: 'user', name: named.success ? named.data : '(invalid name)' },
        action,
        subject: `user:${named.success ? named.data : '(invalid name)'}`,
        details: { ...details, ...(attempt.from ? { from: attempt.from } : {}) },
      });
    if (user === undefined || user.disabledAt !== undefined) {
      await spendVerification(attempt.password);
      await audit('login_failed', { reason: user === undefined ? 'unknown_user' : 'disabled' });
      return { kind: 'invalid' as const };
    }
    const nowMs = Date.now();
    const state = {
      failedLogins: user.failedLogins,
      lastFailedAtMs: user.lastFailedAt === undefined ? undefined : Date.parse(user.lastFailedAt),
      lockedUntilMs: user.lockedUntil === undefined ? undefined : Date.parse(user.lockedUntil),
    };
    const gate = loginGate(state, nowMs, policy);
    if (gate.verdict !== 'allow') {
      await audit('login_failed', { reason: gate.verdict, retry_after_ms: Math.ceil(gate.retryAfterMs) });
      return { kind: gate.verdict, retryAfterMs: gate.retryAfterMs };
    }
    if (!(await verifyPassword(user.passwordHash, attempt.password))) {
      // The wait runs from the failure's answer, not its arrival: a slow hash does not use it up.
      const failedAtMs = Date.now();
      const next = afterFailedLogin(state, failedAtMs, policy);
      await recordLoginFailure(client, user.username, {
        failedLogins: next.failedLogins,
        lastFailedAt: new Date(failedAtMs).toISOString(),
        lockedUntil: next.lockedUntilMs === undefined ? undefined : new Date(next.lockedUntilMs).toISOString(),
      });
      await audit('login_failed', { reason: 'wrong_password', failed_logins: next.failedLogins });
      if (next.lockedNow) {
        await audit('login_locked_out', {
          failed_logins: next.failedLogins,
          locked_until: new Date(next.lockedUntilMs ?? nowMs).toISOString(),
        });
        return { kind: 'locked' as const, retryAfterMs: policy.lockoutMs };
      }
      return { kind: 'invalid' as const };
    }
    await recordLoginSuccess(client, user.username, new Date(nowMs).toISOString());
    await audit('login_succeeded', {});
    return { kind: 'ok' as const, user };
  });
  switch (outcome.kind) {
    case 'ok':
      return authenticated(outcome.user, 'password');
    case 'invalid':
      throw new AccessError('invalid_credentials', 'wrong username or password');
    case 'slow_down':
      throw new AccessError(
        'login_throttled',
        `too many failed logins: try again in ${Math.ceil(outcome.retryAfterMs / 1000)} s`,
        outcome.retryAfterMs,
      );
    case 'locked':
      throw new AccessError(
        'account_locked',
        `this account is locked after repeated failed logins: try again in ${Math.ceil(outcome.retryAfterMs / 60_000)} min or ask an admin (tally users unlock)`,
        outcome.retryAfterMs,
      );
  }
}

const TOKEN_PATTERN = /^tly_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A personal token's user (401 when it is unknown, expired, revoked or its user disabled). */
export async function authenticateToken(pool: pg.Pool, token: string): Promise<AuthenticatedUser> {
  if (!TOKEN_PATTERN.test(token)) throw new AccessError('unauthenticated', 'not a Tally personal token');
  const found = await useConsoleToken(pool, tokenHash(token));
  if (found === undefined) throw new AccessError('unauthenticated', 'the token is unknown, expired or revoked');
  return authenticated(found.user, 'token');
}

/** Issues a personal token for an authenticated user (shown once; only its hash is kept). */
export async function issueToken(
  pool: pg.Pool,
  user: AuthenticatedUser,
  validDays: number,
): Promise<{ token: string; tokenId: string; expiresAt: string }> {
  const tokenId = randomBytes(4).toString('hex');
  const token = `tly_${tokenId}_${randomBytes(32).toString('base64url')}`;
  const expiresAt = new Date(Date.now() + validDays * 86_400_000).toISOString();
  await withTransaction(pool, async (client) => {
    await insertConsoleToken(client, { tokenHash: tokenHash(token), tokenId, username: user.username, expiresAt });
    await appendAuditEntry(client, {
      actor: auditActorOf(user),
      action: 'token_issued',
      subject: `user:${user.username}`,
      details: { token_id: tokenId, expires_at: expiresAt },
    });
  });
  return { token, tokenId, expiresAt };
}

/**
 * Who manages accounts: an admin in the console, or the operator at the CLI, who already holds the
 * database's credentials (named as a process in the audit log, e.g. `cli:root`).
 */
export type AccountManager = { readonly user: AuthenticatedUser } | { readonly operator: string };

function managerActor(manager: AccountManager): AuditActor {
  if ('user' in manager) {
    requirePermission(manager.user, 'manage_users', 'manage users');
    return auditActorOf(manager.user);
  }
  return { kind: 'process', name: manager.operator };
}

/** Adds a user; without a password one is generated and returned (to be shown once). */
export async function addUser(
  pool: pg.Pool,
  manager: AccountManager,
  input: { username: string; role: string; password?: string },
): Promise<{ username: string; role: Role; generatedPassword: string | undefined }> {
  const actor = managerActor(manager);
  const username = parseOr(UsernameSchema, input.username, 'username');
  const role = parseOr(RoleSchema, input.role, 'role');
  const password =
    input.password === undefined ? generatePassword() : parseOr(PasswordSchema, input.password, 'password');
  const passwordHash = await hashPassword(password);
  await withTransaction(pool, async (client) => {
    if (!(await insertConsoleUser(client, { username, role, passwordHash, createdBy: actor.name })))
      throw new AccessError('user_exists', `user ${username} exists already`);
    await appendAuditEntry(client, { actor, action: 'user_added', subject: `user:${username}`, details: { role } });
  });
  return { username, role, generatedPassword: input.password === undefined ? password : undefined };
}

/** Disables a user: their sessions end and their tokens are revoked at once. Users are never deleted. */
export async function disableUser(pool: pg.Pool, manager: AccountManager, username: string): Promise<void> {
  const actor = managerActor(manager);
  await withTransaction(pool, async (client) => {
    if (!(await disableConsoleUser(client, username, actor.name))) {
      const user = await findConsoleUser(client, username);
      if (user === undefined) throw new AccessError('not_found', `no user ${username}`);
      return;
    }
    const sessions = await deleteSessionsOfUser(client, username);
    const tokens = await revokeTokensOfUser(client, username);
    await appendAuditEntry(client, {
      actor,
      action: 'user_disabled',
      subject: `user:${username}`,
      details: { sessions_ended: sessions, tokens_revoked: tokens },
    });
  });
}

export async function unlockUser(pool: pg.Pool, manager: AccountManager, username: string): Promise<void> {
  const actor = managerActor(manager);
  await withTransaction(pool, async (client) => {
    if (!(await unlockConsoleUser(client, username))) throw new AccessError('not_found', `no user ${username}`);
    await appendAuditEntry(client, { actor, action: 'user_unlocked', subject: `user:${username}`, details: {} });
  });
}

export interface UserListing {
  readonly username: string;
  readonly role: Role;
  readonly status: 'active' | 'disabled' | 'locked';
  readonly createdAt: string;
  readonly createdBy: string;
  readonly lastLoginAt: string | undefined;
  readonly failedLogins: number;
}

export async function listUsers(pool: pg.Pool): Promise<UserListing[]> {
  const now = Date.now();
  return (await listConsoleUsers(pool)).map((user) => ({
    username: user.username,
    role: user.role,
    status:
      user.disabledAt !== undefined
        ? 'disabled'
        : user.lockedUntil !== undefined && Date.parse(user.lockedUntil) > now
          ? 'locked'
          : 'active',
    createdAt: user.createdAt,
    createdBy: user.createdBy,
    lastLoginAt: user.lastLoginAt,
    failedLogins: user.failedLogins,
  }));
}

/** Records a logout (the session itself is destroyed by the console). */
export async function recordLogout(pool: pg.Pool, user: AuthenticatedUser): Promise<void> {
  await recordAudit(pool, {
    actor: auditActorOf(user),
    action: 'logout',
    subject: `user:${user.username}`,
    details: {},
  });
}

function parseOr<T>(
  schema: {
    safeParse: (
      value: unknown,
    ) => { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
  },
  value: unknown,
  field: string,
): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AccessError('bad_request', `${field}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
}
