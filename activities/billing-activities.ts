import { ApplicationFailure, Context } from '@temporalio/activity';
import type pg from 'pg';
import type { Contract } from '../contracts/contract.ts';
import type { AdjustmentLine, Invoice, IssuedInvoice } from '../contracts/invoice.ts';
import type { ProviderTarget } from '../contracts/provider-sync.ts';
import { withTransaction } from '../db/pool.ts';
import {
  recordCreditConsumptions,
  recordCreditExpiries,
  recordCreditGrants,
  usableCredits,
  CreditLedgerWriteError,
} from '../db/queries/credit-ledger.ts';
import {
  findInvoice,
  listInvoices,
  lockInvoice,
  markHeld,
  markIssued,
  nextInvoiceNumber,
  previousIssuedInvoices,
  replaceDraftDocument,
  saveDraftInvoice,
  type InvoiceRecord,
} from '../db/queries/invoices.ts';
import { postInvoiceJournal } from '../db/queries/journal.ts';
import { claimLateEvents, lateEventClaims, releaseLateEventClaims } from '../db/queries/late-events.ts';
import { enqueueNotification, recordDeliveryAttempt } from '../db/queries/notifications.ts';
import { closePeriodForIngest, loadSnapshot, saveSnapshot } from '../db/queries/period-snapshots.ts';
import {
  loadUsageAggregates,
  loadUsageAggregatesWithEventSet,
  type UsageAggregateQueryOptions,
} from '../db/queries/usage-aggregates.ts';
import {
  findReviewException,
  markEscalated,
  openReviewException,
  priorDecisions,
  recordReviewDecision,
} from '../db/queries/review-exceptions.ts';
import { appendLinesAfterCredits, lateAdjustmentLines } from '../domain/adjustments.ts';
import { creditMovementsFromInvoice } from '../domain/credit-ledger/index.ts';
import { commitDueForPeriod } from '../domain/journal/index.ts';
import { Decimal, formatMoney } from '../domain/money.ts';
import { billingPeriod } from '../domain/period.ts';
import { ratePeriod, usageAggregationPlan, type CreditBalance } from '../domain/rating/index.ts';
import { evaluateReview as evaluateReviewPolicy, type ReviewBreach } from '../domain/review.ts';
import type { BillingProviders } from '../providers/index.ts';
import { ProviderError } from '../providers/provider-error.ts';
import type { WebhookNotifier } from '../providers/webhook-notifier.ts';
import type { ReviewDecision, RunMode } from '../workflows/definitions.ts';
import type { CustomerTerms } from './customer-terms.ts';

export interface BillingDependencies {
  readonly pool: pg.Pool;
  /** The customer's contract and the versions of its rate card (Finance's files). */
  readonly loadTerms: (customerId: string) => Promise<CustomerTerms>;
  readonly providers: BillingProviders;
  readonly notifier: WebhookNotifier;
}

interface PeriodTarget {
  readonly customerId: string;
  readonly period: string;
  readonly mode: RunMode;
  readonly calculationVersion: string;
}

/** The live invoice of a customer-period has one id for life; shadow drafts are per calculation version. */
export function invoiceIdFor(target: PeriodTarget): string {
  return target.mode === 'live'
    ? `inv:${target.customerId}:${target.period}`
    : `shadow:${target.customerId}:${target.period}:${target.calculationVersion}`;
}

/**
 * The side effects of the customer-period workflow. Each is idempotent: writes are keyed by ids
 * derived from the workflow input, so a retry, a crash and restart, or a replay changes nothing twice.
 */
