import { z } from 'zod';
import { PeriodName } from './period-name.ts';
import { ENTERED_AMOUNT_PATTERN } from './patterns.ts';

/**
 * The console's JSON API (SPEC §9), parsed at the HTTP edge, and the account names and roles the
 * CLI shares with it. Errors are `{ "error": { "code", "message" } }` (ConsoleApiError).
 */

const ROLES = ['viewer', 'reviewer', 'admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** Lower-case login names: they appear in decisions, the audit log and URLs. */
export const UsernameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9._-]{1,63}$/, 'a username is 2–64 chars of a-z, 0-9, ".", "_", "-", starting with a letter');

/** A password: long enough to resist guessing with a memory-hard hash behind it; bounded so hashing stays cheap. */
export const PasswordSchema = z
  .string()
  .min(12, 'a password has at least 12 characters')
  .max(1024, 'a password has at most 1024 characters');

export const LoginRequestSchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

const DecimalAmount = z.string().regex(ENTERED_AMOUNT_PATTERN, 'amount is a decimal string such as "-25.00"');

/** `POST /api/v1/exceptions/:id/decisions`: who decides comes from the session or token, never from the body. */
export const DecisionRequestSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('approve'),
    reason: z.string().max(2000).optional(),
    note: z.string().max(2000).optional(),
  }),
  z.strictObject({ kind: z.literal('reject'), reason: z.string().trim().min(1, 'reject needs a reason').max(2000) }),
  z.strictObject({
    kind: z.literal('adjust'),
    reason: z.string().trim().min(1, 'adjust needs a reason').max(2000),
    amount: DecimalAmount,
  }),
]);
export type DecisionRequest = z.infer<typeof DecisionRequestSchema>;

export const AddUserRequestSchema = z.strictObject({
  username: UsernameSchema,
  role: RoleSchema,
  password: PasswordSchema.optional(),
});

export const ExceptionListQuerySchema = z.object({
  status: z.enum(['open', 'waiting', 'escalated', 'approved', 'rejected', 'adjusted', 'all']).default('open'),
  kind: z
    .string()
    .regex(/^[a-z_]{1,64}$/)
    .optional(),
  customer: z.string().min(1).max(128).optional(),
  sort: z.enum(['priority', 'age', 'amount']).default('priority'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const InvoiceListQuerySchema = z.object({
  customer: z.string().min(1).max(128).optional(),
  period: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/)
    .optional(),
  status: z.enum(['draft', 'held', 'issued', 'skipped', 'legacy']).optional(),
  /** Keyset cursor: the `next` of the previous page (`period|customer_id`). */
  after: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])\|.{1,128}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const AuditListQuerySchema = z.object({
  /** Entries before this sequence number (paging backwards from the newest). */
  before: z.coerce.number().int().min(1).optional(),
  actor: z.string().min(1).max(128).optional(),
  action: z.string().min(1).max(64).optional(),
  subject: z.string().min(1).max(300).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `GET /api/v1/shadow/runs`: the newest first, by legacy source and period. */
export const ShadowRunListQuerySchema = z.object({
  source: z.string().min(1).max(128).optional(),
  period: PeriodName.optional(),
});

/** `GET /api/v1/backfills`: the newest plans first, each with its run's status. */
export const BackfillListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
