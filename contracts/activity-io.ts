import { z } from 'zod';
import { RateCardVersionRefSchema } from './invoice.ts';
import { DECIMAL_PATTERN } from './patterns.ts';
import { PeriodName } from './period-name.ts';
import { AdjustDecisionSchema, ReviewDecisionSchema } from './review-decision.ts';
import { CLOSE_EXCEPTION_KINDS } from './review-exception.ts';

/**
 * What every Temporal activity Tally registers takes and gives back: the arguments and the result
 * cross Temporal's history (JSON, replayed months later), so they are contracts like a stored row.
 * The worker's activity interceptor (activities/activity-contracts.ts) checks the arguments before
 * the activity runs and the result after; a worker refuses to start with an activity that has no
 * entry here. A type test (contracts/activity-io.test.ts) keep each schema's type and
 * the activity's own signature from drifting apart.
 *
 * Inputs are tuples of the activity's arguments (every activity takes one object, or none). The
 * check validates and never rewrites: the activity receives the arguments as sent.
 */

const amount = z.string().regex(DECIMAL_PATTERN, 'a decimal string such as "-12.40"');
const count = z.number().int().nonnegative();
const id = z.string().min(1, 'a non-empty id');
const instant = z.iso.datetime({ offset: true, error: 'an ISO 8601 instant such as 2026-10-01T00:00:00.000Z' });
const day = z.iso.date({ error: 'a UTC day YYYY-MM-DD' });
const text = z.string();
/** Money in several currencies, never added together: ISO 4217 code → decimal string. */
const amountsByCurrency = z.record(z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code'), amount);
const nothing = z.undefined();
const none = z.tuple([]);
/**
 * A key the TypeScript type always has, possibly undefined. JSON drops an undefined property on the
 * way through Temporal, so the check must accept the key missing (`optional`); its type stays the
 * activity's (`T | undefined`, key required) so the type test compares like with like.
 */
const orUndefined = <T extends z.ZodType>(schema: T) => schema.optional() as unknown as z.ZodUnion<[T, z.ZodUndefined]>;
/** A one-argument activity. */
const one = <T extends z.ZodType>(schema: T) => z.tuple([schema]);

const RunMode = z.enum(['live', 'shadow']);
const MarketplaceKind = z.enum(['aws', 'azure', 'gcp']);

/** Which customer-period a step of the close works on (activities/billing-activities.ts). */
const PeriodTarget = z.object({
  customerId: id,
  period: PeriodName,
  mode: RunMode,
  calculationVersion: id,
  shadowRunId: id.optional(),
  rerun: z.number().int().positive().optional(),
});

/** A review threshold crossed, or a condition the close cannot get past alone (domain/review.ts). */
const ReviewBreach = z.object({ rule: text, detail: text });

const PeriodRerun = z.object({
  number: z.number().int().positive(),
  heldInvoiceId: id.optional(),
  reason: text,
  requestedBy: text,
});

const SnapshotOutcome = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('snapshotted'),
    snapshotId: id,
    eventCutoff: text,
    eventCount: count,
    fingerprint: text,
  }),
  z.object({ status: z.literal('waiting'), reason: z.enum(['earlier_period', 'ingest']), detail: text }),
  z.object({
    status: z.literal('exception'),
    kind: z.enum(['unknown_customer', 'unpublished_ratecard']),
    breaches: z.array(ReviewBreach).readonly(),
  }),
]);

