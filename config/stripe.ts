import { z } from 'zod';
import { durationMsFromEnv, parseEnv } from './parse-env.ts';

/**
 * The Stripe connection of the processes that sync invoices (the workers). Without STRIPE_API_KEY,
 * a contract whose provider is Stripe fails its sync with `provider_not_configured`; the ledger
 * provider needs nothing. STRIPE_API_BASE points the SDK elsewhere (a proxy, or stripe-mock).
 */
export const StripeEnvSchema = z.object({
  STRIPE_API_KEY: z
    .string()
    .regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]+$/, 'must be a Stripe secret or restricted key (sk_… / rk_…)')
    .optional(),
  STRIPE_API_BASE: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  STRIPE_TIMEOUT: durationMsFromEnv.default(30_000),
  STRIPE_MAX_NETWORK_RETRIES: z
    .string()
    .regex(/^\d$/, 'must be 0-9')
    .transform((text) => Number.parseInt(text, 10))
    .default(2),
});

export interface StripeConnection {
  readonly apiKey: string;
  readonly host?: string;
  readonly port?: number;
  readonly protocol?: 'http' | 'https';
  readonly timeoutMs: number;
  readonly maxNetworkRetries: number;
}

/** The Stripe connection from the environment, or undefined when no key is set. */
export function parseStripeEnv(env: Record<string, string | undefined> = process.env): StripeConnection | undefined {
  const parsed = parseEnv(StripeEnvSchema, env);
  if (parsed.STRIPE_API_KEY === undefined) return undefined;
  const base = parsed.STRIPE_API_BASE === undefined ? undefined : new URL(parsed.STRIPE_API_BASE);
  return {
    apiKey: parsed.STRIPE_API_KEY,
    ...(base === undefined
      ? {}
      : {
          host: base.hostname,
          protocol: base.protocol === 'http:' ? ('http' as const) : ('https' as const),
          ...(base.port === '' ? {} : { port: Number.parseInt(base.port, 10) }),
        }),
    timeoutMs: parsed.STRIPE_TIMEOUT,
    maxNetworkRetries: parsed.STRIPE_MAX_NETWORK_RETRIES,
  };
}
