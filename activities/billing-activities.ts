import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { ContractSchema, type BillingAuthority, type Contract } from '../contracts/contract.ts';
import type { AdjustmentLine, Invoice, IssuedInvoice } from '../contracts/invoice.ts';
import { isProductSignal, type ProductSignals } from '../contracts/product-signals.ts';
import type { ProviderTarget } from '../contracts/provider-sync.ts';
import type { CloseExceptionKind } from '../contracts/review-exception.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { ADVISORY_LOCKS } from '../db/advisory-locks.ts';
import { withTransaction } from '../db/pool.ts';
import {
  claimBackfillAdjustments,
  customerHasCorrections,
  releaseBackfillAdjustments,
} from '../db/queries/backfills.ts';
import { recordCreditConsumptions, usableCredits } from '../db/queries/credit-ledger.ts';
import { recordCreditExpiries, recordCreditGrants } from './credit-ledger.ts';
import { appendAuditEntry } from '../db/queries/audit-log.ts';
import {
  findPeriodAuthority,
  latestAuthorityFlip,
  lockCustomerAuthority,
  recordPeriodAuthority,
  type PeriodAuthority,
} from '../db/queries/billing-authority.ts';
import {
  earlierOpenPeriods,
  ensureCustomerPeriod,
  lastIssuedPeriod,
  periodOutcome,
  recordPeriodOutcome,
  reopenHeldPeriod,
} from '../db/queries/customer-periods.ts';
import {
  currentLiveInvoice,
  findInvoice,
  lockInvoice,
  markHeld,
  markIssued,
  markLeftToLegacy,
  markSkipped,
  markVoided,
  nextInvoiceNumber,
  previousIssuedInvoices,
  replaceDraftDocument,
  saveDraftInvoice,
  type InvoiceRecord,
} from '../db/queries/invoices.ts';
import { postInvoiceJournal } from './post-journal.ts';
import { claimLateEvents, lateEventClaims, releaseLateEventClaims } from '../db/queries/late-events.ts';
import { enqueueNotification, recordDeliveryAttempt } from '../db/queries/notifications.ts';
import {
  claimRerunLateEvents,
  findPeriodRerun,
  recordPeriodRerun,
  takeInRerunLateEvents,
} from '../db/queries/period-reruns.ts';
import {
  closePeriodForIngest,
  loadSnapshot,
  saveSnapshot,
  type SnapshotRecord,
} from '../db/queries/period-snapshots.ts';
import {
  findReviewException,
  markEscalated,
  openReviewException,
  priorDecisions,
  recordReviewDecision,
  recordReviewProposal,
  resolveReviewException,
  type ExceptionKind,
} from '../db/queries/review-exceptions.ts';
import {
  loadUsageAggregates,
  loadUsageAggregatesWithEventSet,
  type UsageAggregateQueryOptions,
} from '../db/queries/usage-aggregates.ts';
import { appendLinesAfterCredits, lateAdjustmentLines } from '../domain/adjustments.ts';
import { creditMovementsFromInvoice } from '../domain/credit-ledger/index.ts';
import { authorityInForce } from '../domain/shadow/index.ts';
import { commitDueForPeriod } from '../domain/journal/index.ts';
import { Decimal, formatDecimal, formatMoney, sumDecimals } from '../domain/money.ts';
import { billingPeriod, type BillingPeriod } from '../domain/period.ts';
import { liveInvoiceId, rerunSuffix } from '../domain/period-rerun.ts';
import { ratePeriod, usageAggregationPlan, type CreditBalance } from '../domain/rating/index.ts';
import { evaluateReview as evaluateReviewPolicy, type ReviewBreach } from '../domain/review.ts';
import type { IngestWatermark } from '../ingest/ingest-watermark.ts';
import type { BillingProviders } from '../providers/index.ts';
import type { WebhookNotifier } from '../providers/webhook-notifier.ts';
import {
  recordedTermsOf,
  UnknownCustomerError,
  UnpublishedRateCardError,
  type CustomerTerms,
  type TermsSource,
} from '../terms/index.ts';
import type { PeriodRerun, ReviewDecision, RunMode } from '../workflows/definitions.ts';

export interface BillingDependencies {
  readonly pool: pg.Pool;
  /** The published contracts and rate cards (never a worker's files). */
  readonly terms: TermsSource;
  readonly providers: BillingProviders;
  readonly notifier: WebhookNotifier;
  /**
   * The ingest consumer's watermark, when this worker knows the usage stream: a live close waits
   * until everything the stream received before its cut-off is committed.
   */
  readonly ingestWatermark?: () => Promise<IngestWatermark>;
  /**
   * The SKUs designated product signals (contracts/product-signals.ts): their usage is reported as
   * unpriced on the invoice, like any usage no price rates, but it is telemetry, never billable, so it
   * does not stop the close for a person. Absent: none.
   */
  readonly productSignals?: ProductSignals;
}