export function createBillingActivities(deps: BillingDependencies) {
  const { pool } = deps;

  async function requireInvoice(invoiceId: string): Promise<InvoiceRecord> {
    const record = await findInvoice(pool, invoiceId);
    if (record === undefined)
      throw ApplicationFailure.nonRetryable(`invoice ${invoiceId} does not exist`, 'invoice_missing');
    return record;
  }

  /** Rates a period straight from stored events (re-rating a closed period with its late usage). */
  async function rateStoredEvents(
    target: PeriodTarget,
    terms: CustomerTerms,
    lateEvents: UsageAggregateQueryOptions['lateEvents'],
    credits: readonly CreditBalance[],
  ): Promise<Invoice> {
    const period = billingPeriod(target.period);
    const plan = usageAggregationPlan(terms.versions, period);
    const aggregates = await loadUsageAggregates(pool, plan, { customerId: target.customerId, lateEvents });
    const counters = {
      read: aggregates.reduce((sum, aggregate) => sum + aggregate.eventCount, 0),
      duplicates: 0,
      outside_period: 0,
    };
    return ratePeriod({
      customerId: target.customerId,
      period,
      contract: terms.contract,
      versions: terms.versions,
      aggregates,
      counters,
      credits,
      calculationVersion: target.calculationVersion,
    });
  }

  /** Late events of earlier, issued periods that this invoice bills as adjustments (claimed once, for good). */
  async function lateAdjustments(
    target: PeriodTarget,
    invoiceId: string,
    terms: CustomerTerms,
  ): Promise<AdjustmentLine[]> {
    await claimLateEvents(pool, {
      customerId: target.customerId,
      beforePeriodStart: billingPeriod(target.period).start,
      adjustingInvoiceId: invoiceId,
    });
    const claims = await lateEventClaims(pool, invoiceId);
    const lines: AdjustmentLine[] = [];
    for (const claim of claims) {
      const corrected = await requireInvoice(claim.correctedInvoiceId);
      const rerated = await rateStoredEvents(
        { ...target, period: corrected.period },
        terms,
        { adjustedFor: claim.correctedInvoiceId },
        [],
      );
      const earlier = (await listInvoices(pool, { customerId: target.customerId, status: 'issued' }))
        .flatMap((record) => record.document.lines)
        .filter(
          (line): line is AdjustmentLine =>
            line.kind === 'adjustment' && line.corrects_invoice_id === claim.correctedInvoiceId,
        );
      lines.push(
        ...lateAdjustmentLines({
          corrected: corrected.document as IssuedInvoice,
          rerated,
          earlierAdjustments: earlier,
          reason: `late usage: ${claim.eventCount} events of ${corrected.period} received after its invoice closed`,
        }),
      );
    }
    return lines;
  }

  return {
    /** When the period closes: period end + grace (the input overrides the contract's grace). */
    async loadPeriodTerms(
      input: PeriodTarget & { graceMs: number | undefined },
    ): Promise<{ closesAt: string; currency: string; providerKind: 'ledger' | 'stripe' }> {
      const terms = await deps.loadTerms(input.customerId);
      const graceMs = input.graceMs ?? terms.graceMs;
      return {
        closesAt: new Date(Date.parse(billingPeriod(input.period).end) + graceMs).toISOString(),
        currency: terms.contract.currency,
        providerKind: terms.contract.provider?.kind ?? 'ledger',
      };
    },

    /** Step 1: close the period for ingest (live), then aggregate and fingerprint its exact event set. */
    async snapshotPeriod(
      input: PeriodTarget & { closeRequestedAt: string },
    ): Promise<{ snapshotId: string; eventCutoff: string; eventCount: number; fingerprint: string }> {
      const snapshotId = `snap:${input.customerId}:${input.period}:${input.mode}:${input.calculationVersion}`;
      const existing = await loadSnapshot(pool, snapshotId);
      if (existing !== undefined) {
        return {
          snapshotId,
          eventCutoff: existing.eventCutoff,
          eventCount: existing.eventCount,
          fingerprint: existing.eventFingerprint,
        };
      }
      const period = billingPeriod(input.period);
      const eventCutoff =
        input.mode === 'live'
          ? await closePeriodForIngest(pool, input.customerId, input.period, input.closeRequestedAt)
          : input.closeRequestedAt;
      const terms = await deps.loadTerms(input.customerId);
      // One read of the period's rows gives the aggregates and the event set's count and fingerprint
      // (the events not late: those committed before the closure).
      const { aggregates, eventSet: summary } = await loadUsageAggregatesWithEventSet(
        pool,
        usageAggregationPlan(terms.versions, period),
        {
          customerId: input.customerId,
          lateEvents: 'exclude',
        },
      );
      // A regular activity reports progress; a local one (the current workflow) has no heartbeat.
      if (!Context.current().info.isLocal) Context.current().heartbeat('aggregated');
      const stored = await saveSnapshot(pool, {
        snapshotId,
        customerId: input.customerId,
        period: input.period,
        mode: input.mode,
        calculationVersion: input.calculationVersion,
        eventCutoff,
        eventCount: summary.eventCount,
        eventFingerprint: summary.fingerprint,
        aggregates,
        counters: { read: summary.eventCount, duplicates: 0, outside_period: 0 },
      });
      return {
        snapshotId,
        eventCutoff: stored.eventCutoff,
        eventCount: stored.eventCount,
        fingerprint: stored.eventFingerprint,
      };
    },

    /**
     * Step 2: rate the whole period from the snapshot, with credits at the ledger's opening balances,
     * plus adjustments for late usage of earlier periods (live). Stores the draft.
     */
    async rateDraftInvoice(
      input: PeriodTarget & { snapshotId: string },
    ): Promise<{ invoiceId: string; total: string; currency: string }> {
      const invoiceId = invoiceIdFor(input);
      const current = await findInvoice(pool, invoiceId);
      if (current !== undefined && current.status !== 'draft') {
        return { invoiceId, total: current.document.total, currency: current.document.currency };
      }
      const snapshot = await loadSnapshot(pool, input.snapshotId);
      if (snapshot === undefined)
        throw ApplicationFailure.nonRetryable(`snapshot ${input.snapshotId} does not exist`, 'snapshot_missing');
      const terms = await deps.loadTerms(input.customerId);
      const credits =
        input.mode === 'live'
          ? await ledgerCredits(pool, terms.contract, input.period)
          : creditsFromContract(terms.contract);
      let document = ratePeriod({
        customerId: input.customerId,
        period: billingPeriod(input.period),
        contract: terms.contract,
        versions: terms.versions,
        aggregates: snapshot.aggregates,
        counters: snapshot.counters,
        credits,
        calculationVersion: input.calculationVersion,
      });
      if (input.mode === 'live') {
        // The draft row must exist before late events can be claimed for it.
        await saveDraftInvoice(pool, {
          invoiceId,
          mode: input.mode,
          calculationVersion: input.calculationVersion,
          snapshotId: input.snapshotId,
          document,
        });
        document = appendLinesAfterCredits(document, await lateAdjustments(input, invoiceId, terms));
      }
      const saved = await saveDraftInvoice(pool, {
        invoiceId,
        mode: input.mode,
        calculationVersion: input.calculationVersion,
        snapshotId: input.snapshotId,
        document,
      });
      return { invoiceId, total: saved.document.total, currency: saved.document.currency };
    },

    /** Step 3: record the draft's credit draws in the ledger, keyed by (invoice, credit): a retry draws once. */
    async drawDownCredits(input: { invoiceId: string }): Promise<{ draws: number }> {
      const record = await requireInvoice(input.invoiceId);
      if (record.status === 'held') return { draws: 0 };
      const movements = creditMovementsFromInvoice({ ...record.document, ...issuedIdentity(record) } as IssuedInvoice);
      try {
        const result = await recordCreditConsumptions(pool, movements);
        return { draws: result.recorded + result.existing };
      } catch (error) {
        if (error instanceof CreditLedgerWriteError) throw ApplicationFailure.nonRetryable(error.message, error.code);
        throw error;
      }
    },

    /** Step 4a: the thresholds the draft crosses. */
    async evaluateReview(input: { invoiceId: string }): Promise<ReviewBreach[]> {
      const record = await requireInvoice(input.invoiceId);
      const terms = await deps.loadTerms(record.customerId);
      const previous = await previousIssuedInvoices(pool, record.customerId, record.period, 1);
      const document = record.document;
      return evaluateReviewPolicy(
        {
          total: document.total,
          currency: document.currency,
          previousTotal: previous[0]?.document.total,
          unpricedEventCount: document.unpriced.reduce((sum, unpriced) => sum + unpriced.event_count, 0),
          adjustmentLines: document.lines.filter((line) => line.kind === 'adjustment').map((line) => line.amount),
        },
        {
          ...(terms.contract.review?.total_above === undefined
            ? {}
            : { totalAbove: terms.contract.review.total_above }),
          ...(terms.contract.review?.change_pct_above === undefined
            ? {}
            : { changePctAbove: terms.contract.review.change_pct_above }),
          ...(terms.contract.review?.adjustment_above === undefined
            ? {}
            : { adjustmentAbove: terms.contract.review.adjustment_above }),
        },
      );
    },

    /** Step 4b: an exception with everything a reviewer needs: usage, contract, draft, previous invoices, prior decisions. */
    async openException(input: {
      invoiceId: string;
      workflowId: string;
      kind: 'threshold' | 'provider_sync_failed';
      sequence: number;
      breaches: readonly ReviewBreach[];
    }): Promise<{ exceptionId: string; reviewTimeoutMs: number }> {
      const record = await requireInvoice(input.invoiceId);
      const terms = await deps.loadTerms(record.customerId);
      const exceptionId = `exc:${input.invoiceId}:${input.kind}:${input.sequence}`;
      const previous = await previousIssuedInvoices(pool, record.customerId, record.period, 3);
      const prior = await priorDecisions(pool, record.customerId, exceptionId);
      await openReviewException(pool, {
        exceptionId,
        invoiceId: input.invoiceId,
        customerId: record.customerId,
        period: record.period,
        kind: input.kind,
        breaches: input.breaches,
        workflowId: input.workflowId,
        context: {
          draft: record.document,
          usage: record.document.lines.filter((line) => line.kind === 'usage'),
          contract: terms.contract,
          previousInvoices: previous.map((invoice) => ({
            invoiceId: invoice.invoiceId,
            invoiceNumber: invoice.invoiceNumber,
            period: invoice.period,
            total: invoice.document.total,
          })),
          priorDecisions: prior.map((decided) => ({
            exceptionId: decided.exceptionId,
            status: decided.status,
            reviewer: decided.reviewer,
            decidedAt: decided.decidedAt,
            decision: decided.decision,
          })),
        },
      });
      return { exceptionId, reviewTimeoutMs: terms.reviewTimeoutMs };
    },

    async recordDecision(input: { exceptionId: string; decision: ReviewDecision }): Promise<void> {
      await recordReviewDecision(pool, input.exceptionId, input.decision);
    },

    /** The review timed out: flag it and notify, never approve. */
    async escalateException(input: { exceptionId: string; waitedMs: number }): Promise<void> {
      const exception = await findReviewException(pool, input.exceptionId);
      if (exception === undefined)
        throw ApplicationFailure.nonRetryable(`exception ${input.exceptionId} does not exist`, 'exception_missing');
      await markEscalated(pool, input.exceptionId);
      const notificationKey = `escalation:${input.exceptionId}`;
      const payload = {
        kind: 'review_escalated',
        exceptionId: input.exceptionId,
        customerId: exception.customerId,
        period: exception.period,
        invoiceId: exception.invoiceId,
        waitedMs: input.waitedMs,
        breaches: exception.breaches,
      };
      await enqueueNotification(pool, {
        notificationKey,
        kind: 'review_escalated',
        customerId: exception.customerId,
        period: exception.period,
        payload,
      });
      await deliverNotification(deps, notificationKey, payload);
    },

    /** A reviewer's explicit adjustment: one line with the reason, after credits. */
    async applyReviewAdjustment(input: {
      invoiceId: string;
      exceptionId: string;
      amount: string;
      reason: string;
      reviewer: string;
    }): Promise<void> {
      await withTransaction(pool, async (client) => {
        const record = await lockInvoice(client, input.invoiceId);
        if (record.status !== 'draft') return;
        const lineKey = `review_adjustment:${input.exceptionId}`;
        if (record.document.lines.some((line) => line.line_key === lineKey)) return;
        const line: AdjustmentLine = {
          kind: 'adjustment',
          line_key: lineKey,
          corrects_period: record.period,
          corrects_invoice_id: record.invoiceId,
          reason: `${input.reason} (review ${input.exceptionId} by ${input.reviewer})`,
          amount: formatMoney(new Decimal(input.amount), record.document.currency),
        };
        await replaceDraftDocument(client, input.invoiceId, appendLinesAfterCredits(record.document, [line]));
      });
    },

    /** Rejected in review: the invoice is held, nothing is synced, late events it claimed go back to the queue. */
    async holdInvoice(input: { invoiceId: string; exceptionId: string; reason: string }): Promise<void> {
      await markHeld(pool, input.invoiceId, `${input.reason} (${input.exceptionId})`);
      await releaseLateEventClaims(pool, input.invoiceId);
    },

    /** Step 5: issue: numbered, immutable, with its cut-off and event fingerprint. */
    async issueInvoice(input: { invoiceId: string }): Promise<{ invoiceNumber: string; total: string }> {
      return withTransaction(pool, async (client) => {
        const record = await lockInvoice(client, input.invoiceId);
        if (record.status === 'issued')
          return { invoiceNumber: record.invoiceNumber ?? '', total: record.document.total };
        if (record.status === 'held')
          throw ApplicationFailure.nonRetryable(`invoice ${input.invoiceId} is held`, 'invoice_held');
        const snapshot = await loadSnapshot(pool, record.snapshotId);
        if (snapshot === undefined)
          throw ApplicationFailure.nonRetryable(`snapshot ${record.snapshotId} does not exist`, 'snapshot_missing');
        const invoiceNumber = await nextInvoiceNumber(client, record.customerId);
        const issued: IssuedInvoice = {
          ...record.document,
          invoice_id: record.invoiceId,
          invoice_number: invoiceNumber,
          issued_at: new Date().toISOString(),
          event_cutoff: snapshot.eventCutoff,
          event_fingerprint: snapshot.eventFingerprint,
        };
        await markIssued(client, record.invoiceId, issued);
        return { invoiceNumber, total: issued.total };
      });
    },

    /** Step 6: the provider named by the contract (the ledger sink when none), with exactly-once effect. */
    async syncInvoice(input: { invoiceId: string }): Promise<{ externalInvoiceId: string }> {
      const record = await requireInvoice(input.invoiceId);
      if (record.status !== 'issued')
        throw ApplicationFailure.nonRetryable(`invoice ${input.invoiceId} is not issued`, 'invoice_not_issued');
      const terms = await deps.loadTerms(record.customerId);
      const target: ProviderTarget =
        terms.contract.provider?.kind === 'stripe'
          ? { kind: 'stripe', customer: terms.contract.provider.customer }
          : { kind: 'ledger', customer: terms.contract.provider?.customer ?? record.customerId };
      try {
        const result = await deps.providers.forTarget(target).syncInvoice(record.document as IssuedInvoice, target);
        return { externalInvoiceId: result.external_invoice_id };
      } catch (error) {
        if (error instanceof ProviderError && !error.retryable)
          throw ApplicationFailure.nonRetryable(error.message, error.code);
        throw error;
      }
    },

    async markSyncAbandoned(input: { invoiceId: string; exceptionId: string; reason: string }): Promise<void> {
      const record = await requireInvoice(input.invoiceId);
      await enqueueNotification(pool, {
        notificationKey: `sync_abandoned:${input.invoiceId}:${input.exceptionId}`,
        kind: 'sync_abandoned',
        customerId: record.customerId,
        period: record.period,
        payload: { invoiceId: input.invoiceId, exceptionId: input.exceptionId, reason: input.reason },
      });
    },

    /** Step 7: ASC 606 entries, keyed by (source, type, calculation version); then expire what the period let lapse. */
    async postJournal(input: { invoiceId: string }): Promise<{ posted: number; alreadyPosted: number }> {
      const record = await requireInvoice(input.invoiceId);
      if (record.status !== 'issued')
        throw ApplicationFailure.nonRetryable(`invoice ${input.invoiceId} is not issued`, 'invoice_not_issued');
      const terms = await deps.loadTerms(record.customerId);
      const result = await postInvoiceJournal(pool, {
        invoice: record.document as IssuedInvoice,
        // The commit the invoice was rated against: prorated when the contract covers part of the period.
        policy: {
          commitPolicy: terms.contract.revenue.commit_policy,
          commitAmount: commitDueForPeriod(record.document.lines, terms.contract.commit?.amount),
        },
      });
      await recordCreditExpiries(pool, { asOf: billingPeriod(record.period).end, customerId: record.customerId });
      return { posted: result.posted.length, alreadyPosted: result.alreadyPosted.length };
    },
  };
}

