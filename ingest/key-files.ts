import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { ApiKeysFileSchema, type ApiKeysFile } from '../contracts/ingest-api-keys.ts';
import { SourceKeysSchema, type SourceKeys } from '../contracts/source-keys.ts';
import { describeIssues } from '../contracts/usage-event.ts';
import { TallyError } from '../contracts/tally-error.ts';

export class KeyFileError extends TallyError {
  constructor(message: string) {
    super('key_file_invalid', message, { permanent: true });
  }
}

/** Reads the producers' signing keys, `{ "<source>": "<secret>" }`. */
export function loadSourceKeys(file: string): Promise<SourceKeys> {
  return loadJsonFile(file, SourceKeysSchema);
}

/** Reads the HTTP endpoint's API keys, `{ "keys": [ { id, token_sha256 | token, sources } ] }`. */
export function loadApiKeys(file: string): Promise<ApiKeysFile> {
  return loadJsonFile(file, ApiKeysFileSchema);
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
  } catch (error) {
    throw new KeyFileError(`${file}: not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new KeyFileError(`${file}: ${describeIssues(result.error)}`);
  return result.data;
}