interface PeriodTarget {
  readonly customerId: string;
  readonly period: string;
  readonly mode: RunMode;
  readonly calculationVersion: string;
  /** A shadow run's own snapshot and draft (absent: the calculation version's, as before shadow runs). */
  readonly shadowRunId?: string | undefined;
  /** Live: re-run n of a held period, with its own snapshot and draft (absent: the first close). */
  readonly rerun?: number | undefined;
}

/** A contract's grace when a period has no contract yet (the contract schema's default). */
const DEFAULT_GRACE_MS = 3_600_000;

class InvoiceMissingError extends TallyError {
  constructor(what: string) {
    super('invoice_missing', what, { permanent: true });
  }
}

/** A re-run asked of a period that is not held (anymore): nothing to void, nothing re-rated. */
class PeriodNotHeldError extends TallyError {
  constructor(what: string) {
    super('period_not_held', what, { permanent: true });
  }
}

/** The live invoice of a customer-period has one id for life; shadow drafts are per calculation version. */
export function invoiceIdFor(target: PeriodTarget): string {
  if (target.mode === 'live') return liveInvoiceId(target.customerId, target.period, target.rerun);
  const base = `shadow:${target.customerId}:${target.period}:${target.calculationVersion}`;
  return target.shadowRunId === undefined ? base : `${base}:run:${target.shadowRunId}`;
}

/** The snapshot of a customer-period: one live; one per calculation version in shadow, or per shadow run. */
function snapshotIdFor(target: PeriodTarget): string {
  const base = `snap:${target.customerId}:${target.period}:${target.mode}:${target.calculationVersion}`;
  if (target.mode === 'live') return `${base}${rerunSuffix(target.rerun)}`;
  return target.shadowRunId !== undefined ? `${base}:run:${target.shadowRunId}` : base;
}

/** What the snapshot step found: the snapshot, something to wait for, or something a person must decide. */
export type SnapshotOutcome =
  | {
      readonly status: 'snapshotted';
      readonly snapshotId: string;
      readonly eventCutoff: string;
      readonly eventCount: number;
      readonly fingerprint: string;
    }
  | { readonly status: 'waiting'; readonly reason: 'earlier_period' | 'ingest'; readonly detail: string }
  | {
      readonly status: 'exception';
      readonly kind: Extract<ExceptionKind, 'unknown_customer' | 'unpublished_ratecard'>;
      readonly breaches: readonly ReviewBreach[];
    };

/**
 * The side effects of the customer-period workflow. Each is idempotent: writes are keyed by ids
 * derived from the workflow input, so a retry, a crash and restart, or a replay changes nothing twice.
 * Known failures are TallyErrors; the worker's activity interceptor makes the permanent ones final.
 */
