import { z } from 'zod';

/**
 * The HTTP ingest endpoint's API keys (a JSON file, TALLY_INGEST_API_KEYS_FILE): each key is bound to
 * the sources it may send. Give the token itself, or better its sha256 in hex, so the file holds no secret:
 *
 * ```json
 * { "keys": [ { "id": "gateway-prod", "token_sha256": "9f86d0…", "sources": ["api-gateway"] } ] }
 * ```
 */
const SourceId = z.string().regex(/^[a-z0-9._-]{1,64}$/, 'source ids are 1-64 chars of [a-z0-9._-]');

const ApiKeySchema = z.union([
  z.strictObject({
    id: z.string().min(1),
    token: z.string().min(24, 'an API token has at least 24 characters'),
    sources: z.array(SourceId).min(1),
  }),
  z.strictObject({
    id: z.string().min(1),
    token_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'token_sha256 is 64 lowercase hex digits'),
    sources: z.array(SourceId).min(1),
  }),
]);

export const ApiKeysFileSchema = z.strictObject({
  keys: z
    .array(ApiKeySchema)
    .refine((keys) => new Set(keys.map((key) => key.id)).size === keys.length, 'API key ids are unique'),
});

export type ApiKeysFile = z.infer<typeof ApiKeysFileSchema>;
