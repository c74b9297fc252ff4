import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { DecisionRequest } from '../contracts/console-api.ts';
import { recordAudit } from '../db/queries/audit-log.ts';
import { loadBackfillPlan } from '../db/queries/backfills.ts';
import { findInvoice } from '../db/queries/invoices.ts';
import { postedEntryKeys } from '../db/queries/journal.ts';
import {
  findReviewException,
  recordReviewDecision,
  resolveReviewExceptionBy,
  type ReviewExceptionRecord,
} from '../db/queries/review-exceptions.ts';
import { describeMoney } from '../domain/money.ts';
import { decideUpdate, type DecisionOutcome, type ReviewDecision } from '../workflows/definitions.ts';
import { AccessError } from './access-errors.ts';
import { auditActorOf, requirePermission, type AuthenticatedUser } from './accounts.ts';

/**
 * A person's decision on an exception: the one path the console and `tally review approve|reject|adjust`
 * share. The reviewer is the authenticated user (never a name from the request); the decision is the
 * workflow's `decide` update, whose validator refuses anything but the open exception; the outcome,
 * accepted or refused, goes to the audit log.
 */
export async function decideException(
  deps: { readonly pool: pg.Pool; readonly temporal: Client },
  user: AuthenticatedUser,
  exceptionId: string,
  request: DecisionRequest,
): Promise<DecisionOutcome & { readonly reviewer: string; readonly message: string }> {
  const audit = (
    action: 'exception_decided' | 'decision_proposed' | 'decision_refused',
    details: Record<string, string | boolean>,
  ) =>
    recordAudit(deps.pool, {
      actor: auditActorOf(user),
      action,
      subject: `exception:${exceptionId}`,
      details: { kind: request.kind, via: user.via, ...details },
    });
  try {
    requirePermission(user, 'decide_exception', 'decide exceptions');
  } catch (error) {
    await audit('decision_refused', { reason: 'role', role: user.role });
    throw error;
  }
  const exception = await findReviewException(deps.pool, exceptionId);
  if (exception === undefined) throw new AccessError('not_found', `no exception ${exceptionId}`);
  const decision = reviewDecision(exceptionId, user.username, request);
  try {
    const outcome =
      exception.kind === 'reconciliation'
        ? await recordReconciliationDecision(deps.pool, exception, decision)
        : await sendDecisionUpdate(deps.temporal, exception, decision);
    await audit(outcome.awaitingConfirmation === true ? 'decision_proposed' : 'exception_decided', {
      repeated: outcome.repeated,
      ...(outcome.confirmedBy === undefined
        ? {}
        : { decided_by: outcome.decidedBy ?? '', confirmed_by: outcome.confirmedBy }),
      workflow_id: exception.workflowId,
      ...(exception.invoiceId === null ? {} : { invoice_id: exception.invoiceId }),
      ...decisionDetails(decision),
    });
    const currency = decision.kind === 'adjust' ? await invoiceCurrencyOf(deps.pool, exception) : undefined;
    return { ...outcome, reviewer: user.username, message: describeDecisionOutcome(outcome, decision, currency) };
  } catch (error) {
    if (error instanceof AccessError)
      await audit('decision_refused', { reason: error.message, ...decisionDetails(decision) });
    throw error;
  }
}

/**
 * The currency an adjust's amount is in: the invoice's (the draft the exception holds, else the
 * invoice it names), else the contract's; undefined for an exception with none of them.
 */
async function invoiceCurrencyOf(pool: pg.Pool, exception: ReviewExceptionRecord): Promise<string | undefined> {
  const context = exception.context;
  if ('draft' in context && context.draft !== undefined) return context.draft.currency;
  if (exception.invoiceId !== null) {
    const invoice = await findInvoice(pool, exception.invoiceId);
    if (invoice !== undefined) return invoice.document.currency;
  }
  return 'contract' in context ? context.contract?.currency : undefined;
}

/**
 * What happened, in one sentence for the person who sent the decision (the CLI prints it, the console
 * shows it): who decided (a repeat names the first decider, not the repeater), or whose second
 * reviewer a dual-control adjust waits for. An adjust's amount names its currency (`adjust -250.00 USD`).
 */
