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
    const value = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
    return value === undefined ? `${name}: ${issue.message}` : `${name}=${JSON.stringify(value)}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** A TCP port given as a decimal string. */
export const portFromEnv = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a port number')
  .transform((text) => Number.parseInt(text, 10))
  .refine((port) => port > 0 && port < 65536, 'must be between 1 and 65535');

/** A duration such as `500ms`, `30s`, `5m`, `1h`, `3d`, turned into milliseconds. */
export const durationMsFromEnv = DurationText.transform(durationMs);
