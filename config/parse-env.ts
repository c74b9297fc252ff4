import { z } from 'zod';
import { DurationText, durationMs } from '../contracts/config-fields.ts';
import { TallyError } from '../contracts/tally-error.ts';

/** Raised when a process's environment does not fit its schema; lists every bad variable at once. */
export class ConfigError extends TallyError {
  constructor(readonly problems: readonly string[]) {
    super('config_invalid', `invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`, {
      permanent: true,
    });
  }
}

/**
 * Parses environment variables with a zod object schema whose keys are variable names.
 * Every failing variable is reported, not only the first.
 */
export function parseEnv<Schema extends z.ZodObject>(
  schema: Schema,
  env: Record<string, string | undefined>,
): z.infer<Schema> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const variable = typeof issue.path[0] === 'string' ? issue.path[0] : undefined;
    const value = variable === undefined ? undefined : env[variable];
    return value === undefined || variable === undefined
      ? `${name}: ${issue.message}`
      : `${name}=${redactEnvValue(variable, value)}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

const SECRET_NAME = /(KEY|KEYS|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE|NKEY|SEED)(_|$)/;
const PATH_NAME = /_(FILE|PATH|DIR)$/;

/**
 * A variable's value as an error message may show it: a secret-looking variable (a key, token,
 * password…, but not the path of a file holding one) is withheld and only its length shown; a URL
 * keeps everything but its password.
 */
export function redactEnvValue(name: string, value: string): string {
  if (SECRET_NAME.test(name) && !PATH_NAME.test(name)) return `<withheld, ${value.length} characters>`;
  return JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, '$1***@'));
}

/** A TCP port given as a decimal string. */
export const portFromEnv = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a port number')
  .transform((text) => Number.parseInt(text, 10))
  .refine((port) => port > 0 && port < 65536, 'must be between 1 and 65535');

/** A duration such as `500ms`, `30s`, `5m`, `1h`, `3d`, turned into milliseconds. */
export const durationMsFromEnv = DurationText.transform(durationMs);
