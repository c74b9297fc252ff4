import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { z } from 'zod';

/**
 * One row of the hash-chained audit log (SPEC §9). The hash of a row is sha256 over the RFC 8785
 * canonical JSON of its content and the previous row's hash, so changing any field of any row, or
 * removing a row, breaks every later link: `tally audit verify` finds the first break.
 *
 * Details hold strings, booleans, integers and nested objects of them (amounts as decimal strings):
 * they survive jsonb and canonical JSON unchanged.
 */

/** The hash before the first row. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

const AuditActionSchema = z.string().regex(/^[a-z][a-z0-9_.]{1,63}$/, 'an action is a lower-case word');

const AuditActorSchema = z.strictObject({
  kind: z.enum(['user', 'process']),
  name: z.string().min(1).max(128),
});
export type AuditActor = z.infer<typeof AuditActorSchema>;

type AuditValue = string | number | boolean | null | AuditValue[] | { [key: string]: AuditValue };
const AuditValueSchema: z.ZodType<AuditValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number().int().safe(),
    z.boolean(),
    z.null(),
    z.array(AuditValueSchema),
    z.record(z.string(), AuditValueSchema),
  ]),
);
const AuditDetailsSchema = z.record(z.string(), AuditValueSchema);
export type AuditDetails = z.infer<typeof AuditDetailsSchema>;

/** What a caller appends: who did what to what, with details. Sequence, time and hashes are the log's. */
export const NewAuditEntrySchema = z.strictObject({
  actor: AuditActorSchema,
  action: AuditActionSchema,
  subject: z.string().min(1).max(300),
  details: AuditDetailsSchema.default({}),
});
export type NewAuditEntry = z.input<typeof NewAuditEntrySchema>;

export interface AuditEntry {
  readonly seq: number;
  /** ISO 8601 with milliseconds. */
  readonly at: string;
  readonly actor: AuditActor;
  readonly action: string;
  readonly subject: string;
  readonly details: AuditDetails;
  readonly prevHash: string;
  readonly hash: string;
}

/** The hash a row must carry: over everything in it but the hash itself. */
export function auditEntryHash(entry: Omit<AuditEntry, 'hash'>): string {
  const canonical = canonicalize({
    seq: entry.seq,
    at: entry.at,
    actor_kind: entry.actor.kind,
    actor: entry.actor.name,
    action: entry.action,
    subject: entry.subject,
    details: entry.details,
    prev_hash: entry.prevHash,
  });
  if (canonical === undefined) throw new Error('audit entry cannot be canonicalized');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
