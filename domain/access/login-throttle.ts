/**
 * Failed logins are slowed, then locked out (SPEC §9). Per account, so a guesser who rotates
 * addresses gains nothing; the console also limits login requests per address.
 *
 * Worked example with the defaults (free 3, base 1 s, lockout at 10 for 15 min):
 * failures 1–3 → retry at once; 4 → wait 1 s; 5 → 2 s; 6 → 4 s; 7 → 8 s; 8 → 16 s; 9 → 32 s;
 * the 10th failure locks the account for 15 minutes (an admin may unlock it sooner).
 * A success resets the count.
 */
export interface LoginThrottlePolicy {
  /** Failures allowed before attempts are slowed. */
  readonly freeFailures: number;
  /** Wait after the first slowed failure; doubles with each further one. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive failures that lock the account. */
  readonly lockoutAfter: number;
  readonly lockoutMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottlePolicy = {
  freeFailures: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  lockoutAfter: 10,
  lockoutMs: 15 * 60_000,
};

export interface LoginAccountState {
  readonly failedLogins: number;
  /** Epoch milliseconds of the last failure, if any. */
  readonly lastFailedAtMs: number | undefined;
  readonly lockedUntilMs: number | undefined;
}

export type LoginGate =
  | { readonly verdict: 'allow' }
  | { readonly verdict: 'slow_down'; readonly retryAfterMs: number }
  | { readonly verdict: 'locked'; readonly retryAfterMs: number };

/** Whether an attempt made at `nowMs` may even be checked. */
export function loginGate(state: LoginAccountState, nowMs: number, policy = DEFAULT_LOGIN_THROTTLE): LoginGate {
  if (state.lockedUntilMs !== undefined && state.lockedUntilMs > nowMs)
    return { verdict: 'locked', retryAfterMs: state.lockedUntilMs - nowMs };
  const delayMs = delayAfterFailures(state.failedLogins, policy);
  if (delayMs > 0 && state.lastFailedAtMs !== undefined && state.lastFailedAtMs + delayMs > nowMs)
    return { verdict: 'slow_down', retryAfterMs: state.lastFailedAtMs + delayMs - nowMs };
  return { verdict: 'allow' };
}

/** The account after one more failure at `nowMs`: the count, and a lock when it reaches the limit. */
export function afterFailedLogin(
  state: LoginAccountState,
  nowMs: number,
  policy = DEFAULT_LOGIN_THROTTLE,
): LoginAccountState & { readonly lockedNow: boolean } {
  // A lock that has run out starts a fresh count: the next guesses are slowed again, then locked again.
  const expiredLock = state.lockedUntilMs !== undefined && state.lockedUntilMs <= nowMs;
  const failedLogins = (expiredLock ? 0 : state.failedLogins) + 1;
  const lockedNow = failedLogins >= policy.lockoutAfter;
  return {
    failedLogins,
    lastFailedAtMs: nowMs,
    lockedUntilMs: lockedNow ? nowMs + policy.lockoutMs : expiredLock ? undefined : state.lockedUntilMs,
    lockedNow,
  };
}

export function delayAfterFailures(failedLogins: number, policy = DEFAULT_LOGIN_THROTTLE): number {
  const slowed = failedLogins - policy.freeFailures;
  if (slowed <= 0) return 0;
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (slowed - 1));
}