const billing = {
  loadPeriodTerms: {
    input: one(PeriodTarget.extend({ graceMs: orUndefined(z.number().int().nonnegative()) })),
    output: z.object({
      closesAt: instant,
      currency: orUndefined(text),
      providerKind: z.enum(['stripe', 'ledger', 'marketplace']),
      known: z.boolean(),
    }),
  },
  snapshotPeriod: {
    input: one(
      PeriodTarget.extend({
        closeRequestedAt: instant,
        checks: z.boolean().optional(),
        ignoreIngestLag: z.boolean().optional(),
      }),
    ),
    output: SnapshotOutcome,
  },
  rateDraftInvoice: {
    input: one(PeriodTarget.extend({ snapshotId: id })),
    output: z.object({ invoiceId: id, total: amount, currency: text, skip: z.boolean() }),
  },
  skipInvoice: { input: one(z.object({ invoiceId: id })), output: nothing },
  settleBillingAuthority: {
    input: one(z.object({ invoiceId: id })),
    output: z.object({
      authority: z.enum(['legacy', 'tally']),
      decidedFrom: z.enum(['default', 'flip', 'contract']),
    }),
  },
  drawDownCredits: { input: one(z.object({ invoiceId: id })), output: z.object({ draws: count }) },
  evaluateReview: { input: one(z.object({ invoiceId: id })), output: z.array(ReviewBreach) },
  openException: {
    input: one(
      z.object({
        customerId: id,
        period: PeriodName,
        invoiceId: id.optional(),
        workflowId: id,
        kind: z.enum(CLOSE_EXCEPTION_KINDS),
        sequence: count,
        breaches: z.array(ReviewBreach).readonly(),
        rerun: z.number().int().positive().optional(),
      }),
    ),
    output: z.object({
      exceptionId: id,
      reviewTimeoutMs: count,
      dualControlAbove: amount.optional(),
    }),
  },
  recordDecision: {
    input: one(z.object({ exceptionId: id, decision: ReviewDecisionSchema, decidedAt: instant.optional() })),
    output: z.object({ decision: ReviewDecisionSchema, decidedAt: instant }),
  },
  proposeDecision: {
    input: one(z.object({ exceptionId: id, decision: AdjustDecisionSchema, proposedAt: instant })),
    output: z.object({ decision: AdjustDecisionSchema, proposedAt: instant }),
  },
  resolveException: { input: one(z.object({ exceptionId: id, detail: text })), output: nothing },
  escalateException: { input: one(z.object({ exceptionId: id, waitedMs: count })), output: nothing },
  applyReviewAdjustment: {
    input: one(
      z.object({
        invoiceId: id,
        exceptionId: id,
        amount,
        reason: text,
        reviewer: text,
        confirmedBy: text.optional(),
      }),
    ),
    output: nothing,
  },
  startPeriodRerun: {
    input: one(z.object({ customerId: id, period: PeriodName, rerun: PeriodRerun, workflowId: id })),
    output: z.object({ voidedInvoiceId: orUndefined(id), recorded: z.boolean() }),
  },
  holdInvoice: {
    input: one(
      z.object({
        invoiceId: id,
        exceptionId: id,
        reason: text,
        customerId: id.optional(),
        period: PeriodName.optional(),
      }),
    ),
    output: nothing,
  },
  issueInvoice: {
    input: one(z.object({ invoiceId: id })),
    output: z.object({ invoiceNumber: id, total: amount }),
  },
  syncInvoice: { input: one(z.object({ invoiceId: id })), output: z.object({ externalInvoiceId: id }) },
  markSyncAbandoned: {
    input: one(z.object({ invoiceId: id, exceptionId: id, reason: text })),
    output: nothing,
  },
  postJournal: {
    input: one(z.object({ invoiceId: id })),
    output: z.object({ posted: count, alreadyPosted: count }),
  },
};

const CorrectionRef = z.object({
  correctionSeq: text,
  action: z.enum(['void', 'replace']),
  source: text,
  eventId: text,
});
const BackfillCause = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ratecard_versions'), billed: z.array(text).readonly(), now: z.array(text).readonly() }),
  z.object({ kind: z.literal('contract'), billed: orUndefined(text), now: orUndefined(text) }),
  z.object({ kind: z.literal('calculation_version'), billed: text, now: text }),
  z.object({ kind: z.literal('late_events'), count }),
  z.object({ kind: z.literal('corrections'), corrections: z.array(CorrectionRef).readonly() }),
]);
const LineAmounts = z.record(z.string(), amount);
const BackfillPlan = z.object({
  planId: id,
  from: PeriodName,
  to: PeriodName,
  customers: orUndefined(z.array(id).readonly()),
  calculationVersion: id,
  reason: text,
  createdBy: text,
  createdAt: instant,
  inputs: z.object({
    terms: z.record(
      z.string(),
      z.object({ contractHash: text, ratecardVersions: z.array(RateCardVersionRefSchema).readonly() }),
    ),
    lastCorrectionSeq: text,
    lateEventCount: count,
  }),
  inputsFingerprint: text,
  issuedTotals: amountsByCurrency,
  reratedTotals: amountsByCurrency,
  adjustmentTotals: amountsByCurrency,
  items: z
    .array(
      z.object({
        customerId: id,
        period: PeriodName,
        correctedInvoiceId: id,
        currency: text,
        issuedTotal: amount,
        billed: LineAmounts,
        rerated: LineAmounts,
        reratedTotal: amount,
        adjustmentTotal: amount,
        causes: z.array(BackfillCause).readonly(),
        lateEvents: z.array(z.object({ source: text, eventId: text })).readonly(),
        eventFingerprint: text,
      }),
    )
    .readonly(),
});

/** A customer-period of a backfill plan, as a paged run's cursor names it. */
const BackfillItemKey = z.object({ customerId: id, period: PeriodName });

