import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, durationMsFromEnv, parseEnv, portFromEnv } from './parse-env.ts';
import { ServicesEnvSchema } from './services.ts';
import { BillingWorkerEnvSchema } from './billing-worker.ts';
import { UsageStreamEnvSchema } from './ingest-worker.ts';

/**
 * The ops console (`tally console`): where it listens, how long a session lives, how cookies are
 * marked, where the Temporal UI is. The rate-card folder is the billing worker's; the stream names
 * are ingest's (for the lag).
 */
export const ConsoleEnvSchema = ServicesEnvSchema.extend({
  /** Default: the stack's port base + 8 (SPEC §9). */
  TALLY_CONSOLE_PORT: portFromEnv.optional(),
  TALLY_CONSOLE_HOST: z.string().min(1).default('127.0.0.1'),
  /** A session ends this long after login (absolute, not sliding). */
  TALLY_CONSOLE_SESSION_TTL: durationMsFromEnv.default(8 * 3_600_000),
  /** Mark the session cookie `Secure` (set it behind TLS; the local stack serves plain HTTP). */
  TALLY_CONSOLE_SECURE_COOKIE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((text) => text === 'true'),
  /** Signs the session cookie; a file is read at start. Unset: a secret generated once and kept in Postgres. */
  TALLY_CONSOLE_SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  TALLY_CONSOLE_SESSION_SECRET_FILE: z.string().min(1).optional(),
  /** Login requests per minute from one address, before the per-account throttle. */
  TALLY_CONSOLE_LOGIN_RATE: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .default('30')
    .transform((text) => Number.parseInt(text, 10)),
  /** The Temporal Web UI, for deep links. Default: the embedded stack's UI (port base + 5) when Temporal is embedded. */
  TALLY_TEMPORAL_UI_URL: z.url().optional(),
})
  .extend({ TALLY_RATECARDS_DIR: BillingWorkerEnvSchema.shape.TALLY_RATECARDS_DIR })
  .extend(UsageStreamEnvSchema.shape);

export interface ConsoleSettings {
  readonly port: number;
  readonly host: string;
  readonly sessionTtlMs: number;
  readonly secureCookie: boolean;
  readonly sessionSecret: string | undefined;
  readonly loginRatePerMinute: number;
  readonly temporalUiUrl: string | undefined;
  /** Finance's files, for a rate card never published (invoice lineage reads the published log first). */
  readonly ratecardsDir: string;
  readonly streamName: string;
  readonly consumerName: string;
}

export function parseConsoleEnv(env: Record<string, string | undefined> = process.env): ConsoleSettings {
  const parsed = parseEnv(ConsoleEnvSchema, env);
  const secret =
    parsed.TALLY_CONSOLE_SESSION_SECRET ??
    (parsed.TALLY_CONSOLE_SESSION_SECRET_FILE === undefined
      ? undefined
      : sessionSecretFromFile(parsed.TALLY_CONSOLE_SESSION_SECRET_FILE));
  return {
    port: parsed.TALLY_CONSOLE_PORT ?? parsed.TALLY_PORT_BASE + 8,
    host: parsed.TALLY_CONSOLE_HOST,
    sessionTtlMs: parsed.TALLY_CONSOLE_SESSION_TTL,
    secureCookie: parsed.TALLY_CONSOLE_SECURE_COOKIE,
    sessionSecret: secret,
    loginRatePerMinute: parsed.TALLY_CONSOLE_LOGIN_RATE,
    temporalUiUrl:
      parsed.TALLY_TEMPORAL_UI_URL ??
      (parsed.TEMPORAL_ADDRESS === undefined ? `http://127.0.0.1:${parsed.TALLY_PORT_BASE + 5}` : undefined),
    ratecardsDir: parsed.TALLY_RATECARDS_DIR,
    streamName: parsed.TALLY_INGEST_STREAM,
    consumerName: parsed.TALLY_INGEST_CONSUMER,
  };
}

/** The CLI acting as a console user: a personal token from `tally users token NAME`. */
const ConsoleCredentialsEnvSchema = z.object({
  TALLY_USER_TOKEN: z
    .string()
    .regex(/^tly_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/, 'must be a token printed by `tally users token`')
    .optional(),
});

export function parseConsoleCredentialsEnv(env: Record<string, string | undefined> = process.env): {
  token: string | undefined;
} {
  return { token: parseEnv(ConsoleCredentialsEnvSchema, env).TALLY_USER_TOKEN };
}

/** The session secret in a file, held to the environment value's rule; its content is never printed. */
function sessionSecretFromFile(file: string): string {
  const variable = 'TALLY_CONSOLE_SESSION_SECRET_FILE';
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError([`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  if (secret.length < 32) throw new ConfigError([`${variable}: the secret in ${file} must be at least 32 characters`]);
  return secret;
}