export function createBillingActivities(deps: BillingDependencies) {
  const { pool } = deps;

  async function requireInvoice(invoiceId: string): Promise<InvoiceRecord> {
    const record = await findInvoice(pool, invoiceId);
    if (record === undefined) throw new InvoiceMissingError(`invoice ${invoiceId} does not exist`);
    return record;
  }

  async function requireSnapshot(snapshotId: string): Promise<SnapshotRecord> {
    const snapshot = await loadSnapshot(pool, snapshotId);
    if (snapshot === undefined) throw new InvoiceMissingError(`snapshot ${snapshotId} does not exist`);
    return snapshot;
  }

  /**
   * The terms a snapshot was taken under, exactly (rate cards by hash). A snapshot from before terms
   * were recorded is read with the current contract and the versions its invoice recorded.
   */
  async function termsOfSnapshot(snapshot: SnapshotRecord, invoice?: InvoiceRecord): Promise<CustomerTerms> {
    if (snapshot.contractHash !== undefined && snapshot.ratecardVersions !== undefined) {
      return deps.terms.recorded(snapshot.customerId, {
        contractHash: snapshot.contractHash,
        ratecardVersions: snapshot.ratecardVersions,
      });
    }
    const current = await deps.terms.current(snapshot.customerId);
    if (invoice === undefined) return current;
    return deps.terms.recorded(snapshot.customerId, {
      contractHash: current.contractHash,
      ratecardVersions: invoice.document.ratecard_versions,
    });
  }

  /** Rates a closed period from stored events under `terms` (re-rating it for late usage), credits aside. */
  async function rateStoredEvents(
    customerId: string,
    period: BillingPeriod,
    terms: CustomerTerms,
    lateEvents: UsageAggregateQueryOptions['lateEvents'],
    calculationVersion: string,
  ): Promise<Invoice> {
    const plan = usageAggregationPlan(terms.versions, period);
    const aggregates = await loadUsageAggregates(pool, plan, { customerId, lateEvents });
    const counters = {
      read: aggregates.reduce((sum, aggregate) => sum + aggregate.eventCount, 0),
      duplicates: 0,
      outside_period: 0,
    };
    return ratePeriod({
      customerId,
      period,
      contract: terms.contract,
      versions: terms.versions,
      aggregates,
      counters,
      credits: [],
      calculationVersion,
    });
  }

  /**
   * Late events of earlier periods whose invoice is final, billed on this invoice as adjustments
   * (claimed once, for good). Each corrected period is re-rated twice under the terms and
   * calculation its invoice recorded, without and with the late events this invoice claims: the
   * difference is the late usage's effect and nothing else (SPEC §5).
   */
  async function lateAdjustments(target: PeriodTarget, invoiceId: string): Promise<AdjustmentLine[]> {
    await claimLateEvents(pool, {
      customerId: target.customerId,
      beforePeriodStart: billingPeriod(target.period).start,
      adjustingInvoiceId: invoiceId,
    });
    const lines: AdjustmentLine[] = [];
    for (const claim of await lateEventClaims(pool, invoiceId)) {
      const corrected = await requireInvoice(claim.correctedInvoiceId);
      const terms = await termsOfSnapshot(await requireSnapshot(corrected.snapshotId), corrected);
      const period = billingPeriod(corrected.period);
      const rate = (lateEvents: UsageAggregateQueryOptions['lateEvents']) =>
        rateStoredEvents(target.customerId, period, terms, lateEvents, corrected.calculationVersion);
      lines.push(
        ...lateAdjustmentLines({
          corrected: {
            invoice_id: corrected.invoiceId,
            period: corrected.period,
            currency: corrected.document.currency,
          },
          before: await rate({ adjustedFor: corrected.invoiceId, excludingAdjusting: invoiceId }),
          after: await rate({ adjustedFor: corrected.invoiceId }),
          reason: `late usage: ${claim.eventCount} events of ${corrected.period} received after its invoice closed`,
        }),
      );
    }
    return lines;
  }

  /** What usage without a contract puts at stake: its volume, and its value under each published card that prices it. */
  async function usageAtStake(customerId: string, period: BillingPeriod): Promise<ReviewBreach> {
    const { rows } = await pool.query<{ sku: string; unit: string; events: string; quantity: string }>(
      `SELECT sku, unit, count(*)::text AS events, sum(quantity)::text AS quantity FROM usage_events
        WHERE customer_id = $1 AND event_time >= $2 AND event_time < $3 GROUP BY sku, unit ORDER BY sku, unit`,
      [customerId, period.start, period.end],
    );
    const events = rows.reduce((sum, row) => sum + Number.parseInt(row.events, 10), 0);
    const volume = rows.map((row) => `${formatDecimal(new Decimal(row.quantity))} ${row.unit} (${row.sku})`).join(', ');
    const values: string[] = [];
    for (const [ratecard, versions] of await deps.terms.allPublishedCards()) {
      const currency = versions[0]?.currency;
      if (currency === undefined) continue;
      const contract = ContractSchema.parse({ customer_id: customerId, ratecard, currency });
      const plan = usageAggregationPlan(versions, period);
      const aggregates = await loadUsageAggregates(pool, plan, { customerId });
      const invoice = ratePeriod({
        customerId,
        period,
        contract,
        versions,
        aggregates,
        counters: { read: events, duplicates: 0, outside_period: 0 },
        credits: [],
        calculationVersion: 'estimate',
      });
      const usage = sumDecimals(
        invoice.lines.filter((line) => line.kind === 'usage').map((line) => new Decimal(line.amount)),
      );
      if (!usage.isZero()) values.push(`${formatMoney(usage, currency)} ${currency} under ${ratecard}`);
    }
    return {
      rule: 'unknown_customer',
      detail: `${events} events, ${volume || 'no usage'} in ${period.name} and no published contract for ${customerId}; at stake: ${values.length > 0 ? values.join(', ') : 'no published rate card prices this usage'}`,
    };
  }

  return {
    /**
     * When the period closes: period end + grace (the input overrides the contract's grace). A
     * customer without a published contract closes at the default grace; its snapshot then stops
     * for a person.
     */
    async loadPeriodTerms(input: PeriodTarget & { graceMs: number | undefined }): Promise<{
      closesAt: string;
      currency: string | undefined;
      providerKind: ProviderTarget['kind'];
      known: boolean;
    }> {
      const periodEnd = Date.parse(billingPeriod(input.period).end);
      let terms: CustomerTerms;
      try {
        terms = await deps.terms.current(input.customerId);
      } catch (error) {
        if (!(error instanceof UnknownCustomerError || error instanceof UnpublishedRateCardError)) throw error;
        return {
          closesAt: new Date(periodEnd + (input.graceMs ?? DEFAULT_GRACE_MS)).toISOString(),
          currency: undefined,
          providerKind: 'ledger',
          known: false,
        };
      }
      return {
        closesAt: new Date(periodEnd + (input.graceMs ?? terms.graceMs)).toISOString(),
        currency: terms.contract.currency,
        providerKind: providerTarget(terms.contract, input.customerId).kind,
        known: true,
      };
    },

    /**
     * Step 1: close the period for ingest (live), then aggregate and fingerprint its exact event set
     * under the published terms, recording which. With `checks` (the current workflow), first: the
     * customer's earlier periods must be final (credits draw and expire in period order), the
     * terms must be published and match the rate-card files (else a person decides), and ingest
     * must have committed what the stream received before the cut-off (else the close waits).
     */
    async snapshotPeriod(
      input: PeriodTarget & { closeRequestedAt: string; checks?: boolean; ignoreIngestLag?: boolean },
    ): Promise<SnapshotOutcome> {
      const snapshotId = snapshotIdFor(input);
      const existing = await loadSnapshot(pool, snapshotId);
      if (existing !== undefined) {
        return {
          status: 'snapshotted',
          snapshotId,
          eventCutoff: existing.eventCutoff,
          eventCount: existing.eventCount,
          fingerprint: existing.eventFingerprint,
        };
      }
      const period = billingPeriod(input.period);
      const live = input.mode === 'live';
      if (input.checks === true && live) {
        await ensureCustomerPeriod(pool, input.customerId, input.period);
        const earlier = await earlierOpenPeriods(pool, input.customerId, input.period);
        if (earlier.length > 0) {
          return {
            status: 'waiting',
            reason: 'earlier_period',
            detail: `${input.customerId} ${earlier.join(', ')} ${earlier.length === 1 ? 'is' : 'are'} not final yet: periods issue and draw credits in order`,
          };
        }
      }
      let terms: CustomerTerms;
      try {
        terms = await deps.terms.current(input.customerId);
      } catch (error) {
        if (input.checks !== true) throw error;
        if (error instanceof UnknownCustomerError)
          return {
            status: 'exception',
            kind: 'unknown_customer',
            breaches: [await usageAtStake(input.customerId, period)],
          };
        if (error instanceof UnpublishedRateCardError)
          return {
            status: 'exception',
            kind: 'unpublished_ratecard',
            breaches: [{ rule: 'unpublished_ratecard', detail: error.message }],
          };
        throw error;
      }
      if (input.checks === true) {
        const problems = await unpublishedTermsProblems(deps.terms, terms, period);
        if (problems.length > 0) return { status: 'exception', kind: 'unpublished_ratecard', breaches: problems };
        if (live && deps.ingestWatermark !== undefined && input.ignoreIngestLag !== true) {
          const watermark = await deps.ingestWatermark();
          const behind = watermark.pending + watermark.ackPending > 0;
          if (behind && (watermark.committedBefore === null || watermark.committedBefore < input.closeRequestedAt)) {
            return {
              status: 'waiting',
              reason: 'ingest',
              detail: `ingest has committed what the stream received before ${watermark.committedBefore ?? 'an unknown time'} (${watermark.pending} messages not delivered, ${watermark.ackPending} in flight); the cut-off is ${input.closeRequestedAt}`,
            };
          }
        }
      }
      const closure = live
        ? await closePeriodForIngest(pool, input.customerId, input.period, input.closeRequestedAt)
        : input.closeRequestedAt;
      // A re-run rates what has arrived until it was asked: its cut-off is its own, not the closure's.
      const eventCutoff = input.rerun === undefined ? closure : input.closeRequestedAt;
      // One read of the period's rows gives the aggregates and the event set's count and fingerprint
      // (the events not late: those committed before the closure).
      // A correction to an open period takes effect at its close (SPEC §5): a customer with
      // corrections is read through the corrected event set, the others straight from the history.
      const corrected = await customerHasCorrections(pool, input.customerId);
      const table = corrected ? 'corrected_usage_events' : 'usage_events';
      // A re-run of a held period bills its late events (no invoice has): the ones it takes in are
      // recorded first, and rated with the rest; its draft claims them (rateDraftInvoice).
      if (live && input.rerun !== undefined)
        await takeInRerunLateEvents(pool, {
          snapshotId,
          customerId: input.customerId,
          periodStart: period.start,
          periodEnd: period.end,
          table,
        });
      const { aggregates, eventSet: summary } = await loadUsageAggregatesWithEventSet(
        pool,
        usageAggregationPlan(terms.versions, period),
        {
          customerId: input.customerId,
          lateEvents: live && input.rerun !== undefined ? { rerunSnapshot: snapshotId } : 'exclude',
          ...(corrected ? { table } : {}),
        },
      );
      // A regular activity reports progress; a local one (the current workflow) has no heartbeat.
      if (!Context.current().info.isLocal) Context.current().heartbeat('aggregated');
      const recorded = recordedTermsOf(terms);
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
        contractHash: recorded.contractHash,
        ratecardVersions: recorded.ratecardVersions,
      });
      return {
        status: 'snapshotted',
        snapshotId,
        eventCutoff: stored.eventCutoff,
        eventCount: stored.eventCount,
        fingerprint: stored.eventFingerprint,
      };
    },

    /**
     * Step 2: rate the whole period from the snapshot, under exactly the terms it recorded, with
     * credits at the ledger's opening balances, plus adjustments for late usage of earlier periods
     * (live). Stores the draft. `skip`: it is all zero and the contract wants no such invoice.
     */
    async rateDraftInvoice(
      input: PeriodTarget & { snapshotId: string },
    ): Promise<{ invoiceId: string; total: string; currency: string; skip: boolean }> {
      const invoiceId = invoiceIdFor(input);
      const current = await findInvoice(pool, invoiceId);
      if (current !== undefined && current.status !== 'draft') {
        return {
          invoiceId,
          total: current.document.total,
          currency: current.document.currency,
          skip: current.status === 'skipped',
        };
      }
      const snapshot = await requireSnapshot(input.snapshotId);
      const terms = await termsOfSnapshot(snapshot);
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
        // A re-run's own late events, rated in its usage lines: billed here, so never adjusted again.
        if (input.rerun !== undefined) await claimRerunLateEvents(pool, { snapshotId: input.snapshotId, invoiceId });
        document = appendLinesAfterCredits(document, await lateAdjustments(input, invoiceId));
        // Adjustments a backfill wrote for earlier periods: billed on the customer's next invoice, once.
        document = appendLinesAfterCredits(
          document,
          await claimBackfillAdjustments(pool, {
            customerId: input.customerId,
            beforePeriod: input.period,
            adjustingInvoiceId: invoiceId,
          }),
        );
      }
      const saved = await saveDraftInvoice(pool, {
        invoiceId,
        mode: input.mode,
        calculationVersion: input.calculationVersion,
        snapshotId: input.snapshotId,
        document,
      });
      const allZero =
        new Decimal(saved.document.total).isZero() &&
        saved.document.lines.every((line) => new Decimal(line.amount).isZero());
      return {
        invoiceId,
        total: saved.document.total,
        currency: saved.document.currency,
        skip: allZero && !terms.contract.invoice_when_zero,
      };
    },

    /** An all-zero draft the contract does not want issued: final, never numbered nor sent. */
    async skipInvoice(input: { invoiceId: string }): Promise<void> {
      const record = await requireInvoice(input.invoiceId);
      await withTransaction(pool, async (client) => {
        await markSkipped(client, input.invoiceId);
        await recordPeriodOutcome(client, record.customerId, record.period, 'skipped');
      });
    },

    /**
     * Cutover by cohort: which biller invoices this customer-period, decided once (the first answer is
     * recorded and every retry or replay reads it back), under the customer's authority lock so a flip
     * lands wholly before or after it. The customer's newest flip decides; with none, the contract the
     * period was rated under (`billing_authority`), else Tally. Where the legacy biller has authority
     * the draft ends `legacy` and the period's outcome with it (final, so later periods do not wait),
     * and the late usage the draft claimed goes back for the next invoice: nothing is numbered, drawn,
     * sent or journaled.
     */
    async settleBillingAuthority(input: {
      invoiceId: string;
    }): Promise<{ authority: BillingAuthority; decidedFrom: PeriodAuthority['decidedFrom'] }> {
      const record = await requireInvoice(input.invoiceId);
      if (record.mode !== 'live') throw new InvoiceMissingError(`invoice ${input.invoiceId} is not a live invoice`);
      const terms = await termsOfSnapshot(await requireSnapshot(record.snapshotId), record);
      const decided = await withTransaction(pool, async (client) => {
        await lockCustomerAuthority(client, record.customerId);
        const standing =
          (await findPeriodAuthority(client, record.customerId, record.period)) ??
          (await recordPeriodAuthority(client, {
            customerId: record.customerId,
            period: record.period,
            invoiceId: record.invoiceId,
            ...authorityInForce(await latestAuthorityFlip(client, record.customerId), terms.contract.billing_authority),
          }));
        if (standing.authority === 'legacy') {
          await markLeftToLegacy(client, record.invoiceId);
          await recordPeriodOutcome(client, record.customerId, record.period, 'legacy');
        }
        return standing;
      });
      if (decided.authority === 'legacy') {
        await releaseLateEventClaims(pool, record.invoiceId);
        await releaseBackfillAdjustments(pool, record.invoiceId);
      }
      return { authority: decided.authority, decidedFrom: decided.decidedFrom };
    },

    /** Step 3: record the draft's credit draws in the ledger, keyed by (invoice, credit): a retry draws once. */
    async drawDownCredits(input: { invoiceId: string }): Promise<{ draws: number }> {
      const record = await requireInvoice(input.invoiceId);
      if (record.status === 'held') return { draws: 0 };
      const movements = creditMovementsFromInvoice({
        ...record.document,
        invoice_id: record.invoiceId,
      } as IssuedInvoice);
      const result = await recordCreditConsumptions(pool, movements);
      return { draws: result.recorded + result.existing };
    },

    /** Step 4a: the thresholds the draft crosses, under the contract it was rated with. */
    async evaluateReview(input: { invoiceId: string }): Promise<ReviewBreach[]> {
      const record = await requireInvoice(input.invoiceId);
      const terms = await termsOfSnapshot(await requireSnapshot(record.snapshotId), record);
      const previous = await previousIssuedInvoices(pool, record.customerId, record.period, 1);
      const document = record.document;
      const review = terms.contract.review;
      return evaluateReviewPolicy(
        {
          total: document.total,
          currency: document.currency,
          previousTotal: previous[0]?.document.total,
          unpricedEventCount: document.unpriced
            .filter((unpriced) => !isProductSignal(deps.productSignals, unpriced.sku, unpriced.unit))
            .reduce((sum, unpriced) => sum + unpriced.event_count, 0),
          adjustmentLines: document.lines.filter((line) => line.kind === 'adjustment').map((line) => line.amount),
        },
        {
          ...(review?.total_above === undefined ? {} : { totalAbove: review.total_above }),
          ...(review?.change_pct_above === undefined ? {} : { changePctAbove: review.change_pct_above }),
          ...(review?.adjustment_above === undefined ? {} : { adjustmentAbove: review.adjustment_above }),
        },
      );
    },

    /**
     * Step 4b: an exception with everything a reviewer needs: usage, contract, draft, previous invoices,
     * prior decisions. Raised before a draft exists (unknown customer, unpublished rate card, a failed
     * snapshot) it names no invoice.
     */
    async openException(input: {
      customerId: string;
      period: string;
      invoiceId?: string | undefined;
      workflowId: string;
      kind: CloseExceptionKind;
      sequence: number;
      breaches: readonly ReviewBreach[];
      /** A re-run's exceptions are its own (the first close's keep their ids). */
      rerun?: number;
    }): Promise<{ exceptionId: string; reviewTimeoutMs: number; dualControlAbove?: string }> {
      const record = input.invoiceId === undefined ? undefined : await findInvoice(pool, input.invoiceId);
      const terms = await deps.terms.current(input.customerId).catch((error: unknown) => {
        if (error instanceof TallyError && error.permanent) return undefined;
        throw error;
      });
      const exceptionId = `exc:${liveInvoiceId(input.customerId, input.period, input.rerun)}:${input.kind}:${input.sequence}`;
      const previous = await previousIssuedInvoices(pool, input.customerId, input.period, 3);
      const prior = await priorDecisions(pool, input.customerId, exceptionId);
      await openReviewException(pool, {
        exceptionId,
        invoiceId: record?.invoiceId ?? null,
        customerId: input.customerId,
        period: input.period,
        kind: input.kind,
        breaches: input.breaches,
        workflowId: input.workflowId,
        context: {
          ...(record === undefined
            ? {}
            : { draft: record.document, usage: record.document.lines.filter((line) => line.kind === 'usage') }),
          ...(terms === undefined ? {} : { contract: terms.contract }),
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
      const dualControlAbove = input.kind === 'threshold' ? terms?.contract.review?.dual_control_above : undefined;
      return {
        exceptionId,
        reviewTimeoutMs: terms?.reviewTimeoutMs ?? 72 * 3_600_000,
        ...(dualControlAbove === undefined ? {} : { dualControlAbove }),
      };
    },

    /**
     * Records a decision if none stands yet and returns the one that stands (this one, or an earlier
     * one the database holds): the workflow adopts it, so the two always agree.
     */
    async recordDecision(input: {
      exceptionId: string;
      decision: ReviewDecision;
      decidedAt?: string;
    }): Promise<{ decision: ReviewDecision; decidedAt: string }> {
      const recorded = await recordReviewDecision(
        pool,
        input.exceptionId,
        input.decision,
        input.decidedAt ?? new Date().toISOString(),
      );
      return { decision: recorded.decision, decidedAt: recorded.decidedAt };
    },

    /**
     * Dual control, first reviewer: records the adjust as the exception's proposal and returns the
     * proposal that stands (this one, or one recorded before a crash).
     */
    async proposeDecision(input: {
      exceptionId: string;
      decision: Extract<ReviewDecision, { kind: 'adjust' }>;
      proposedAt: string;
    }): Promise<{ decision: Extract<ReviewDecision, { kind: 'adjust' }>; proposedAt: string }> {
      const recorded = await recordReviewProposal(pool, input.exceptionId, input.decision, input.proposedAt);
      return {
        decision: recorded.decision,
        proposedAt: recorded.proposedAt,
      };
    },

    /** What an exception waited for happened by itself (a contract published, ingest caught up). */
    async resolveException(input: { exceptionId: string; detail: string }): Promise<void> {
      await resolveReviewException(pool, input.exceptionId, input.detail);
    },

    /** The review timed out: flag it and notify, never approve. */
    async escalateException(input: { exceptionId: string; waitedMs: number }): Promise<void> {
      const exception = await findReviewException(pool, input.exceptionId);
      if (exception === undefined) throw new InvoiceMissingError(`exception ${input.exceptionId} does not exist`);
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
      confirmedBy?: string;
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
          reason: `${input.reason} (review ${input.exceptionId} by ${input.reviewer}${input.confirmedBy === undefined ? '' : `, confirmed by ${input.confirmedBy}`})`,
          amount: formatMoney(new Decimal(input.amount), record.document.currency),
        };
        await replaceDraftDocument(client, input.invoiceId, appendLinesAfterCredits(record.document, [line]));
      });
    },

    /**
     * Re-run, first step: void the held draft (kept for the audit trail), open the period again and
     * record the re-run and its audit entry, in one transaction. Done once: a retried or replayed
     * step finds the re-run recorded and changes nothing. A period that is not held is refused.
     */
    async startPeriodRerun(input: {
      customerId: string;
      period: string;
      rerun: PeriodRerun;
      workflowId: string;
    }): Promise<{ voidedInvoiceId: string | undefined; recorded: boolean }> {
      const { customerId, period, rerun } = input;
      return withTransaction(pool, async (client) => {
        // One re-run start of a customer-period at a time (a period held before its draft has no row to lock).
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
          ADVISORY_LOCKS.PERIOD_RERUN,
          `${customerId}:${period}`,
        ]);
        const already = await findPeriodRerun(client, customerId, period, rerun.number);
        if (already !== undefined) return { voidedInvoiceId: already.voidedInvoiceId, recorded: false };
        const current = await currentLiveInvoice(client, customerId, period);
        const held = current?.status === 'held' ? current : undefined;
        if (current !== undefined && held === undefined)
          throw new PeriodNotHeldError(
            `${customerId} ${period} is not held: its invoice ${current.invoiceId} is ${current.status}`,
          );
        if (held === undefined && (await periodOutcome(client, customerId, period)) !== 'held')
          throw new PeriodNotHeldError(`${customerId} ${period} is not held: there is nothing to re-run`);
        if (held?.invoiceId !== rerun.heldInvoiceId)
          throw new PeriodNotHeldError(
            `${customerId} ${period}: the held draft is ${held?.invoiceId ?? 'none'}, not ${rerun.heldInvoiceId ?? 'none'} (another re-run came first)`,
          );
        const rerunInvoiceId = liveInvoiceId(customerId, period, rerun.number);
        if (held !== undefined) await markVoided(client, held.invoiceId);
        await reopenHeldPeriod(client, customerId, period);
        await recordPeriodRerun(client, {
          customerId,
          period,
          rerunNumber: rerun.number,
          workflowId: input.workflowId,
          voidedInvoiceId: held?.invoiceId,
          rerunInvoiceId,
          reason: rerun.reason,
          requestedBy: rerun.requestedBy,
        });
        await appendAuditEntry(client, {
          actor: { kind: 'process', name: `cli:${rerun.requestedBy}` },
          action: 'period_rerun',
          subject: `period:${customerId}:${period}`,
          details: {
            reason: rerun.reason,
            rerun: rerun.number,
            workflow_id: input.workflowId,
            voided_invoice_id: held?.invoiceId ?? 'none (held before a draft)',
            held_reason: held?.heldReason ?? 'none',
            voided_total: held === undefined ? 'none' : `${held.document.total} ${held.document.currency}`,
            rerun_invoice_id: rerunInvoiceId,
          },
        });
        return { voidedInvoiceId: held?.invoiceId, recorded: true };
      });
    },

    /**
     * Rejected in review: the period is held. With a draft, the draft is held (nothing synced) and the
     * late events it claimed go back to the queue; without one, the period's outcome says so.
     */
    async holdInvoice(input: {
      invoiceId: string;
      exceptionId: string;
      reason: string;
      customerId?: string;
      period?: string;
    }): Promise<void> {
      const record = await findInvoice(pool, input.invoiceId);
      await withTransaction(pool, async (client) => {
        if (record !== undefined) await markHeld(client, input.invoiceId, `${input.reason} (${input.exceptionId})`);
        const customerId = record?.customerId ?? input.customerId;
        const period = record?.period ?? input.period;
        if (customerId !== undefined && period !== undefined && record?.mode !== 'shadow')
          await recordPeriodOutcome(client, customerId, period, 'held');
      });
      if (record !== undefined) {
        await releaseLateEventClaims(pool, input.invoiceId);
        await releaseBackfillAdjustments(pool, input.invoiceId);
      }
    },

    /** Step 5: issue: numbered, immutable, with its cut-off and event fingerprint. */
    async issueInvoice(input: { invoiceId: string }): Promise<{ invoiceNumber: string; total: string }> {
      return withTransaction(pool, async (client) => {
        const record = await lockInvoice(client, input.invoiceId);
        if (record.status === 'issued')
          return { invoiceNumber: record.invoiceNumber ?? '', total: record.document.total };
        if (record.status !== 'draft')
          throw new InvoiceMissingError(`invoice ${input.invoiceId} is ${record.status}, not a draft to issue`);
        const snapshot = await requireSnapshot(record.snapshotId);
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
        await recordPeriodOutcome(client, record.customerId, record.period, 'issued');
        return { invoiceNumber, total: issued.total };
      });
    },

    /** Step 6: the provider named by the contract the invoice was rated with, with exactly-once effect. */
    async syncInvoice(input: { invoiceId: string }): Promise<{ externalInvoiceId: string }> {
      const record = await requireInvoice(input.invoiceId);
      if (record.status !== 'issued') throw new InvoiceMissingError(`invoice ${input.invoiceId} is not issued`);
      const { contract } = await termsOfSnapshot(await requireSnapshot(record.snapshotId), record);
      const target = providerTarget(contract, record.customerId);
      const result = await deps.providers.forTarget(target).syncInvoice(record.document, target);
      return { externalInvoiceId: result.external_invoice_id };
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
      if (record.status !== 'issued') throw new InvoiceMissingError(`invoice ${input.invoiceId} is not issued`);
      const { contract } = await termsOfSnapshot(await requireSnapshot(record.snapshotId), record);
      const result = await postInvoiceJournal(pool, {
        invoice: record.document,
        // The commit the invoice was rated against: prorated when the contract covers part of the period.
        policy: {
          commitPolicy: contract.revenue.commit_policy,
          commitAmount: commitDueForPeriod(record.document.lines, contract.commit?.amount),
        },
      });
      // Up to the end of the customer's latest issued period: a re-run of a held period issues after
      // later ones, whose draws are recorded (credits usable in a held period are never expired).
      const latest = await lastIssuedPeriod(pool, record.customerId);
      const asOfPeriod = latest !== undefined && latest > record.period ? latest : record.period;
      await recordCreditExpiries(pool, { asOf: billingPeriod(asOfPeriod).end, customerId: record.customerId });
      return { posted: result.posted.length, alreadyPosted: result.alreadyPosted.length };
    },
  };
}

