import type pg from 'pg';
import type { z } from 'zod';
import {
  AdjustDecisionSchema,
  StoredDecisionSchema,
  type AdjustDecision,
  type ReviewDecision,
  type StoredDecision,
} from '../../contracts/review-decision.ts';
import { checkExceptionContext, type ExceptionContext, type KindedContext } from '../../contracts/review-exception.ts';
import { TallyError } from '../../contracts/tally-error.ts';

export type { ExceptionKind } from '../../contracts/review-exception.ts';
/** `resolved`: what the exception waited for happened without a decision (a contract published, ingest caught up). */
export type ExceptionStatus = 'open' | 'escalated' | 'approved' | 'rejected' | 'adjusted' | 'resolved';

/** An exception as stored; `kind` narrows `context` (contracts/review-exception.ts). */
export type ReviewExceptionRecord = ReviewExceptionFacts & KindedContext;

interface ReviewExceptionFacts {
  readonly exceptionId: string;
  /** Null for exceptions raised before the period had a draft (unknown customer, unpublished rate card). */
  readonly invoiceId: string | null;
  readonly customerId: string;
  readonly period: string;
  readonly breaches: readonly { rule: string; detail: string }[];
  readonly workflowId: string;
  readonly status: ExceptionStatus;
  readonly openedAt: string;
  readonly escalatedAt: string | undefined;
  readonly decidedAt: string | undefined;
  readonly reviewer: string | undefined;
  /** A person's decision, or Tally's resolution; checked against its contract when read. */
  readonly decision: StoredDecision | undefined;
  /** Dual control: an adjust waiting for (or confirmed by) a second, different reviewer. */
  readonly proposal: { readonly decision: AdjustDecision; readonly by: string; readonly at: string } | undefined;
}

interface ExceptionRow {
  exception_id: string;
  invoice_id: string | null;
  customer_id: string;
  period: string;
  kind: string;
  breaches: { rule: string; detail: string }[];
  context: unknown;
  workflow_id: string;
  status: ExceptionStatus;
  opened_at: Date;
  escalated_at: Date | null;
  decided_at: Date | null;
  reviewer: string | null;
  decision: unknown;
  proposal: unknown;
  proposed_by: string | null;
  proposed_at: Date | null;
}

function rowToRecord(row: ExceptionRow): ReviewExceptionRecord {
  return {
    exceptionId: row.exception_id,
    invoiceId: row.invoice_id,
    customerId: row.customer_id,
    period: row.period,
    ...storedContext(row),
    breaches: row.breaches,
    workflowId: row.workflow_id,
    status: row.status,
    openedAt: row.opened_at.toISOString(),
    escalatedAt: row.escalated_at?.toISOString(),
    decidedAt: row.decided_at?.toISOString(),
    reviewer: row.reviewer ?? undefined,
    decision: row.decision === null ? undefined : checked(row, 'decision', StoredDecisionSchema, row.decision),
    proposal:
      row.proposal === null || row.proposed_by === null || row.proposed_at === null
        ? undefined
        : {
            decision: checked(row, 'proposal', AdjustDecisionSchema, row.proposal),
            by: row.proposed_by,
            at: row.proposed_at.toISOString(),
          },
  };
}

/** A stored decision that breaks its contract: refused by exception, column, field and rule. */
export class StoredDecisionError extends TallyError {
  constructor(message: string) {
    super('stored_decision_invalid', message, { permanent: true });
  }
}

/** A context that breaks its kind's contract: refused by exception, kind, field and rule. */
export class ExceptionContextError extends TallyError {
  constructor(message: string) {
    super('exception_context_invalid', message, { permanent: true });
  }
}

function storedContext(row: ExceptionRow): KindedContext {
  const checked = checkExceptionContext(row.kind, row.context);
  if (checked.ok) return checked.value;
  throw new ExceptionContextError(
    `exception ${row.exception_id} (${row.kind}): its stored context breaks the contract at ${checked.problem}`,
  );
}