const backfill = {
  planBackfill: {
    input: one(
      z.object({
        from: PeriodName,
        to: PeriodName,
        customers: z.array(id).readonly().optional(),
        calculationVersion: id.optional(),
        reason: text,
        createdBy: text,
        now: instant,
        concurrency: z.number().int().positive().optional(),
      }),
    ),
    output: BackfillPlan,
  },
  startBackfillRun: {
    input: one(z.object({ backfillId: id, planId: id, startedBy: text })),
    output: z.discriminatedUnion('status', [
      z.object({
        status: z.literal('ready'),
        reason: text,
        items: z.array(z.object({ customerId: id, period: PeriodName, currency: text })),
      }),
      z.object({ status: z.literal('refused'), reasons: z.array(text) }),
    ]),
  },
  startPagedBackfillRun: {
    input: one(z.object({ backfillId: id, planId: id, startedBy: text })),
    output: z.discriminatedUnion('status', [
      z.object({ status: z.literal('ready'), reason: text, total: count }),
      z.object({ status: z.literal('refused'), reasons: z.array(text) }),
    ]),
  },
  listBackfillItemPage: {
    input: one(
      z.object({ planId: id, after: BackfillItemKey.nullable(), limit: z.number().int().positive().max(10_000) }),
    ),
    output: z.object({
      items: z.array(z.object({ customerId: id, period: PeriodName, currency: text })),
      next: BackfillItemKey.nullable(),
    }),
  },
  applyBackfillItem: {
    input: one(z.object({ backfillId: id, planId: id, customerId: id, period: PeriodName, reason: text })),
    output: z.object({ outcome: z.enum(['adjusted', 'unchanged']), adjustmentTotal: amount }),
  },
  finishBackfillRun: {
    input: one(
      z.object({
        backfillId: id,
        status: z.enum(['completed', 'cancelled']),
        failures: z.array(z.object({ customerId: id, period: PeriodName, error: text })).readonly(),
        total: count,
        failed: count.optional(),
      }),
    ),
    output: z.object({ done: count, adjusted: count, adjustmentTotals: amountsByCurrency }),
  },
};

const shadowRun = {
  planShadowRun: {
    input: one(
      z.object({
        runId: id,
        source: text,
        period: PeriodName,
        calculationVersion: id,
        customers: z.array(id).readonly().optional(),
      }),
    ),
    output: z.object({
      runId: id,
      legacyImportId: orUndefined(id),
      rated: z.array(id).readonly(),
      legacyOnly: z.array(id).readonly(),
    }),
  },
  planPagedShadowRun: {
    input: one(
      z.object({
        runId: id,
        source: text,
        period: PeriodName,
        calculationVersion: id,
        customers: z.array(id).readonly().optional(),
      }),
    ),
    output: z.object({ runId: id, legacyImportId: orUndefined(id), rated: count, legacyOnly: count }),
  },
  listShadowRunCustomerPage: {
    input: one(
      z.object({
        runId: id,
        ratedOnly: z.boolean(),
        after: id.nullable(),
        limit: z.number().int().positive().max(10_000),
      }),
    ),
    output: z.object({ customerIds: z.array(id), next: id.nullable() }),
  },
  compareShadowCustomers: {
    input: one(
      z.object({
        runId: id,
        period: PeriodName,
        calculationVersion: id,
        legacyImportId: orUndefined(id),
        customerIds: z.array(id).readonly(),
        workflowId: id.optional(),
      }),
    ),
    output: z.object({
      compared: count,
      exceptions: count,
      matches: count,
      openExceptions: z.array(z.object({ exceptionId: id, customerId: id })).optional(),
    }),
  },
  completeShadowRun: { input: one(z.object({ runId: id })), output: nothing },
  recordShadowDecision: {
    input: one(
      z.object({ runId: id, customerId: id, exceptionId: id, decision: ReviewDecisionSchema, decidedAt: instant }),
    ),
    output: z.object({ decision: ReviewDecisionSchema, decidedAt: instant }),
  },
};

const marketplace = {
  sealMarketplaceHours: {
    input: one(z.object({ asOf: instant })),
    output: z.object({
      // `buckets` (a dry run's list for `tally marketplace export`) is not part of the workflow's result.
      customers: z
        .array(
          z.object({
            customerId: id,
            sealed: count,
            through: orUndefined(instant),
            overReportExceptionIds: z.array(id).readonly(),
            note: text.optional(),
          }),
        )
        .readonly(),
      sealed: count,
      overReportExceptionIds: z.array(id).readonly(),
      problems: z.array(text).readonly(),
    }),
  },
  sendMarketplaceRecords: {
    input: one(z.object({ asOf: instant, marketplace: MarketplaceKind })),
    output: z.object({
      marketplace: MarketplaceKind,
      status: z.enum(['sent', 'not_configured', 'busy']),
      calls: count,
      accepted: count,
      duplicate: count,
      rejected: count,
      expired: count,
      unknown: count,
      pending: count,
      exceptionIds: z.array(id).readonly(),
    }),
  },
  checkMarketplaceWindows: {
    input: one(z.object({ asOf: instant })),
    output: z.object({ atRisk: count, exceptionIds: z.array(id) }),
  },
  startMarketplaceExceptionWorkflows: { input: none, output: z.object({ started: count }) },
};

