import { describe, expect, it } from 'vitest';
import { defaultActivityConcurrency, parseBillingWorkerEnv } from './billing-worker.ts';
import { ConfigError, redactEnvValue } from './parse-env.ts';
import { parseServicesEnv } from './services.ts';

describe('process configuration', () => {
  it('lists every bad variable at once, with its value and what it must be', () => {
    let error: unknown;
    try {
      parseBillingWorkerEnv({
        TALLY_PORT_BASE: 'lots',
        DATABASE_URL: 'mysql://x',
        TALLY_WEBHOOK_URL: 'not a url',
        TALLY_PERIOD_OPENER_INTERVAL: '5 minutes',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect((error as ConfigError).problems).toHaveLength(4);
    expect(message).toContain('TALLY_PORT_BASE="lots": must be a port number');
    expect(message).toContain('DATABASE_URL="mysql://x": must be a postgres:// URL');
    expect(message).toContain('TALLY_WEBHOOK_URL="not a url"');
    expect(message).toContain('TALLY_PERIOD_OPENER_INTERVAL="5 minutes"');
  });

  it('fills defaults: the embedded stack on its own ports, below the ephemeral range', () => {
    const env = parseServicesEnv({});
    expect(env.TALLY_PORT_BASE).toBe(17320);
    expect(env.TEMPORAL_NAMESPACE).toBe('billing');
    expect(env.DATABASE_URL).toBeUndefined();
    expect(parseBillingWorkerEnv({ TALLY_OPENER_GRACE: '5s' })).toMatchObject({
      openerOverrides: { graceMs: 5000 },
      taskQueue: 'billing',
    });
  });

  it('runs four steps at once per core unless told otherwise, and never none', () => {
    expect([1, 2, 8].map((cores) => defaultActivityConcurrency(cores))).toEqual([4, 8, 32]);
    expect(parseBillingWorkerEnv({}).maxConcurrentActivities).toBe(defaultActivityConcurrency());
    expect(parseBillingWorkerEnv({ TALLY_MAX_CONCURRENT_ACTIVITIES: '3' }).maxConcurrentActivities).toBe(3);
    expect(() => parseBillingWorkerEnv({ TALLY_MAX_CONCURRENT_ACTIVITIES: '0' })).toThrow(
      /TALLY_MAX_CONCURRENT_ACTIVITIES="0": must be at least 1/,
    );
  });

  it('never prints a secret: key-like variables are withheld, a URL loses its password', () => {
    let error: unknown;
    try {
      parseBillingWorkerEnv({
        DATABASE_URL: 'mysql://billing:hunter2-secret@db.internal/tally',
        TALLY_PORT_BASE: 'lots',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).not.toContain('hunter2-secret');
    expect(message).toContain('DATABASE_URL="mysql://billing:***@db.internal/tally": must be a postgres:// URL');
    expect(message).toContain('TALLY_PORT_BASE="lots"');
    expect(redactEnvValue('STRIPE_API_KEY', 'sk_live_0123456789')).toBe('<withheld, 18 characters>');
    expect(redactEnvValue('TALLY_SOURCE_KEYS_FILE', '/etc/tally/keys.json')).toBe('"/etc/tally/keys.json"');
  });
});