export type BillingActivities = ReturnType<typeof createBillingActivities>;

/**
 * What keeps a period from being billed under its published terms (SPEC §2): a rate-card version
 * that would be in force in the period exists on the worker's disk but was never published, or was
 * edited after publication, or the period starts before the card's first published version.
 */
async function unpublishedTermsProblems(
  source: TermsSource,
  terms: CustomerTerms,
  period: BillingPeriod,
): Promise<ReviewBreach[]> {
  const problems: ReviewBreach[] = (await source.fileDrift(terms.contract.ratecard, period.start, period.end)).map(
    (drift) => ({ rule: 'unpublished_ratecard', detail: drift.detail }),
  );
  // The first instant the contract bills in this period needs a published version in force.
  const billedFrom = [period.start, terms.contract.starts_at ?? period.start].sort().at(-1) ?? period.start;
  const first = terms.versions[0];
  if (first !== undefined && Date.parse(first.effective_from) > Date.parse(billedFrom)) {
    problems.push({
      rule: 'unpublished_ratecard',
      detail: `rate card ${terms.contract.ratecard} has no published version in force on ${billedFrom} (its first is in force from ${first.effective_from})`,
    });
  }
  return problems;
}

/**
 * Where a contract's issued invoices go: a contract with `marketplace:` is billed by that marketplace
 * (recorded as such, never sent to a provider); otherwise its provider, the ledger sink by default.
 */
function providerTarget(contract: Contract, customerId: string): ProviderTarget {
  const marketplace = contract.marketplace;
  if (marketplace !== undefined) {
    const customer =
      marketplace.kind === 'aws'
        ? marketplace.customer_account
        : marketplace.kind === 'azure'
          ? marketplace.resource_id
          : marketplace.consumer_id;
    return { kind: 'marketplace', marketplace: marketplace.kind, customer };
  }
  if (contract.provider?.kind === 'stripe') return { kind: 'stripe', customer: contract.provider.customer };
  return { kind: 'ledger', customer: contract.provider?.customer ?? customerId };
}

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