function describeDecisionOutcome(outcome: DecisionOutcome, sent: ReviewDecision, currency: string | undefined): string {
  const amount = sent.kind === 'adjust' && currency !== undefined ? describeMoney(sent.amount, currency) : undefined;
  const what = sent.kind === 'adjust' ? `adjust ${amount ?? sent.amount}` : outcome.decision;
  const by = outcome.decidedBy ?? sent.reviewer;
  const at = outcome.decidedAt === undefined ? '' : ` at ${outcome.decidedAt}`;
  if (outcome.awaitingConfirmation === true)
    return `${outcome.exceptionId}: ${what} proposed by ${by}${at}; it applies once a second, different reviewer sends the same adjust`;
  const confirmed = outcome.confirmedBy === undefined ? '' : `, confirmed by ${outcome.confirmedBy}`;
  if (outcome.repeated)
    return `${outcome.exceptionId}: ${what} by ${by}${confirmed}${at} (already recorded; nothing changed)`;
  return `${outcome.exceptionId}: ${what} by ${by}${confirmed}`;
}

function reviewDecision(exceptionId: string, reviewer: string, request: DecisionRequest): ReviewDecision {
  switch (request.kind) {
    case 'approve': {
      const note = request.note ?? request.reason;
      return { kind: 'approve', exceptionId, reviewer, ...(note ? { note } : {}) };
    }
    case 'reject':
      return { kind: 'reject', exceptionId, reviewer, reason: request.reason };
    case 'adjust':
      return { kind: 'adjust', exceptionId, reviewer, reason: request.reason, amount: request.amount };
  }
}

function decisionDetails(decision: ReviewDecision): Record<string, string> {
  switch (decision.kind) {
    case 'approve':
      return decision.note ? { note: decision.note } : {};
    case 'reject':
      return { reason: decision.reason };
    case 'adjust':
      return { reason: decision.reason, amount: decision.amount };
  }
}

/**
 * A `reconciliation` difference (revenue/reconcile.ts) has no workflow waiting on it and no invoice
 * to hold: billing ops acknowledge it (approve, with a note saying why the difference is right),
 * recorded on the row; or resolve it by a correcting entry or a backfill (`resolveReconciliationException`).
 * A repeat of the decision that stands is a no-op; any other decision is refused.
 */
async function recordReconciliationDecision(
  pool: pg.Pool,
  exception: ReviewExceptionRecord,
  decision: ReviewDecision,
): Promise<DecisionOutcome> {
  const recorded = exception.decision;
  if (recorded?.kind === 'approve' && decision.kind === 'approve')
    return {
      exceptionId: exception.exceptionId,
      decision: 'approve',
      repeated: true,
      ...(exception.reviewer === undefined ? {} : { decidedBy: exception.reviewer }),
      ...(exception.decidedAt === undefined ? {} : { decidedAt: exception.decidedAt }),
    };
  if (recorded !== undefined)
    throw new AccessError(
      'decision_refused',
      `${exception.exceptionId} was already decided: ${recorded.kind} by ${exception.reviewer ?? '?'} at ${exception.decidedAt ?? '?'}`,
    );
  if (decision.kind !== 'approve' || decision.note === undefined || decision.note.trim() === '')
    throw new AccessError(
      'decision_refused',
      `${exception.exceptionId}: a reconciliation difference is acknowledged (approve with a note saying why it stands) or resolved by a correcting entry or a backfill (tally review resolve); there is no invoice to reject or adjust`,
    );
  const stored = await recordReviewDecision(pool, exception.exceptionId, decision, new Date().toISOString());
  return {
    exceptionId: exception.exceptionId,
    decision: 'approve',
    repeated: stored.reviewer !== decision.reviewer || stored.decision.kind !== 'approve',
    decidedBy: stored.reviewer,
    decidedAt: stored.decidedAt,
  };
}

/**
 * Resolves a `reconciliation` difference by what corrected it: a journal entry in the ledger (a
 * correcting posting) or a backfill plan (`tally backfill`), named and checked to exist, with a
 * note. Recorded on the row (status `resolved`, the user as reviewer) and in the audit log.
 */