export type BillingActivities = ReturnType<typeof createBillingActivities>;

/** Records the contract's grants in the ledger (idempotent), then reads the period's opening balances. */
async function ledgerCredits(pool: pg.Pool, contract: Contract, period: string): Promise<CreditBalance[]> {
  if (contract.credits.length > 0) {
    await recordCreditGrants(pool, {
      customerId: contract.customer_id,
      currency: contract.currency,
      grants: contract.credits,
    });
  }
  return (await usableCredits(pool, { customerId: contract.customer_id, period })).map((credit) => ({
    id: credit.credit_id,
    kind: credit.kind,
    remaining: credit.opening_balance,
    granted_at: credit.granted_at,
    ...(credit.expires_at === null ? {} : { expires_at: credit.expires_at }),
  }));
}

/** Shadow runs never touch the ledger: they draw from the contract's grants as written. */
function creditsFromContract(contract: Contract): CreditBalance[] {
  return contract.credits.map((credit) => ({
    id: credit.id,
    kind: credit.kind,
    remaining: credit.amount,
    granted_at: credit.granted_at,
    ...(credit.expires_at === undefined ? {} : { expires_at: credit.expires_at }),
  }));
}

function issuedIdentity(record: InvoiceRecord): Pick<IssuedInvoice, 'invoice_id'> {
  return { invoice_id: record.invoiceId };
}

/** One delivery attempt; an undelivered notification stays on record for the worker's retry loop. */
export async function deliverNotification(
  deps: Pick<BillingDependencies, 'pool' | 'notifier'>,
  notificationKey: string,
  payload: Record<string, unknown>,
): Promise<boolean> {
  try {
    await deps.notifier.notify(notificationKey, payload);
    await recordDeliveryAttempt(deps.pool, notificationKey, undefined);
    return true;
  } catch (error) {
    await recordDeliveryAttempt(deps.pool, notificationKey, error instanceof Error ? error.message : String(error));
    return false;
  }
}
