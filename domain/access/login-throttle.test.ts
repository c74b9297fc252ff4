import { describe, expect, it } from 'vitest';
import { afterFailedLogin, DEFAULT_LOGIN_THROTTLE, delayAfterFailures, loginGate } from './login-throttle.ts';

const NOW = Date.parse('2026-10-14T09:00:00Z');
const fresh = { failedLogins: 0, lastFailedAtMs: undefined, lockedUntilMs: undefined };

describe('login throttling', () => {
  it.each([
    [0, 0],
    [3, 0],
    [4, 1_000],
    [5, 2_000],
    [6, 4_000],
    [9, 32_000],
    [20, 60_000],
  ])('after %i consecutive failures the next attempt waits %i ms', (failures, delayMs) => {
    expect(delayAfterFailures(failures)).toBe(delayMs);
  });

  it('refuses an attempt made before the wait is over, unchecked, and allows it after', () => {
    const state = { failedLogins: 5, lastFailedAtMs: NOW, lockedUntilMs: undefined };
    expect(loginGate(state, NOW + 1_999)).toEqual({ verdict: 'slow_down', retryAfterMs: 1 });
    expect(loginGate(state, NOW + 2_000)).toEqual({ verdict: 'allow' });
  });

  it('locks at the tenth consecutive failure for fifteen minutes, then starts counting afresh', () => {
    let state: ReturnType<typeof afterFailedLogin> = { ...fresh, lockedNow: false };
    for (let attempt = 1; attempt <= 9; attempt++) {
      state = afterFailedLogin(state, NOW + attempt);
      expect(state.lockedNow).toBe(false);
    }
    state = afterFailedLogin(state, NOW + 10);
    expect(state).toMatchObject({ failedLogins: 10, lockedNow: true, lockedUntilMs: NOW + 10 + 15 * 60_000 });
    expect(loginGate(state, NOW + 60_000)).toEqual({ verdict: 'locked', retryAfterMs: 15 * 60_000 + 10 - 60_000 });
    const afterLock = NOW + 10 + DEFAULT_LOGIN_THROTTLE.lockoutMs;
    expect(loginGate(state, afterLock).verdict).not.toBe('locked');
    expect(afterFailedLogin(state, afterLock)).toMatchObject({
      failedLogins: 1,
      lockedNow: false,
      lockedUntilMs: undefined,
    });
  });
});