const anomaly = {
  detectDayAnomalies: {
    input: one(z.object({ day })),
    output: z.object({
      day,
      series: count,
      anomalies: count,
      recorded: count,
      routed: count,
      suppressed: count,
    }),
  },
  deliverAnomalyAlerts: {
    input: none,
    output: z.object({ delivered: count, refused: count, pending: count }),
  },
};

/** A customer-period's month-end accrual, its true-up, or why none (revenue/month-end-accrual.ts). */
const AccrualOutcome = z.discriminatedUnion('status', [
  z.object({
    status: z.enum(['accrued', 'trued_up', 'unchanged']),
    customerId: id,
    period: PeriodName,
    entryKey: id.nullable(),
    reversalKey: id.nullable(),
    accrualPosition: amount,
    currency: text,
  }),
  z.object({ status: z.literal('not_due'), customerId: id, period: PeriodName, dueAt: text }),
  z.object({ status: z.literal('settled'), customerId: id, period: PeriodName, invoiceId: id }),
  z.object({ status: z.literal('period_locked'), customerId: id, period: PeriodName }),
  z.object({ status: z.literal('not_active'), customerId: id, period: PeriodName }),
  z.object({ status: z.literal('not_recognized'), customerId: id, period: PeriodName }),
]);
const Accruals = z.array(AccrualOutcome).readonly().optional();

const revenue = {
  listRecognitionCustomers: {
    input: one(z.object({ day })),
    output: z.object({ customerIds: z.array(id), problems: z.array(text) }),
  },
  listRecognitionCustomerPage: {
    input: one(z.object({ day, after: id.nullable(), limit: z.number().int().positive().max(10_000) })),
    output: z.object({ customerIds: z.array(id), problems: z.array(text), next: id.nullable() }),
  },
  reconcileRecentPeriods: {
    input: one(z.object({ day })),
    output: z.array(z.object({ period: PeriodName, differences: count })),
  },
  recognizeCustomerDay: {
    input: one(z.object({ customerId: id, day })),
    // The day's outcome, with the month-end accruals (or true-ups) the day owes (revenue/month-end-accrual.ts).
    output: z.discriminatedUnion('status', [
      z.object({
        status: z.literal('recognized'),
        customerId: id,
        day,
        entryKey: id.nullable(),
        postingPeriod: PeriodName,
        usageRevenue: amount,
        currency: text,
        accruals: Accruals,
      }),
      z.object({ status: z.literal('already_recognized'), customerId: id, day, lastDay: day, accruals: Accruals }),
      z.object({ status: z.literal('settled'), customerId: id, day, invoiceId: id, accruals: Accruals }),
      z.object({ status: z.literal('accrued'), customerId: id, day, accruedAt: text, accruals: Accruals }),
      z.object({ status: z.literal('not_active'), customerId: id, day, accruals: Accruals }),
    ]),
  },
};

/** One activity's contract: its argument tuple and its result. */
export interface ActivityContract {
  readonly input: z.ZodTuple;
  readonly output: z.ZodType;
}

/** Every registered activity's contract, by activity name (Temporal's activity type). */
export const ACTIVITY_CONTRACTS = {
  ...billing,
  ...backfill,
  ...shadowRun,
  ...marketplace,
  ...anomaly,
  ...revenue,
} satisfies Readonly<Record<string, ActivityContract>>;

export type ActivityName = keyof typeof ACTIVITY_CONTRACTS;

export function activityContract(name: string): ActivityContract | undefined {
  return Object.hasOwn(ACTIVITY_CONTRACTS, name) ? ACTIVITY_CONTRACTS[name as ActivityName] : undefined;
}

/** Where a value breaks its contract: the first field (a dotted path, `(value)` for the whole) and its rule. */
export interface ContractProblem {
  readonly field: string;
  readonly rule: string;
}

/**
 * The first problem of a value against its contract, or undefined when it conforms. `dropIndex`
 * leaves out the argument's position of a one-argument input (`invoiceId`, not `0.invoiceId`).
 */
export function contractProblem(schema: z.ZodType, value: unknown, dropIndex = false): ContractProblem | undefined {
  const result = schema.safeParse(value);
  if (result.success) return undefined;
  const issue = result.error.issues[0];
  if (issue === undefined) return { field: '(value)', rule: 'does not conform' };
  const path = dropIndex && issue.path.length > 1 ? issue.path.slice(1) : issue.path;
  return { field: path.length === 0 ? '(value)' : path.map(String).join('.'), rule: issue.message };
}
