import { describe, expect, it } from 'vitest';
import { ConfigError } from './parse-env.ts';
import { parseStripeEnv } from './stripe.ts';

describe('parseStripeEnv', () => {
  it.each([
    [{}, undefined],
    [{ STRIPE_API_KEY: 'sk_test_abc123' }, { apiKey: 'sk_test_abc123', timeoutMs: 30_000, maxNetworkRetries: 2 }],
    [
      {
        STRIPE_API_KEY: 'rk_live_Z9',
        STRIPE_API_BASE: 'http://127.0.0.1:12111',
        STRIPE_TIMEOUT: '5s',
        STRIPE_MAX_NETWORK_RETRIES: '0',
      },
      {
        apiKey: 'rk_live_Z9',
        host: '127.0.0.1',
        port: 12111,
        protocol: 'http',
        timeoutMs: 5_000,
        maxNetworkRetries: 0,
      },
    ],
    [
      { STRIPE_API_KEY: 'sk_test_abc', STRIPE_API_BASE: 'https://stripe-proxy.internal' },
      {
        apiKey: 'sk_test_abc',
        host: 'stripe-proxy.internal',
        protocol: 'https',
        timeoutMs: 30_000,
        maxNetworkRetries: 2,
      },
    ],
  ])('%j gives %j', (env, expected) => {
    expect(parseStripeEnv(env)).toEqual(expected);
  });

  it('names every bad variable', () => {
    const error = (() => {
      try {
        parseStripeEnv({
          STRIPE_API_KEY: 'pk_test_public',
          STRIPE_API_BASE: 'ftp://x',
          STRIPE_MAX_NETWORK_RETRIES: 'ten',
        });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((problem) => problem.split('=')[0])).toEqual([
      'STRIPE_API_KEY',
      'STRIPE_API_BASE',
      'STRIPE_MAX_NETWORK_RETRIES',
    ]);
  });
});
