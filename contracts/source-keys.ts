import { z } from 'zod';

const SourceId = z.string().regex(/^[a-z0-9._-]{1,64}$/, 'source ids are 1-64 chars of [a-z0-9._-]');
const Secret = z.string().min(16, 'a signing secret has at least 16 characters');

/** One version of a source's key: its secret, and until when events received may still be verified with it. */
const KeyVersion = z.union([
  Secret,
  z.strictObject({
    secret: Secret,
    /** RFC 3339: events received after this instant are no longer verified with this secret (the overlap ends). */
    until: z.iso.datetime({ offset: true }).optional(),
  }),
]);

/**
 * The key file, `{ "<source>": "<secret>" | [<newest>, <older>, …] }`, where an entry of the list is
 * a secret or `{ "secret": …, "until": "<RFC 3339>" }`. Several secrets per source let a producer
 * rotate its key with an overlap: the worker accepts a signature by any secret whose `until` has not
 * passed at the event's receipt; producers sign with the first (newest). A secret has ≥ 16 characters.
 */
export const SourceKeyFileSchema = z.record(SourceId, z.union([Secret, z.array(KeyVersion).min(1)]));

/** Producers' signing secrets, by source id (the newest of each source's key file entry). */
export const SourceKeysSchema = z.record(SourceId, Secret);
export type SourceKeys = z.infer<typeof SourceKeysSchema>;

/** A source's secrets for verification, newest first; `untilMs` ends a secret's overlap window. */
interface KeyVersionForVerification {
  readonly secret: string;
  readonly untilMs: number | undefined;
}

/** What the worker verifies signatures with: one secret per source (SourceKeys) or several, with windows. */
export type VerificationKeys = Readonly<Record<string, string | readonly KeyVersionForVerification[]>>;

/** The newest secret of each source: what a producer signs with. */
export function signingKeysOf(file: z.infer<typeof SourceKeyFileSchema>): SourceKeys {
  return Object.fromEntries(
    Object.entries(file).map(([source, entry]) => {
      if (typeof entry === 'string') return [source, entry];
      const newest = entry[0] as z.infer<typeof KeyVersion>;
      return [source, typeof newest === 'string' ? newest : newest.secret];
    }),
  );
}

/** Every secret of each source, for verification. */
export function verificationKeysOf(file: z.infer<typeof SourceKeyFileSchema>): VerificationKeys {
  return Object.fromEntries(
    Object.entries(file).map(([source, entry]) => [
      source,
      typeof entry === 'string'
        ? entry
        : entry.map((version) =>
            typeof version === 'string'
              ? { secret: version, untilMs: undefined }
              : {
                  secret: version.secret,
                  untilMs: version.until === undefined ? undefined : Date.parse(version.until),
                },
          ),
    ]),
  );
}
