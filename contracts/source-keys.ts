import { z } from 'zod';

/**
 * Producers' signing secrets, by source id: `{ "api-gateway": "<secret>", … }`. Loaded from a JSON
 * key file (`--keys`, TALLY_SOURCE_KEYS_FILE); a secret is at least 16 characters.
 */
export const SourceKeysSchema = z.record(
  z.string().regex(/^[a-z0-9._-]{1,64}$/, 'source ids are 1-64 chars of [a-z0-9._-]'),
  z.string().min(16, 'a signing secret has at least 16 characters'),
);
export type SourceKeys = z.infer<typeof SourceKeysSchema>;