function checked<T>(row: ExceptionRow, column: string, schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return value as T;
  const issue = result.error.issues[0];
  throw new StoredDecisionError(
    `exception ${row.exception_id}: its stored ${column} breaks the decision contract at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
  );
}

type NewReviewException = Pick<
  ReviewExceptionFacts,
  'exceptionId' | 'invoiceId' | 'customerId' | 'period' | 'breaches' | 'workflowId'
> &
  KindedContext;

/** Opens an exception once; a retried activity finds the first one. */
export async function openReviewException(
  pool: pg.Pool,
  exception: NewReviewException,
): Promise<ReviewExceptionRecord> {
  await insertReviewException(pool, exception);
  const stored = await findReviewException(pool, exception.exceptionId);
  if (stored === undefined) throw new Error(`exception ${exception.exceptionId} vanished after insert`);
  return stored;
}

/** Inserts an exception unless one with its id exists (inside the caller's transaction, with the fact it reports). */
export async function insertReviewException(
  db: Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>,
  exception: NewReviewException,
): Promise<boolean> {
  // A producer whose context breaks its kind's contract stops here, not on a reviewer's screen.
  const checked = checkExceptionContext(exception.kind, exception.context);
  if (!checked.ok)
    throw new ExceptionContextError(
      `exception ${exception.exceptionId} (${exception.kind}): its context breaks the contract at ${checked.problem}`,
    );
  const result = await db.query(
    `INSERT INTO review_exceptions (exception_id, invoice_id, customer_id, period, kind, breaches, context, workflow_id, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open') ON CONFLICT (exception_id) DO NOTHING`,
    [
      exception.exceptionId,
      exception.invoiceId ?? null,
      exception.customerId,
      exception.period,
      exception.kind,
      JSON.stringify(exception.breaches),
      JSON.stringify(exception.context),
      exception.workflowId,
    ],
  );
  return result.rowCount === 1;
}

export async function findReviewException(
  pool: pg.Pool,
  exceptionId: string,
): Promise<ReviewExceptionRecord | undefined> {
  const { rows } = await pool.query<ExceptionRow>('SELECT * FROM review_exceptions WHERE exception_id = $1', [
    exceptionId,
  ]);
  return rows[0] === undefined ? undefined : rowToRecord(rows[0]);
}

/** The decision that stands on an exception, as recorded. */
export interface RecordedDecision {
  readonly decision: ReviewDecision;
  readonly reviewer: string;
  readonly decidedAt: string;
}

/**
 * Records a decision with its reviewer and time if the exception is still undecided, and returns the
 * decision that stands: this one, or the one recorded first (exactly one decision wins; the
 * workflow adopts what the database holds, so the two always agree).
 */
export async function recordReviewDecision(
  pool: pg.Pool,
  exceptionId: string,
  decision: ReviewDecision,
  decidedAt: string,
): Promise<RecordedDecision> {
  const status: ExceptionStatus =
    decision.kind === 'approve' ? 'approved' : decision.kind === 'reject' ? 'rejected' : 'adjusted';
  await pool.query(
    `UPDATE review_exceptions SET status = $2, reviewer = $3, decision = $4, decided_at = $5
      WHERE exception_id = $1 AND decided_at IS NULL`,
    [exceptionId, status, decision.reviewer, JSON.stringify(decision), decidedAt],
  );
  const stored = await findReviewException(pool, exceptionId);
  if (stored?.decision === undefined || stored.reviewer === undefined || stored.decidedAt === undefined) {
    throw new Error(`exception ${exceptionId} has no decision after recording one`);
  }
  if (stored.decision.kind === 'resolved')
    throw new StoredDecisionError(`exception ${exceptionId} was resolved (${stored.decision.detail}), not decided`);
  return {
    decision: stored.decision,
    reviewer: stored.reviewer,
    decidedAt: stored.decidedAt,
  };
}

/**
 * Records an adjust as the exception's proposal (dual control) unless one is recorded already, and
 * returns the proposal that stands: this one, or the first (a retried activity finds its own).
 */
export async function recordReviewProposal(
  pool: pg.Pool,
  exceptionId: string,
  decision: AdjustDecision,
  proposedAt: string,
): Promise<{ decision: AdjustDecision; proposedBy: string; proposedAt: string }> {
  await pool.query(
    `UPDATE review_exceptions SET proposal = $2, proposed_by = $3, proposed_at = $4
      WHERE exception_id = $1 AND proposal IS NULL AND decided_at IS NULL`,
    [exceptionId, JSON.stringify(decision), decision.reviewer, proposedAt],
  );
  const stored = await findReviewException(pool, exceptionId);
  if (stored?.proposal === undefined) throw new Error(`exception ${exceptionId} has no proposal after recording one`);
  return { decision: stored.proposal.decision, proposedBy: stored.proposal.by, proposedAt: stored.proposal.at };
}

/** Closes an undecided exception because what it waited for happened (no person decided). */
export async function resolveReviewException(pool: pg.Pool, exceptionId: string, detail: string): Promise<void> {
  await pool.query(
    `UPDATE review_exceptions SET status = 'resolved', reviewer = 'tally', decision = $2, decided_at = now()
      WHERE exception_id = $1 AND decided_at IS NULL`,
    [exceptionId, JSON.stringify({ kind: 'resolved', detail })],
  );
}

/** Closes an undecided exception as resolved by a person (what corrected it in `detail`); false when already decided. */
export async function resolveReviewExceptionBy(
  pool: pg.Pool,
  input: { exceptionId: string; reviewer: string; detail: string },
): Promise<boolean> {
  const result = await pool.query(
    `UPDATE review_exceptions SET status = 'resolved', reviewer = $2, decision = $3, decided_at = now()
      WHERE exception_id = $1 AND decided_at IS NULL`,
    [input.exceptionId, input.reviewer, JSON.stringify({ kind: 'resolved', detail: input.detail })],
  );
  return result.rowCount === 1;
}

/**
 * Opens a decided exception again with a new context (its previous decision kept in it under
 * `previousDecision`): what was decided no longer describes what the exception is about.
 */
export async function reopenReviewException(
  pool: pg.Pool,
  input: { exceptionId: string; context: ExceptionContext<'reconciliation'> },
): Promise<boolean> {
  const result = await pool.query(
    `UPDATE review_exceptions
        SET status = 'open', escalated_at = NULL,
            context = $2::jsonb || jsonb_build_object('previousDecision',
              jsonb_build_object('status', status, 'reviewer', reviewer, 'decision', decision, 'decidedAt', decided_at)),
            reviewer = NULL, decision = NULL, decided_at = NULL
      WHERE exception_id = $1 AND decided_at IS NOT NULL`,
    [input.exceptionId, JSON.stringify(input.context)],
  );
  return result.rowCount === 1;
}

export async function markEscalated(pool: pg.Pool, exceptionId: string): Promise<boolean> {
  const result = await pool.query(
    `UPDATE review_exceptions SET status = 'escalated', escalated_at = now() WHERE exception_id = $1 AND status = 'open'`,
    [exceptionId],
  );
  return result.rowCount === 1;
}

export async function listReviewExceptions(
  pool: pg.Pool,
  filter: { status?: 'waiting' | ExceptionStatus; customerId?: string; kindPrefix?: string },
): Promise<ReviewExceptionRecord[]> {
  const conditions: string[] = [];
  const parameters: unknown[] = [];
  if (filter.kindPrefix !== undefined) {
    parameters.push(`${filter.kindPrefix.replace(/[\\%_]/g, (character) => `\\${character}`)}%`);
    conditions.push(`kind LIKE $${parameters.length}`);
  }
  if (filter.status === 'waiting') conditions.push("status IN ('open', 'escalated')");
  else if (filter.status !== undefined) {
    parameters.push(filter.status);
    conditions.push(`status = $${parameters.length}`);
  }
  if (filter.customerId !== undefined) {
    parameters.push(filter.customerId);
    conditions.push(`customer_id = $${parameters.length}`);
  }
  const { rows } = await pool.query<ExceptionRow>(
    `SELECT * FROM review_exceptions ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY opened_at, exception_id`,
    parameters,
  );
  return rows.map(rowToRecord);
}

/** Earlier decisions for the same customer: part of the context a reviewer sees. */
export async function priorDecisions(
  pool: pg.Pool,
  customerId: string,
  beforeExceptionId: string,
  limit = 10,
): Promise<ReviewExceptionRecord[]> {
  const { rows } = await pool.query<ExceptionRow>(
    `SELECT * FROM review_exceptions WHERE customer_id = $1 AND exception_id <> $2 AND decided_at IS NOT NULL
      ORDER BY decided_at DESC LIMIT $3`,
    [customerId, beforeExceptionId, limit],
  );
  return rows.map(rowToRecord);
}