export async function resolveReconciliationException(
  pool: pg.Pool,
  user: AuthenticatedUser,
  exceptionId: string,
  input: { entryKey?: string; backfillId?: string; note: string },
): Promise<{ exceptionId: string; detail: string; repeated: boolean }> {
  requirePermission(user, 'decide_exception', 'decide exceptions');
  const exception = await findReviewException(pool, exceptionId);
  if (exception === undefined) throw new AccessError('not_found', `no exception ${exceptionId}`);
  if (exception.kind !== 'reconciliation')
    throw new AccessError(
      'decision_refused',
      `${exceptionId} is a ${exception.kind} exception: decide it with approve, reject or adjust`,
    );
  if ((input.entryKey === undefined) === (input.backfillId === undefined))
    throw new AccessError(
      'decision_refused',
      `${exceptionId}: name the correcting journal entry or the backfill, one of them`,
    );
  if (input.note.trim() === '') throw new AccessError('decision_refused', `${exceptionId}: a resolution needs a note`);
  if (input.entryKey !== undefined && !(await postedEntryKeys(pool, [input.entryKey])).has(input.entryKey))
    throw new AccessError('not_found', `${exceptionId}: no journal entry ${input.entryKey} in the ledger`);
  if (input.backfillId !== undefined && (await loadBackfillPlan(pool, input.backfillId)) === undefined)
    throw new AccessError('not_found', `${exceptionId}: no backfill ${input.backfillId}`);
  const by = input.entryKey === undefined ? `backfill ${input.backfillId ?? ''}` : `journal entry ${input.entryKey}`;
  const detail = `resolved by ${by} (${user.username}): ${input.note}`;
  const resolved = await resolveReviewExceptionBy(pool, { exceptionId, reviewer: user.username, detail });
  if (!resolved) {
    const stored = await findReviewException(pool, exceptionId);
    if (stored?.decision?.kind === 'resolved' && stored.decision.detail === detail)
      return { exceptionId, detail, repeated: true };
    throw new AccessError(
      'decision_refused',
      `${exceptionId} was already decided: ${stored?.decision?.kind ?? '?'} by ${stored?.reviewer ?? '?'} at ${stored?.decidedAt ?? '?'}`,
    );
  }
  await recordAudit(pool, {
    actor: auditActorOf(user),
    action: 'exception_decided',
    subject: `exception:${exceptionId}`,
    details: {
      kind: 'resolve',
      via: user.via,
      note: input.note,
      ...(input.entryKey === undefined ? {} : { entry_key: input.entryKey }),
      ...(input.backfillId === undefined ? {} : { backfill: input.backfillId }),
    },
  });
  return { exceptionId, detail, repeated: false };
}

/**
 * Sends a decision to the workflow that waits on the exception. A decision already recorded (the
 * workflow may have finished since) is answered from the row: the same kind is a repeat, another
 * is refused with who decided what and when.
 */
async function sendDecisionUpdate(
  client: Client,
  exception: Pick<ReviewExceptionRecord, 'exceptionId' | 'workflowId'> &
    Partial<Pick<ReviewExceptionRecord, 'decision' | 'reviewer' | 'decidedAt'>>,
  decision: ReviewDecision,
): Promise<DecisionOutcome> {
  const recorded = exception.decision;
  if (recorded !== undefined && recorded.kind !== 'resolved') {
    // A repeat: the outcome names who made the decision that stands, never the one repeating it.
    if (recorded.kind === decision.kind)
      return {
        exceptionId: exception.exceptionId,
        decision: decision.kind,
        repeated: true,
        ...(exception.reviewer == null ? {} : { decidedBy: exception.reviewer }),
        ...(exception.decidedAt == null ? {} : { decidedAt: exception.decidedAt }),
      };
    throw new AccessError(
      'decision_refused',
      `${exception.exceptionId} was already decided: ${recorded.kind} by ${exception.reviewer ?? '?'} at ${exception.decidedAt ?? '?'}`,
    );
  }
  try {
    return await client.workflow.getHandle(exception.workflowId).executeUpdate(decideUpdate, { args: [decision] });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
    throw new AccessError(
      'decision_refused',
      `${exception.exceptionId}: ${cause ?? (error instanceof Error ? error.message : String(error))}`,
    );
  }
}
