import { z } from 'zod';
import { ENTERED_AMOUNT_PATTERN } from './patterns.ts';

/**
 * A reviewer's decision on an exception (SPEC §9), as the `decide` update carries it and as
 * `review_exceptions.decision` stores it: approve, reject with a reason, or adjust by an amount with a
 * reason. `confirmedBy` is the second reviewer of a dual-control adjust, set by the workflow.
 */
const Decided = {
  exceptionId: z.string().min(1),
  reviewer: z.string().trim().min(1, 'a decision names its reviewer'),
};

const ApproveDecisionSchema = z.object({
  kind: z.literal('approve'),
  ...Decided,
  note: z.string().optional(),
});

const RejectDecisionSchema = z.object({
  kind: z.literal('reject'),
  ...Decided,
  reason: z.string().trim().min(1, 'reject needs a reason'),
});

export const AdjustDecisionSchema = z.object({
  kind: z.literal('adjust'),
  ...Decided,
  reason: z.string().trim().min(1, 'adjust needs a reason'),
  amount: z.string().regex(ENTERED_AMOUNT_PATTERN, 'adjust amount is a decimal string such as "-25.00"'),
  confirmedBy: z.string().optional(),
});

export const ReviewDecisionSchema = z.discriminatedUnion('kind', [
  ApproveDecisionSchema,
  RejectDecisionSchema,
  AdjustDecisionSchema,
]);

/** What closes an exception nobody decided: what it waited for happened (a contract published, ingest caught up). */
const ResolutionSchema = z.object({ kind: z.literal('resolved'), detail: z.string() });

/** What `review_exceptions.decision` holds: a person's decision, or Tally's resolution. */
export const StoredDecisionSchema = z.discriminatedUnion('kind', [
  ApproveDecisionSchema,
  RejectDecisionSchema,
  AdjustDecisionSchema,
  ResolutionSchema,
]);

type ApproveDecision = Readonly<z.infer<typeof ApproveDecisionSchema>>;
type RejectDecision = Readonly<z.infer<typeof RejectDecisionSchema>>;
export type AdjustDecision = Readonly<z.infer<typeof AdjustDecisionSchema>>;
export type ReviewDecision = ApproveDecision | RejectDecision | AdjustDecision;
type Resolution = Readonly<z.infer<typeof ResolutionSchema>>;
export type StoredDecision = ReviewDecision | Resolution;
