import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ApiKeysFileSchema, type ApiKeysFile } from '../contracts/ingest-api-keys.ts';
import {
  SourceKeyFileSchema,
  signingKeysOf,
  verificationKeysOf,
  type SourceKeys,
  type VerificationKeys,
} from '../contracts/source-keys.ts';
import { describeIssues } from '../contracts/usage-event.ts';
import { TallyError } from '../contracts/tally-error.ts';

export class KeyFileError extends TallyError {
  constructor(message: string) {
    super('key_file_invalid', message, { permanent: true });
  }
}

/** Reads the producers' signing keys: the newest secret of each source of the key file. */
export async function loadSourceKeys(file: string): Promise<SourceKeys> {
  return signingKeysOf(await loadJsonFile(file, SourceKeyFileSchema));
}

/** Reads every secret of each source, with its overlap window, for the worker's verification. */
export async function loadVerificationKeys(file: string): Promise<VerificationKeys> {
  return verificationKeysOf(await loadJsonFile(file, SourceKeyFileSchema));
}

/** Reads the HTTP endpoint's API keys, `{ "keys": [ { id, token_sha256 | token, sources } ] }`. */
export function loadApiKeys(file: string): Promise<ApiKeysFile> {
  return loadJsonFile(file, ApiKeysFileSchema);
}

/** The verification keys in use; replaced whole when the key file changes. */
export interface CurrentKeys {
  readonly current: VerificationKeys;
}

/**
 * Keeps `current` equal to the key file without a restart: the file is polled (its size and mtime)
 * every `intervalMs`; a changed file is loaded and swapped in whole. A file that does not load keeps
 * the previous keys and logs why (never a secret).
 */
export function watchVerificationKeys(
  file: string,
  initial: VerificationKeys,
  logger: Logger,
  intervalMs = 2000,
): CurrentKeys & { stop(): void } {
  const holder = { current: initial };
  const onChange = (): void => {
    loadVerificationKeys(file).then(
      (keys) => {
        holder.current = keys;
        logger.info({ file, sources: Object.keys(keys).length }, 'source keys reloaded');
      },
      (error: unknown) =>
        logger.error(
          { file, reason: error instanceof Error ? error.message : String(error) },
          'source key file changed but does not load; the previous keys stay in use',
        ),
    );
  };
  watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  return {
    get current() {
      return holder.current;
    },
    stop: () => unwatchFile(file, onChange),
  };
}

async function loadJsonFile<Schema extends z.ZodType>(file: string, schema: Schema): Promise<z.infer<Schema>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new KeyFileError(`${file}: cannot read: ${error instanceof Error ? error.message : String(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message quotes the text around the fault, and that text is a secret: give only where.
    throw new KeyFileError(`${file}: not valid JSON${jsonErrorPlace(text)}`);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new KeyFileError(`${file}: ${describeIssues(result.error)}`);
  return result.data;
}

/**
 * ` at line L, column C` of the first byte that makes `text` invalid JSON, without quoting any of
 * it: the longest prefix that is still only incomplete (not yet wrong) is found by bisection.
 */
function jsonErrorPlace(text: string): string {
  const viable = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return true;
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      if (/end of JSON input/i.test(message)) return true;
      const position = /at position (\d+)/.exec(message);
      return position !== null && Number(position[1]) >= length;
    }
  };
  let [low, high] = [0, text.length];
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (viable(middle)) low = middle;
    else high = middle - 1;
  }
  if (low >= text.length) return ': it ends too early';
  const before = text.slice(0, low);
  return ` at line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')}`;
}
